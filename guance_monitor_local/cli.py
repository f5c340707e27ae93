"""The ``guance-monitor`` command.

    guance-monitor [--debug] demo [--scenario FILE] [--check NAME] [--out DIR] [--now]
    guance-monitor [--debug] run SCRIPT [--func NAME] [--kwargs JSON] [--at TIME] [--env NAME=VALUE ...]
    guance-monitor [--debug] serve SCRIPT [SCRIPT ...]
    guance-monitor [--debug] sandbox SCENARIO [--port N] [--run INDEX] [--now] [--out DIR]
    guance-monitor [--debug] export-market DIR

Two kinds of failure, told apart by the exit status and the first words:

- the invocation is wrong (a missing file, a bad option, a malformed scenario, an
  output directory that cannot be written, a startup script that cannot even be
  loaded): one line ``guance-monitor COMMAND: what is wrong, where, what to do``
  on stderr, exit status 2;
- the script ran and raised: one line ``<function ID> failed after N s: Error: ...``,
  exit status 1 (a failure of ours: one line and exit 1 as well).

No traceback unless ``--debug`` is given (before or after the command); it then
precedes the line. Every text goes through ``redact``.
"""
import argparse
import json
import logging
import os
import sys
import time
import traceback

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
NOW_HELP = ("move the whole scenario in time (points, prices, events, instance times, runs) so that "
            "its %s run is the current minute")


class UsageError(Exception):
    """The invocation is wrong; the text is the one line the user sees."""


class OneLineParser(argparse.ArgumentParser):
    """argparse whose mistakes are one line (argparse prints the usage, then the error)."""

    def error(self, message):
        self.exit(EXIT_USAGE, "%s: %s (see %s --help)\n" % (self.prog, message, self.prog))


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.handler(args)
    except UsageError as exc:
        if args.debug:
            _print_traceback(exc.__cause__ or exc)
        _say("guance-monitor %s: %s" % (args.command, _redacted(exc)))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - ours or the machine's; still one line
        if args.debug:
            _print_traceback(exc)
        from guance_monitor_local import mistakes
        _say("guance-monitor %s: unexpected %s%s" % (args.command, mistakes.first_line(exc),
                                                   "" if args.debug else " (--debug shows the traceback)"))
        return EXIT_FAILED


def build_parser():
    parser = OneLineParser(
        prog="guance-monitor",
        description="Guance self-hosted inspections outside DataFlux Func: demo, local runs, sandbox, export.",
        epilog="A wrong invocation exits with 2 and one line on stderr; a script that raised exits with 1.")
    _debug_option(parser, False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="run the bundled inspections against the sandbox and show the events",
                               description="Start the sandbox with a scenario, run the bundled startup scripts "
                                           "at each of its run times, print a summary and write the events.")
    demo.add_argument("--scenario", metavar="FILE", help="scenario JSON (default: the bundled demo scenario)")
    demo.add_argument("--check", metavar="NAME", action="append",
                      help="only this inspection: spot-alive or k8s-pod-restart (repeatable)")
    demo.add_argument("--out", metavar="DIR", default="demo-out",
                      help="where events.jsonl, events/*.md, calls.jsonl, task.log and state/ go (default: demo-out)")
    demo.add_argument("--now", action="store_true", help=NOW_HELP % "last" + " (the reports show today's dates)")
    demo.set_defaults(handler=cmd_demo)

    run = commands.add_parser("run", help="run one function of a startup script once, as Func's cron would",
                              description="Run a function of a startup script once in the local Func runtime.")
    run.add_argument("script", metavar="SCRIPT", help="path of a startup script (.py)")
    run.add_argument("--func", metavar="NAME", help="function to run (default: the script's only DFF.API function)")
    run.add_argument("--kwargs", metavar="JSON", default="{}", help="call arguments as a JSON object")
    run.add_argument("--at", metavar="TIME",
                     help="run as if the clock read TIME (ISO 8601 or epoch ms), e.g. the run time a sandbox "
                          "started with --run INDEX holds (default: the real time)")
    _runtime_options(run)
    run.set_defaults(handler=cmd_run)

    serve = commands.add_parser("serve", help="run startup scripts on their fixed_crontab schedules",
                                description="Run the DFF.API functions of startup scripts on their "
                                            "fixed_crontab schedules until interrupted (Ctrl-C).")
    serve.add_argument("scripts", metavar="SCRIPT", nargs="+", help="paths of startup scripts")
    _runtime_options(serve)
    serve.set_defaults(handler=cmd_serve)

    sandbox = commands.add_parser(
        "sandbox", help="serve the sandbox for manual use or a real DataFlux Func",
        description="Serve the Guance and Alibaba Cloud sandbox for a scenario on loopback until interrupted. "
                    "What arrived is served read-only on GET /_sandbox/calls and /_sandbox/events "
                    "(and written to --out).")
    sandbox.add_argument("scenario", metavar="SCENARIO", help="scenario JSON file")
    sandbox.add_argument("--port", type=port_number, default=9529,
                         help="port on 127.0.0.1 (default 9529; 0 picks a free one)")
    sandbox.add_argument("--run", type=int, default=None, metavar="INDEX",
                         help="without --now: hold the sandbox clock at scenario.runs[INDEX] (run inspections "
                              "with `run --at` that time); with --now: the run that becomes the current minute")
    sandbox.add_argument("--now", action="store_true",
                         help=NOW_HELP % "chosen (--run, default: the last)" +
                         "; the sandbox then follows the real clock, so a real Func or `run` sees the data")
    sandbox.add_argument("--out", metavar="DIR",
                         help="write calls.jsonl, events.jsonl and events/*.md there, started afresh and "
                              "appended as requests and events arrive")
    sandbox.set_defaults(handler=cmd_sandbox)

    export = commands.add_parser(
        "export-market", help="write the DataFlux Func script market",
        description="Write META.yaml and script-sets/ for DataFlux Func's script market. DIR must be new, "
                    "empty (hidden entries such as .git aside) or a previous export, whose content is replaced.")
    export.add_argument("directory", metavar="DIR")
    export.set_defaults(handler=cmd_export)

    for command in (demo, run, serve, sandbox, export):
        _debug_option(command, argparse.SUPPRESS)
    return parser


