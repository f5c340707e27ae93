"""A scenario at the current time: `sandbox --now` then `run` finds the data; `run --at` matches a held
sandbox; `demo --now` reports the same findings at today's dates."""
import json
import os
import subprocess
import sys
import time

import requests

from guance_monitor import clock
from guance_monitor_local import cli
from guance_monitor_local import demo
from guance_monitor_local import market
from guance_monitor_local import scenario as scenarios

from conftest import HERE

ROOT = os.path.dirname(HERE)


def deployed_startups(tmp_path, url, settings):
    """The two examples as the market deploys them, pointed at a sandbox at ``url``: {check: path}."""
    values = {"Guance API Key ID": settings["guance_api_key_id"], "Guance API Key": settings["guance_api_key"],
              "Guance Node": url, "Aliyun AccessKey ID": settings["aliyun_access_key_id"],
              "Aliyun AccessKey Secret": settings["aliyun_access_key_secret"], "Aliyun Endpoint": url}
    paths = {}
    for check, set_id in demo.CHECKS.items():
        with open(os.path.join(ROOT, set_id, "example.py"), encoding="utf-8") as handle:
            source = market.deploy(market.to_func_form(handle.read()), values)
        path = tmp_path / ("%s.py" % set_id)
        path.write_text(source, encoding="utf-8")
        paths[check] = str(path)
    return paths


def read_until(stream, last, limit=50):
    lines = []
    while len(lines) < limit:
        line = stream.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith(last):
            break
    return lines


def without_rate_limit(tmp_path):
    """The bundled scenario with the sandbox's rate limit off: the sandbox runs in real time in its own process,
    while this test process skips the request pacer's waits (clock.Accelerated) — the two minutes would not agree."""
    with open(demo.BUNDLED_SCENARIO, encoding="utf-8") as handle:
        data = json.load(handle)
    data.setdefault("sandbox", {})["guance"] = {"rate_limit": False}
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_sandbox_now_then_run_finds_the_scenario(tmp_path):
    out = tmp_path / "arrived"
    proc = subprocess.Popen([sys.executable, "-m", "guance_monitor_local.cli", "sandbox", without_rate_limit(tmp_path),
                             "--port", "0", "--now", "--run", "0", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    try:
        lines = read_until(proc.stdout, "Ctrl-C")
        url = lines[0].split()[-1]
        clock_line = [line for line in lines if line.strip().startswith("clock:")][0]
        started = clock.now()
        assert "real time; the scenario is moved by +" in clock_line
        assert "runs[0] 2026-11-20T08:00:00Z is now " in clock_line
        moved_to = clock.parse_time(clock_line.split(" is now ")[1])
        assert 0 <= (started - moved_to).total_seconds() < 120

        paths = deployed_startups(tmp_path, url, scenarios.DEFAULT_SANDBOX)
        for check, path in paths.items():
            assert cli.main(["run", path, "--state-dir", str(tmp_path / "state")]) == 0, check
        served = requests.get(url + "/_sandbox/events", timeout=10).json()
        by_check = dict((check, sorted(e["status"] for e in served if e["check"] == check)) for check in paths)
        # What the demo reports at its first run: found now, through the real clock.
        assert by_check == {"spot-alive": ["critical", "error", "warning"], "k8s-pod-restart": ["critical", "error"]}
        assert all(e["run"] == clock.iso(moved_to) for e in served)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:   # the files are appended as events arrive
            with open(str(out / "events.jsonl"), encoding="utf-8") as handle:
                written = [json.loads(line) for line in handle]
            if len(written) == len(served):
                break
            time.sleep(0.05)
        assert written == served
        calls = requests.get(url + "/_sandbox/calls", timeout=10).json()
        assert {"/api/v1/self_built_checker/create", "/api/v1/outer_function/execute"} <= \
            set(c["action"] for c in calls)
        assert len(list((out / "events").iterdir())) == len(served)
    finally:
        proc.terminate()
        proc.wait(10)


def test_sandbox_held_at_a_run_says_how_to_run_against_it(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "guance_monitor_local.cli", "sandbox", demo.BUNDLED_SCENARIO,
                             "--port", "0", "--run", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    try:
        lines = read_until(proc.stdout, "Ctrl-C")
        assert "  clock:              held at runs[0] 2026-11-20T08:00:00Z" in lines
        note = proc.stderr.readline().rstrip("\n")
        assert note == ("note: the sandbox clock is held at 2026-11-20T08:00:00Z but an inspection reads its own "
                        "clock: run it with `guance-monitor run SCRIPT --at 2026-11-20T08:00:00Z`, or start the "
                        "sandbox with --now to move the scenario to the current time (for a real DataFlux Func)")
    finally:
        proc.terminate()
        proc.wait(10)


def test_run_at_the_held_run_time_finds_what_the_demo_finds(tmp_path, make_sandbox, capsys):
    sandbox = make_sandbox(demo.BUNDLED_SCENARIO)
    sandbox.set_run(0)
    path = deployed_startups(tmp_path, sandbox.url, sandbox.scenario.sandbox)["k8s-pod-restart"]
    assert cli.main(["run", path, "--at", "2026-11-20T08:00:00Z", "--state-dir", str(tmp_path / "s")]) == 0
    assert sorted(e["status"] for e in sandbox.events) == ["critical", "error"]
    assert "finished in" in capsys.readouterr().err


def test_demo_now_reports_the_same_findings_at_today(tmp_path, capsys):
    quiet = lambda message: None  # noqa: E731
    demo.run(out_dir=str(tmp_path / "then"), progress=quiet)
    assert cli.main(["demo", "--now", "--out", str(tmp_path / "now")]) == 0
    capsys.readouterr()

    def rows(name):
        with open(str(tmp_path / name / "events.jsonl"), encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]

    then, now = rows("then"), rows("now")
    assert [(r["check"], r["status"], r["dimension_tags"]) for r in now] == \
        [(r["check"], r["status"], r["dimension_tags"]) for r in then]
    shift = clock.parse_time(now[-1]["run"]) - clock.parse_time(then[-1]["run"])
    assert shift.total_seconds() % 60 == 0
    assert 0 <= (clock.now() - clock.parse_time(max(r["run"] for r in now))).total_seconds() < 24 * 3600
    assert all(clock.parse_time(b["run"]) - clock.parse_time(a["run"]) == shift for a, b in zip(then, now))
