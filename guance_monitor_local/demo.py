"""``guance-monitor demo``: the bundled inspections against the sandbox, run by run.

For each check it deploys the script set's ``example`` startup script the way
the script market does (placeholders filled with the sandbox's URL and keys),
then, for every run time of the scenario, freezes the clock at that time and
runs the startup scripts through the local Func runtime (``now=``: the scenario
moved to the present first). It writes (row formats: ``sandbox.journal``):

- ``DIR/events.jsonl``: one object per event Guance received
  (``run``, ``check``, ``title``, ``status``, ``dimension_tags``, ``message``);
- ``DIR/events/NNN-<check>-<status>.md``: each event's report;
- ``DIR/calls.jsonl``: one line per request the sandbox served
  (``service``, ``action``, ``status``, ``region``, ``run``);
- ``DIR/task.log``: what the scripts printed (Func's task log);
- ``DIR/state/``: the runtime's state between runs (``DFF.CACHE``), made afresh.
"""
import io
import os
import shutil
import sys

from guance_monitor import clock
from guance_monitor_local import func_runtime
from guance_monitor_local import market
from guance_monitor_local import scenario as scenarios
from guance_monitor_local.sandbox import Sandbox
from guance_monitor_local.sandbox import journal as journals

BUNDLED_SCENARIO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "demo.json")
CHECKS = {
    "spot-alive": "guance_monitor_spot_alive",
    "k8s-pod-restart": "guance_monitor_k8s_pod_restart",
}
STATUS_ORDER = ("critical", "error", "warning", "info", "ok")


class DemoError(Exception):
    pass


def sandbox_values(sandbox):
    """What a user would type into Func's deploy form, pointed at the sandbox."""
    settings = sandbox.scenario.sandbox
    return {
        "Guance API Key ID": settings["guance_api_key_id"],
        "Guance API Key": settings["guance_api_key"],
        "Guance Node": sandbox.url,
        "Aliyun AccessKey ID": settings["aliyun_access_key_id"],
        "Aliyun AccessKey Secret": settings["aliyun_access_key_secret"],
        "Aliyun Endpoint": sandbox.url,
    }


def startup_scripts(checks, values, library=None):
    """script id -> (source, filename) of each check's startup script, deployed with ``values``
    from the check's ``example`` in ``library`` (default: this package)."""
    library = library or func_runtime.PackageLibrary()
    scripts = {}
    for check in checks:
        set_id = CHECKS[check]
        example_id = set_id + "__example"
        if not library.has(example_id):
            raise DemoError("script set %s has no example startup script" % set_id)
        source = market.deploy(library.source(example_id), values)
        scripts["startup__" + set_id] = (source, "<startup__%s (deployed from %s)>" % (set_id, example_id))
    return scripts


def deployed_runtime(checks, values, state_dir, echo=None, library=None, env=None):
    """A local Func runtime holding each check's startup script, deployed from ``library`` with ``values``."""
    base = library or func_runtime.PackageLibrary()
    scripts = func_runtime.OverlayLibrary(base, startup_scripts(checks, values, base))
    return func_runtime.FuncRuntime(library=scripts, state_dir=state_dir, echo=echo, env=env)


def known_checks(checks=None):
    """``checks`` (default: all), each one of ours; DemoError with a did-you-mean otherwise."""
    for check in checks or ():
        if check not in CHECKS:
            raise DemoError("unknown check %r%s: use one of %s" % (
                check, scenarios.did_you_mean(check, CHECKS), ", ".join(CHECKS)))
    return list(checks or CHECKS)


def startup_func(check):
    """The function ID Func's cron job calls for a check: ``startup__<set>.run``."""
    return "startup__%s.run" % CHECKS[check]


def run(scenario_path=None, checks=None, out_dir="demo-out", progress=None, library=None, now=None):
    """Run the demo; returns the summary rows. Raises DemoError for a user mistake.

    ``library`` is where the script sets come from: this package (default) or an
    exported market (``func_runtime.MarketLibrary``). ``now`` (a time): the scenario is
    first moved so that its last run is that minute, and the reports show current dates.
    """
    progress = progress or (lambda message: print(message, file=sys.stderr))
    checks = known_checks(checks)
    try:
        scenario = scenarios.load(scenario_path or BUNDLED_SCENARIO)
    except scenarios.ScenarioError as exc:
        raise DemoError("scenario %s" % exc)
    if now is not None:
        scenario = scenario.moved_to(now)
        progress("scenario moved: its last run is %s" % clock.iso(scenario.runs[-1]))

    os.makedirs(out_dir, exist_ok=True)
    state_dir = os.path.join(out_dir, "state")
    shutil.rmtree(state_dir, ignore_errors=True)
    task_logs = []

    with Sandbox(scenario) as sandbox:
        progress("sandbox listening on %s (scenario: %s)" % (sandbox.url, scenario.name or scenario.source))
        runtime = deployed_runtime(checks, sandbox_values(sandbox), state_dir, echo=task_logs.append,
                                   library=library)
        failures = {}
        for index, when in enumerate(scenario.runs):
            sandbox.set_run(index)
            # a replay at the scenario's times; the request pacer's waits pass at once
            with clock.frozen(when), clock.Accelerated():
                for check in checks:
                    progress("run %d/%d %s: %s ..." % (index + 1, len(scenario.runs), clock.iso(when), check))
                    result = runtime.run(startup_func(check))
                    if not result.ok:
                        failures[(index, check)] = _error_line(result.error)
                        progress("  %s failed: %s" % (check, failures[(index, check)]))
        events = [dict(e) for e in sandbox.events]
        calls = list(sandbox.calls)

    rows = [journals.event_row(event, scenario.runs) for event in events]
    _write_jsonl(os.path.join(out_dir, "events.jsonl"), rows)
    journals.write_reports(os.path.join(out_dir, "events"), rows)
    _write_jsonl(os.path.join(out_dir, "calls.jsonl"), [journals.call_row(c) for c in calls])
    with io.open(os.path.join(out_dir, "task.log"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(task_logs) + "\n")
    return summarise(scenario, checks, events, failures)


def _error_line(error):
    text = str(error).strip().splitlines()
    return "%s: %s" % (type(error).__name__, text[0] if text else "")


def _write_jsonl(path, rows):
    with io.open(path, "w", encoding="utf-8") as handle:
        handle.write("".join(journals.json_line(row) for row in rows))


def summarise(scenario, checks, events, failures):
    rows = []
    for index, when in enumerate(scenario.runs):
        for check in checks:
            counts = {s: 0 for s in STATUS_ORDER}
            for event in events:
                if event.get("run") == index and event.get("check") == check:
                    counts[event["status"]] += 1
            rows.append({"run": clock.iso(when), "check": check, "counts": counts,
                         "failed": failures.get((index, check))})
    return rows


def format_summary(rows):
    headers = ["run", "check"] + list(STATUS_ORDER) + ["result"]
    table = [[r["run"], r["check"]] + [str(r["counts"][s]) for s in STATUS_ORDER] +
             ["FAILED: " + r["failed"] if r["failed"] else "ok"] for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in table)) if table else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in table]
    return "\n".join(line.rstrip() for line in lines)