def _debug_option(parser, default):
    parser.add_argument("--debug", action="store_true", default=default,
                        help="show the traceback of an error (before its one-line message)")


def _runtime_options(parser):
    parser.add_argument("--env", metavar="NAME=VALUE", action="append", default=[],
                        help="a DFF.ENV variable (repeatable)")
    parser.add_argument("--state-dir", metavar="DIR",
                        help="where DFF.CACHE and inspection state live (default: ~/.guance-monitor/state); "
                             "the signing secret is not there but in ~/.config/guance-monitor "
                             "($GUANCE_MONITOR_CONFIG_DIR)")
    parser.add_argument("--market", metavar="DIR",
                        help="load the script sets from an exported script market instead of this package")


def port_number(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("expected a port number 0-65535 (0 picks a free one), got %r" % text)
    return value


# -- commands -----------------------------------------------------------------------------------

def cmd_demo(args):
    from guance_monitor import clock
    from guance_monitor_local import demo
    if args.scenario and not os.path.isfile(args.scenario):
        raise UsageError("scenario file not found: %s" % args.scenario)
    try:
        demo.known_checks(args.check)
        _output_directory(args.out, "--out")
        rows = demo.run(args.scenario, args.check, args.out, now=clock.now() if args.now else None)
    except demo.DemoError as exc:
        raise UsageError(str(exc))
    print(demo.format_summary(rows))
    print("\nevents: %s   reports: %s   calls: %s   task log: %s" % (
        os.path.join(args.out, "events.jsonl"), os.path.join(args.out, "events", ""),
        os.path.join(args.out, "calls.jsonl"), os.path.join(args.out, "task.log")))
    return EXIT_FAILED if any(r["failed"] for r in rows) else EXIT_OK


def _output_directory(path, option):
    from guance_monitor_local import mistakes
    problem = mistakes.output_directory(path)
    if problem:
        raise UsageError("%s %s" % (option, problem))


def _runtime(args, scripts):
    from guance_monitor_local import func_runtime
    env = {}
    for pair in args.env:
        if "=" not in pair:
            raise UsageError("--env expects NAME=VALUE, got %r" % pair)
        name, value = pair.split("=", 1)
        env[name] = value
    try:
        base = func_runtime.MarketLibrary(args.market) if args.market else func_runtime.PackageLibrary()
    except func_runtime.FuncError as exc:
        raise UsageError(str(exc))
    extra = {}
    paths = {}
    for path in scripts:
        if not os.path.isfile(path):
            raise UsageError("script not found: %s" % path)
        with open(path, "r", encoding="utf-8") as handle:
            script_id = func_runtime.script_id_for_path(path)
            extra[script_id] = (handle.read(), os.path.abspath(path))
            paths[script_id] = path
    library = func_runtime.OverlayLibrary(base, extra)
    try:
        runtime = func_runtime.FuncRuntime(library=library, env=env, state_dir=args.state_dir)
    except OSError as exc:
        raise UsageError("cannot set up the runtime's state (%s): check --state-dir and "
                         "$GUANCE_MONITOR_CONFIG_DIR" % (exc.strerror or exc))
    return runtime, paths


def _load(runtime, script_id, path):
    """(DFF.API functions, scope) of a startup script; UsageError naming its line when it cannot load."""
    from guance_monitor_local import mistakes
    try:
        return runtime.load(script_id)
    except Exception as exc:  # noqa: BLE001 - whatever the script raises while loading
        raise UsageError(mistakes.script_problem(exc, path)) from exc


def _function(args, runtime, script_id):
    from guance_monitor_local import mistakes
    api_funcs, scope = _load(runtime, script_id, args.script)
    names = [f["name"] for f in api_funcs]
    if not args.func:
        if len(names) != 1:
            raise UsageError("%s has %s DFF.API functions (%s): choose one with --func" % (
                args.script, len(names), ", ".join(names) or "none"))
        return names[0]
    if not callable(scope.get(args.func)):
        raise UsageError("%s has no function %r%s; its DFF.API functions: %s" % (
            args.script, args.func, mistakes.did_you_mean(args.func, names), ", ".join(names) or "none"))
    return args.func


def cmd_run(args):
    from guance_monitor import clock
    try:
        kwargs = json.loads(args.kwargs)
    except ValueError as exc:
        raise UsageError("--kwargs is not JSON: %s" % exc)
    if not isinstance(kwargs, dict):
        raise UsageError("--kwargs must be a JSON object")
    at = _time_option(args.at, "--at")
    runtime, paths = _runtime(args, [args.script])
    (script_id,) = paths
    func_id = "%s.%s" % (script_id, _function(args, runtime, script_id))
    if at is None:
        result = runtime.run(func_id, kwargs, origin="crontab")
    else:
        with clock.frozen(at):
            result = runtime.run(func_id, kwargs, origin="crontab")
    if not result.ok:
        if args.debug:
            _print_traceback(result.error)
        _say(_failed_line(func_id, result))
        return EXIT_FAILED
    _say("%s finished in %.1f s" % (func_id, result.seconds))
    if result.value is not None:
        print(json.dumps(result.value, ensure_ascii=False, default=str))
    return EXIT_OK


def _time_option(text, option):
    from guance_monitor import clock
    if text is None:
        return None
    try:
        return clock.parse_time(text)
    except ValueError as exc:
        raise UsageError("%s: %s" % (option, exc))


def _failed_line(func_id, result):
    from guance_monitor_local import mistakes
    return "%s failed after %.1f s: %s" % (func_id, result.seconds, mistakes.first_line(result.error))


def cmd_serve(args):
    from guance_monitor_local import scheduler
    runtime, paths = _runtime(args, args.scripts)
    jobs = []
    for script_id, path in paths.items():
        for entry in _load(runtime, script_id, path)[0]:
            cron = entry["extraConfig"].get("fixedCronExpr")
            if cron:
                jobs.append(("%s.%s" % (script_id, entry["name"]), cron))
    if not jobs:
        raise UsageError("no DFF.API function with fixed_crontab in %s" % ", ".join(args.scripts))

    log = serve_logger()

    def run_one(func_id, cron):
        result = runtime.run(func_id, origin="crontab", cron_expr=cron)
        if result.ok:
            log.info("%s finished in %.1f s: ok", func_id, result.seconds)
            return
        if args.debug:
            _print_traceback(result.error)
        log.error(_failed_line(func_id, result))

    scheduler.Scheduler(jobs, run_one, report=log.info).forever()


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is logged."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def serve_logger():
    """``serve``'s own lines on stderr, each with its time and level (standard ``logging``)."""
    log = logging.getLogger("guance_monitor_local.serve")
    if not log.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


def cmd_sandbox(args):
    from guance_monitor import clock
    from guance_monitor_local import scenario as scenarios
    from guance_monitor_local.sandbox import Sandbox
    from guance_monitor_local.sandbox.journal import Journal
    try:
        scenario = scenarios.load(args.scenario)
        if args.run is not None:
            args.run = scenario.run_index(args.run)
    except scenarios.ScenarioError as exc:
        raise UsageError("scenario %s" % exc)
    journal = None
    if args.out:
        _output_directory(args.out, "--out")
        journal = Journal(args.out)
    original = scenario
    if args.now:
        scenario = scenario.moved_to(clock.now(), -1 if args.run is None else args.run)
    sandbox = Sandbox(scenario, port=args.port, journal=journal)
    if args.now:
        sandbox.follow_real_time()
    elif args.run is not None:
        sandbox.set_run(args.run)
    try:
        sandbox.start()
    except OSError as exc:
        raise UsageError("cannot listen on 127.0.0.1:%d (%s): choose another --port (0 picks a free one)"
                         % (args.port, exc.strerror or exc))
    _print_sandbox(args, sandbox, original)
    try:
        while True:
            time.sleep(3600)
    finally:
        sandbox.stop()


def _print_sandbox(args, sandbox, original):
    from guance_monitor import clock
    settings = sandbox.scenario.sandbox
    print("sandbox for %s listening on %s" % (sandbox.scenario.name or args.scenario, sandbox.url))
    print("  guance_node:        %s" % sandbox.url)
    print("  Guance API key ID:  %s" % settings["guance_api_key_id"])
    print("  Guance API key:     %s" % settings["guance_api_key"])
    print("  Aliyun endpoint:    %s (protocol http)" % sandbox.endpoint)
    print("  Aliyun AccessKey:   %s / %s" % (settings["aliyun_access_key_id"], settings["aliyun_access_key_secret"]))
    print("  what arrived:       GET %s/_sandbox/calls, GET %s/_sandbox/events" % (sandbox.url, sandbox.url))
    if args.out:
        print("  written to:         %s, %s, %s" % (os.path.join(args.out, "calls.jsonl"),
                                                    os.path.join(args.out, "events.jsonl"),
                                                    os.path.join(args.out, "events", "")))
    runs = sandbox.scenario.runs
    if args.now:
        index = len(runs) - 1 if args.run is None else args.run
        print("  clock:              real time; the scenario is moved by %s: runs[%d] %s is now %s" % (
            _span(clock.to_ms(runs[index]) - clock.to_ms(original.runs[index])), index,
            clock.iso(original.runs[index]), clock.iso(runs[index])))
    elif args.run is not None:
        held = clock.iso(runs[args.run])
        print("  clock:              held at runs[%d] %s" % (args.run, held))
        _say("note: the sandbox clock is held at %s but an inspection reads its own clock: run it with "
             "`guance-monitor run SCRIPT --at %s`, or start the sandbox with --now to move the scenario to "
             "the current time (for a real DataFlux Func)" % (held, held))
    else:
        print("  clock:              real time (the scenario's runs are %s to %s)" % (
            clock.iso(runs[0]), clock.iso(runs[-1])))
    print("Ctrl-C to stop.")
    sys.stdout.flush()  # the URL must reach a reader on a pipe before we sleep


def _span(ms):
    sign = "-" if ms < 0 else "+"
    minutes = abs(ms) // 60000
    days, rest = divmod(minutes, 24 * 60)
    return "%s%dd %02dh %02dm" % (sign, days, rest // 60, rest % 60)


def cmd_export(args):
    from guance_monitor_local import market
    try:
        meta = market.export(args.directory)
    except market.MarketError as exc:
        raise UsageError(str(exc))
    except OSError as exc:
        raise UsageError("cannot write the market to %s (%s: %s): give a directory you can write to" % (
            args.directory, exc.strerror or exc, exc.filename or args.directory))
    count = sum(len(s["scripts"]) for s in meta["scriptSets"])
    print("wrote %d script sets (%d scripts) to %s" % (len(meta["scriptSets"]), count, args.directory))
    return EXIT_OK


# -- output -------------------------------------------------------------------------------------

def _say(message):
    print(message, file=sys.stderr)


def _redacted(text):
    from guance_monitor import redact
    return redact.redact(str(text))


def _print_traceback(error):
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    sys.stderr.write(_redacted(text))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
