"""Runner: run each checker, isolate failures, report the events.

    Runner(checkers, debug=False).run()

Each checker runs on its own: a checker that fails (a bad config, a cloud API
down, a bug) is logged once, in one line for a user mistake, and the others
still run and report. A bad ``configs`` also produces a warning event in
Guance, so that a typo made in Studio is seen in Studio; it recovers when the
configs are fixed. After reporting, when a checker failed, ``run`` raises
``InspectionFailed`` so that DataFlux Func marks the task as failed.

``debug=True`` runs everything and prints the events instead of sending them
(and keeps no state).
"""
import traceback

from guance_monitor import alerts
from guance_monitor import clock
from guance_monitor import configs
from guance_monitor import context
from guance_monitor import event_reporter
from guance_monitor import redact
from guance_monitor import state


class InspectionFailed(Exception):
    """One or more checkers failed; the text lists them (the others ran and reported)."""


class Runner(object):
    def __init__(self, checkers, debug=False):
        if not isinstance(checkers, (list, tuple)):
            checkers = [checkers]
        self.checkers = list(checkers)
        self.debug = bool(debug)
        self.results = []
        self._config_tracker = None

    def run(self):
        ctx = context.current()
        if ctx is None:
            if not self.debug:
                raise RuntimeError("Runner.run() must be called inside a function decorated with "
                                   "@self_hosted_monitor(...), or with Runner(checkers, debug=True)")
            ctx = context.RunContext(store=state.MemoryStore())
        reporter = None if self.debug else event_reporter.EventReporter(ctx)

        events = []
        self.results = []
        config_problems = {}
        for checker in self.checkers:
            result = self._run_one(checker, ctx)
            self.results.append(result)
            events.extend(result["events"])
            if result["config_error"]:
                config_problems[result["check"]] = result["error"]

        events.extend(self._config_events(ctx, config_problems))

        if self.debug:
            for event in events:
                _print_event(event)
        else:
            outcome = reporter.report(events)
            redact.log("reported %d events (%d sent now, %d waiting for the next run)",
                       len(events), outcome["sent"], outcome["pending"])
            for checker, result in zip(self.checkers, self.results):
                if result["error"] is None:
                    checker.commit()
            if self._config_tracker is not None:
                self._config_tracker.commit()

        failed = [r for r in self.results if r["error"]]
        if failed:
            raise InspectionFailed("%d of %d checkers failed: %s" % (
                len(failed), len(self.results), "; ".join("%s (%s)" % (r["check"], r["error"]) for r in failed)))
        return self.results

    # Documented call form of one of the official inspections.
    run_v2 = run

    def _run_one(self, checker, ctx):
        name = getattr(checker, "name", None) or type(checker).__name__
        result = {"check": name, "events": [], "error": None, "config_error": False,
                  "seconds": 0.0, "stats": {}}
        started = clock.monotonic()
        try:
            result["events"] = event_reporter.validate_all(checker.run(ctx) or [])
        except configs.ConfigError as exc:
            result["error"] = redact.redact("ConfigError: %s" % exc)
            result["config_error"] = True
            redact.log("%s: configs rejected: %s", name, exc)
        except Exception as exc:  # noqa: BLE001 - isolation is the point
            result["error"] = redact.describe_error(exc)
            redact.log("%s failed: %s\n%s", name, result["error"], _short_traceback())
        result["seconds"] = round(clock.monotonic() - started, 3)
        result["stats"] = dict(getattr(checker, "stats", {}) or {})
        return result

    def _config_events(self, ctx, problems):
        """Warning events for configs Studio users got wrong, and `ok` once they are fixed."""
        tracker = alerts.AlertTracker(ctx.store.scoped("runner:%s" % (ctx.ref_key or "local")).scoped("configs"),
                                      reminder_seconds=24 * 3600)
        self._config_tracker = tracker
        names = [getattr(c, "name", None) or type(c).__name__ for c in self.checkers]
        decisions = tracker.update(dict((n, "warning") for n in problems),
                                   healthy=[n for n in names if n not in problems])
        out = []
        for decision in decisions:
            title = ctx.title or decision.key
            if decision.status == "ok":
                out.append({"title": u"%s：巡检配置已修正 / configs fixed" % title, "status": "ok",
                            "dimension_tags": {"check": decision.key},
                            "message": u"巡检 `%s` 的 configs 已可用，巡检恢复正常运行。\n\n"
                                       u"The configs of `%s` are valid again." % (decision.key, decision.key)})
            else:
                out.append({"title": u"%s：巡检配置有误 / configs rejected" % title, "status": "warning",
                            "dimension_tags": {"check": decision.key},
                            "message": u"巡检 `%s` 未运行：Studio 中的 configs 无法使用。\n\n"
                                       u"The inspection `%s` did not run: its configs are not usable.\n\n"
                                       u"```\n%s\n```\n\n请在「监控 / 智能巡检」中编辑该巡检的 configs。"
                                       % (decision.key, decision.key, problems[decision.key])})
        return out


def _short_traceback(limit=6):
    lines = traceback.format_exc(limit=-limit).rstrip().splitlines()
    return redact.redact("\n".join("    " + line for line in lines))


def _print_event(event):
    print(redact.redact(u"---- [%s] %s %s\n%s" % (
        event["status"], event["title"],
        " ".join("%s=%s" % kv for kv in sorted(event["dimension_tags"].items())),
        event["message"])))
