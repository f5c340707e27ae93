"""The ``guance-monitor`` command.

    guance-monitor demo [--scenario FILE] [--check NAME] [--out DIR]
    guance-monitor run SCRIPT [--func NAME] [--kwargs JSON] [--env NAME=VALUE ...]
    guance-monitor serve SCRIPT [SCRIPT ...]
    guance-monitor sandbox SCENARIO [--port N]
    guance-monitor export-market DIR

User mistakes (a missing file, a bad option, a malformed scenario) are one
line on stderr and exit status 2; a script that fails exits with 1.
"""
import argparse
import json
import os
import sys
import time

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.handler(args)
    except UsageError as exc:
        print("guance-monitor %s: %s" % (args.command, exc), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def build_parser():
    parser = argparse.ArgumentParser(
        prog="guance-monitor",
        description="Guance self-hosted inspections outside DataFlux Func: demo, local runs, sandbox, export.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="run the bundled inspections against the sandbox and show the events",
                               description="Start the sandbox with a scenario, run the bundled startup scripts "
                                           "at each of its run times, print a summary and write the events.")
    demo.add_argument("--scenario", metavar="FILE", help="scenario JSON (default: the bundled demo scenario)")
    demo.add_argument("--check", metavar="NAME", action="append",
                      help="only this inspection: spot-alive or k8s-pod-restart (repeatable)")
    demo.add_argument("--out", metavar="DIR", default="demo-out",
                      help="where events.jsonl, calls.jsonl and the event reports go (default: demo-out)")
    demo.set_defaults(handler=cmd_demo)

    run = commands.add_parser("run", help="run one function of a startup script once, as Func's cron would",
                              description="Run a function of a startup script once in the local Func runtime.")
    run.add_argument("script", metavar="SCRIPT", help="path of a startup script (.py)")
    run.add_argument("--func", metavar="NAME", help="function to run (default: the script's only DFF.API function)")
    run.add_argument("--kwargs", metavar="JSON", default="{}", help="call arguments as a JSON object")
    _runtime_options(run)
    run.set_defaults(handler=cmd_run)

    serve = commands.add_parser("serve", help="run startup scripts on their fixed_crontab schedules",
                                description="Run the DFF.API functions of startup scripts on their "
                                            "fixed_crontab schedules until interrupted (Ctrl-C).")
    serve.add_argument("scripts", metavar="SCRIPT", nargs="+", help="paths of startup scripts")
    _runtime_options(serve)
    serve.set_defaults(handler=cmd_serve)

    sandbox = commands.add_parser("sandbox", help="serve the sandbox for manual use",
                                  description="Serve the Guance and Alibaba Cloud sandbox for a scenario on "
                                              "loopback until interrupted.")
    sandbox.add_argument("scenario", metavar="SCENARIO", help="scenario JSON file")
    sandbox.add_argument("--port", type=int, default=9529, help="port on 127.0.0.1 (default 9529)")
    sandbox.add_argument("--run", type=int, default=None, metavar="INDEX",
                         help="hold the sandbox clock at scenario.runs[INDEX] (default: real time)")
    sandbox.set_defaults(handler=cmd_sandbox)

    export = commands.add_parser("export-market", help="write the DataFlux Func script market",
                                 description="Write META.yaml and script-sets/ for DataFlux Func's script market.")
    export.add_argument("directory", metavar="DIR")
    export.set_defaults(handler=cmd_export)
    return parser


def _runtime_options(parser):
    parser.add_argument("--env", metavar="NAME=VALUE", action="append", default=[],
                        help="a DFF.ENV variable (repeatable)")
    parser.add_argument("--state-dir", metavar="DIR",
                        help="where DFF.CACHE and inspection state live (default: ~/.guance-monitor/state)")
    parser.add_argument("--market", metavar="DIR",
                        help="load the script sets from an exported script market instead of this package")


# -- commands -----------------------------------------------------------------------------------

def cmd_demo(args):
    from guance_monitor_local import demo
    if args.scenario and not os.path.isfile(args.scenario):
        raise UsageError("scenario file not found: %s" % args.scenario)
    try:
        rows = demo.run(args.scenario, args.check, args.out)
    except demo.DemoError as exc:
        raise UsageError(str(exc))
    print(demo.format_summary(rows))
    print("\nevents: %s   reports: %s   calls: %s" % (
        os.path.join(args.out, "events.jsonl"), os.path.join(args.out, "events", ""),
        os.path.join(args.out, "calls.jsonl")))
    return EXIT_FAILED if any(r["failed"] for r in rows) else EXIT_OK


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
    for path in scripts:
        if not os.path.isfile(path):
            raise UsageError("script not found: %s" % path)
        with open(path, "r", encoding="utf-8") as handle:
            extra[func_runtime.script_id_for_path(path)] = (handle.read(), os.path.abspath(path))
    library = func_runtime.OverlayLibrary(base, extra)
    return func_runtime.FuncRuntime(library=library, env=env, state_dir=args.state_dir), list(extra)


def _api_funcs(runtime, script_id):
    from guance_monitor_local import func_runtime
    try:
        api_funcs, _ = runtime.load(script_id)
    except func_runtime.FuncError as exc:
        raise UsageError("%s: %s" % (script_id, exc))
    except SyntaxError as exc:
        raise UsageError("%s: syntax error, line %s: %s" % (script_id, exc.lineno, exc.msg))
    return api_funcs


def cmd_run(args):
    try:
        kwargs = json.loads(args.kwargs)
    except ValueError as exc:
        raise UsageError("--kwargs is not JSON: %s" % exc)
    if not isinstance(kwargs, dict):
        raise UsageError("--kwargs must be a JSON object")
    runtime, (script_id,) = _runtime(args, [args.script])
    func = args.func
    if not func:
        names = [f["name"] for f in _api_funcs(runtime, script_id)]
        if len(names) != 1:
            raise UsageError("%s has %s DFF.API functions (%s): choose one with --func" % (
                args.script, len(names), ", ".join(names) or "none"))
        func = names[0]
    result = runtime.run("%s.%s" % (script_id, func), kwargs, origin="crontab")
    if not result.ok:
        print("%s.%s failed after %.1f s: %s: %s" % (script_id, func, result.seconds, type(result.error).__name__,
                                                    _first_line(result.error)), file=sys.stderr)
        return EXIT_FAILED
    print("%s.%s finished in %.1f s" % (script_id, func, result.seconds), file=sys.stderr)
    if result.value is not None:
        print(json.dumps(result.value, ensure_ascii=False, default=str))
    return EXIT_OK


def cmd_serve(args):
    from guance_monitor_local import scheduler
    runtime, script_ids = _runtime(args, args.scripts)
    jobs = []
    for script_id in script_ids:
        for entry in _api_funcs(runtime, script_id):
            cron = entry["extraConfig"].get("fixedCronExpr")
            if cron:
                jobs.append(("%s.%s" % (script_id, entry["name"]), cron))
    if not jobs:
        raise UsageError("no DFF.API function with fixed_crontab in %s" % ", ".join(args.scripts))

    def run_one(func_id, cron):
        result = runtime.run(func_id, origin="crontab", cron_expr=cron)
        outcome = "ok" if result.ok else "FAILED %s: %s" % (type(result.error).__name__, _first_line(result.error))
        _say("%s finished in %.1f s: %s" % (func_id, result.seconds, outcome))

    scheduler.Scheduler(jobs, run_one, report=_say).forever()


def _say(message):
    print(message, file=sys.stderr)


def cmd_sandbox(args):
    from guance_monitor_local import scenario as scenarios
    from guance_monitor_local.sandbox import Sandbox
    try:
        scenario = scenarios.load(args.scenario)
    except scenarios.ScenarioError as exc:
        raise UsageError("scenario %s" % exc)
    sandbox = Sandbox(scenario, port=args.port)
    if args.run is not None:
        if not 0 <= args.run < len(scenario.runs):
            raise UsageError("--run must be between 0 and %d" % (len(scenario.runs) - 1))
        sandbox.set_run(args.run)
    try:
        sandbox.start()
    except OSError as exc:
        raise UsageError("cannot listen on 127.0.0.1:%d: %s" % (args.port, exc.strerror or exc))
    settings = scenario.sandbox
    print("sandbox for %s listening on %s" % (scenario.name or args.scenario, sandbox.url))
    print("  guance_node:        %s" % sandbox.url)
    print("  Guance API key ID:  %s" % settings["guance_api_key_id"])
    print("  Guance API key:     %s" % settings["guance_api_key"])
    print("  Aliyun endpoint:    %s (protocol http)" % sandbox.endpoint)
    print("  Aliyun AccessKey:   %s / %s" % (settings["aliyun_access_key_id"], settings["aliyun_access_key_secret"]))
    print("Ctrl-C to stop.")
    sys.stdout.flush()  # the URL must reach a reader on a pipe before we sleep
    try:
        while True:
            time.sleep(3600)
    finally:
        sandbox.stop()


def cmd_export(args):
    from guance_monitor_local import market
    meta = market.export(args.directory)
    count = sum(len(s["scripts"]) for s in meta["scriptSets"])
    print("wrote %d script sets (%d scripts) to %s" % (len(meta["scriptSets"]), count, args.directory))
    return EXIT_OK


def _first_line(error):
    from guance_monitor import redact
    lines = str(error).strip().splitlines()
    return redact.redact(lines[0] if lines else repr(error))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
