"""Runner: run each checker within its share of the time budget, isolate failures, deliver events as they are ready.

    Runner(checkers, debug=False).run()

One run, in order:

1. **one run at a time**: a lock in the state store, expiring with the function's
   timeout; an overlapping run (a manual run during a cron run, a delayed queue) waits
   briefly, then skips with a log line;
2. events earlier runs could not deliver go first, within a quarter of the budget;
3. each checker runs in its own thread with a share of what is left of the budget
   (``ctx.deadline`` inside it); the Runner waits for it no longer than that, so a
   stuck call cannot take the other checkers' events down with it. A checker is not
   started when less than ``MIN_CHECKER_S`` is left before the reporting reserve;
4. as soon as a checker is done its events go to the outbox (durable), its state is
   committed, and the outbox is delivered — so that when Func's timeout kills the task
   (a ``BaseException`` the code cannot stop), what is ready has been sent or waits in
   the outbox for the next run;
5. the Runner's own events: a ``configs`` that Studio users got wrong (warning, ``ok``
   once fixed); a checker that ran out of time or was skipped (warning, ``ok`` after a
   complete run); alert state that was unreadable ("open alerts may repeat once").

A checker that fails is logged once (one line for a user mistake); the others still
run and report; afterwards ``run`` raises ``InspectionFailed`` so that Func marks the
task failed. ``debug=True`` runs everything and prints the events instead of sending
them, and keeps no state.
"""
import threading
import traceback

from guance_monitor import alerts
from guance_monitor import clock
from guance_monitor import configs
from guance_monitor import context
from guance_monitor import event_reporter
from guance_monitor import logs
from guance_monitor import redact
from guance_monitor import report
from guance_monitor import retry
from guance_monitor import state

REPORT_RESERVE_SHARE = 0.2     # keep this share of the budget for the last delivery ...
REPORT_RESERVE_MAX_S = 30.0    # ... at most this many seconds
FLUSH_SHARE = 0.25             # events of earlier runs may use this share of the budget first
MIN_CHECKER_S = 2.0            # do not start a checker with less time than this
LOCK_WAIT_S = 5.0              # an overlapping run waits this long for the lock, then skips
LOCK_SLACK_S = 10.0

log = logs.get(__name__)


class InspectionFailed(Exception):
    """One or more checkers failed; the text lists them (the others ran and reported)."""


class Result:
    """What one checker's run came to."""

    def __init__(self, check):
        self.check = check
        self.events = []
        self.error = None
        self.config_error = False
        self.timed_out = False
        self.skipped = False
        self.seconds = 0.0
        self.budget_s = None
        self.stats = {}
        self.state_problems = []

    @property
    def ok(self):
        return self.error is None

    def as_dict(self):
        return {"check": self.check, "events": self.events, "error": self.error, "config_error": self.config_error,
                "timed_out": self.timed_out, "skipped": self.skipped, "seconds": self.seconds, "stats": self.stats}

    def __getitem__(self, key):      # results read as dicts by earlier callers
        return self.as_dict()[key]


class Runner:
    def __init__(self, checkers, debug=False):
        if not isinstance(checkers, (list, tuple)):
            checkers = [checkers]
        self.checkers = list(checkers)
        self.debug = bool(debug)
        self.results = []
        self.reporter = None
        self._committable = []

    def run(self):
        ctx = context.current()
        if ctx is None:
            if not self.debug:
                raise RuntimeError("Runner.run() must be called inside a function decorated with "
                                   "@self_hosted_monitor(...), or with Runner(checkers, debug=True)")
            ctx = context.RunContext(store=state.MemoryStore())
        self.results = []
        if self.debug:
            self._run_checkers(ctx)
        else:
            lock = state.RunLock(self._runner_store(ctx), "lock", (ctx.timeout or 60) + LOCK_SLACK_S)
            if not lock.acquire(LOCK_WAIT_S):
                holder = lock.holder() or {}
                log.warning("another run of %r is in progress (started %s): this run is skipped", ctx.title,
                            report.display_time(holder.get("at_ms")) if holder.get("at_ms") else "?")
                return []
            try:
                self.reporter = event_reporter.EventReporter(ctx)
                remaining = ctx.deadline.remaining()
                self._deliver(None if remaining is None else retry.Deadline(remaining * FLUSH_SHARE))
                self._run_checkers(ctx)
            finally:
                lock.release()
        failed = [r for r in self.results if r.error]
        if failed:
            raise InspectionFailed("%d of %d checkers failed: %s" % (
                len(failed), len(self.results), "; ".join("%s (%s)" % (r.check, r.error) for r in failed)))
        return self.results

    # Documented call form of one of the official inspections.
    run_v2 = run

    # -- the checkers --------------------------------------------------------------------------

    def _run_checkers(self, ctx):
        for index, checker in enumerate(self.checkers):
            result = Result(_name(checker))
            self.results.append(result)
            budget = self._budget(ctx, len(self.checkers) - index)
            if budget is not None and budget < MIN_CHECKER_S:
                result.skipped = True
                result.error = "skipped: not enough of the time budget left (%.1f s)" % max(0.0, budget)
                log.warning("%s %s", result.check, result.error)
            else:
                self._run_one(checker, ctx, budget, result)
            self._finish(checker, ctx, result)

    def _budget(self, ctx, checkers_left):
        """Seconds the next checker may spend: its share of what is left before the reporting reserve."""
        remaining = ctx.deadline.remaining()
        if remaining is None:
            return None
        reserve = min(REPORT_RESERVE_MAX_S, ctx.deadline.seconds * REPORT_RESERVE_SHARE)
        return (remaining - reserve) / max(1, checkers_left)

    def _run_one(self, checker, ctx, budget, result):
        checker_ctx = ctx.for_checker(retry.Deadline(budget))
        result.budget_s = budget
        outcome = {}
        started = clock.monotonic()

        def body():
            with context.activate(checker_ctx):
                try:
                    outcome["events"] = event_reporter.validate_all(checker.run(checker_ctx) or [])
                except configs.ConfigError as exc:
                    outcome["config_error"] = redact.redact("ConfigError: %s" % exc)
                except Exception as exc:  # noqa: BLE001 - isolation is the point
                    outcome["error"] = redact.describe_error(exc)
                    outcome["traceback"] = _short_traceback()

        thread = threading.Thread(target=logs.bind(body), name="checker-%s" % result.check, daemon=True)
        thread.start()
        thread.join(budget)
        result.seconds = round(clock.monotonic() - started, 3)
        result.stats = dict(getattr(checker, "stats", {}) or {})
        if thread.is_alive():
            result.timed_out = True
            result.error = "ran out of its time budget (%.1f s): abandoned, its results are not used" % budget
            log.error("%s %s", result.check, result.error)
            return
        if "config_error" in outcome:
            result.error, result.config_error = outcome["config_error"], True
            log.warning("%s: configs rejected: %s", result.check, outcome["config_error"][len("ConfigError: "):])
        elif "error" in outcome:
            result.error = outcome["error"]
            log.error("%s failed: %s\n%s", result.check, result.error, outcome["traceback"])
        else:
            result.events = outcome.get("events") or []
        result.state_problems = list(_call(checker, "state_problems") or [])

    def _finish(self, checker, ctx, result):
        """The checker's events and the Runner's about it: to the outbox, state committed, delivered."""
        events = list(result.events)
        for producer in (self._config_event, self._budget_event, self._state_event):
            try:
                events.extend(producer(ctx, result))
            except Exception as exc:  # noqa: BLE001 - the Runner's own events must never stop a run
                log.error("%s: could not build the runner's event (%s)", result.check, redact.describe_error(exc))
        if self.debug:
            for event in events:
                _print_event(event)
            return
        try:
            if events:
                self.reporter.enqueue(events)
        except Exception as exc:  # noqa: BLE001 - e.g. the state store is down: nothing is committed
            log.error("%s: events could not be put in the outbox (%s); nothing is committed and the same "
                      "conditions are decided again next run", result.check, redact.describe_error(exc))
            return
        if result.ok:
            checker.commit()
        for tracker in self._committable:
            tracker.commit()
        self._committable = []
        outcome = self._deliver()
        if outcome is not None:
            log.info("%s: %d events (%d sent now, %d waiting in the outbox)", result.check, len(events),
                     outcome["sent"], outcome["pending"])

    def _deliver(self, deadline=None):
        try:
            return self.reporter.deliver(deadline)
        except Exception as exc:  # noqa: BLE001 - what is in the outbox stays there for the next run
            log.error("events could not be delivered this run (%s); they wait in the outbox",
                      redact.describe_error(exc))
            return None

    # -- the Runner's own events ---------------------------------------------------------------

    def _runner_store(self, ctx):
        return ctx.store.scoped("runner:%s" % (ctx.ref_key or "local"))

    def _tracked(self, ctx, name, result, firing, reminder_s=24 * 3600):
        """The decisions of the Runner's own alert ``name`` about ``result``'s checker (its state's problems
        are the checker's to report, like those of the checker's own state)."""
        tracker = alerts.AlertTracker(self._runner_store(ctx).scoped(name), reminder_seconds=reminder_s)
        key = result.check
        decisions = tracker.update({key: "warning"} if firing else {}, [] if firing else [key])
        result.state_problems.extend(p for p in tracker.problems if p not in result.state_problems)
        if not self.debug:
            self._committable = self._committable + [tracker]
        return decisions

    def _config_event(self, ctx, result):
        if result.skipped or result.timed_out:
            return []
        title = ctx.title or result.check
        out = []
        for decision in self._tracked(ctx, "configs", result, result.config_error):
            if decision.status == "ok":
                out.append({"title": "%s：巡检配置已修正 / configs fixed" % title, "status": "ok",
                            "dimension_tags": {"check": result.check},
                            "message": "巡检 `%s` 的 configs 已可用，巡检恢复正常运行。\n\n"
                                       "The configs of `%s` are valid again." % (result.check, result.check)})
            else:
                out.append({"title": "%s：巡检配置有误 / configs rejected" % title, "status": "warning",
                            "dimension_tags": {"check": result.check},
                            "message": "巡检 `%s` 未运行：Studio 中的 configs 无法使用。\n\n"
                                       "The inspection `%s` did not run: its configs are not usable.\n\n"
                                       "```\n%s\n```\n\n请在「监控 / 智能巡检」中编辑该巡检的 configs。"
                                       % (result.check, result.check, result.error.replace("```", "'''"))})
        return out

    def _budget_event(self, ctx, result):
        if result.config_error or (result.error and not (result.timed_out or result.skipped)):
            return []
        title = ctx.title or result.check
        out = []
        short = result.timed_out or result.skipped
        for decision in self._tracked(ctx, "budget", result, short, reminder_s=6 * 3600):
            if decision.status == "ok":
                out.append({"title": "%s：巡检已在时限内完成 / finished within its time budget" % title,
                            "status": "ok", "dimension_tags": {"check": result.check, "problem": "time_budget"},
                            "message": "巡检 `%s` 再次在时限内完成。\n\nThe inspection `%s` finished within its time "
                                       "budget again." % (result.check, result.check)})
            else:
                what = ("未开始：剩余时间不足 / not started: too little time left" if result.skipped else
                        "超时未完成，结果已放弃 / ran out of time, its results were abandoned")
                out.append({"title": "%s：巡检超时 / ran out of time" % title, "status": "warning",
                            "dimension_tags": {"check": result.check, "problem": "time_budget"},
                            "message": "巡检 `%s`：%s\n\n%s\n\n**建议 / What to do:** 在启动脚本的 `@DFF.API(..., "
                                       "timeout=...)` 中调大超时，或在 configs 中缩小巡检范围。/ Raise `timeout` in the "
                                       "startup script's `@DFF.API(...)`, or narrow the configs.\n" % (
                                           result.check, what, report.table(
                                               ["项目 Item", "内容 Value"],
                                               [("函数超时 Function timeout", "%s s" % (ctx.timeout or "-")),
                                                ("本巡检预算 Budget", "%.1f s" % max(0.0, result.budget_s or 0)),
                                                ("已用 Used", "%.1f s" % result.seconds)], limit=0))})
        return out

    def _state_event(self, ctx, result):
        problems = list(result.state_problems) + [p for p in (self.reporter.problems if self.reporter else [])
                                                  if p not in result.state_problems]
        if not problems:
            return []
        if self.reporter is not None:
            self.reporter.problems = []
        title = ctx.title or result.check
        return [{"title": "%s：告警状态不可读，未恢复的告警可能重复一次 / alert state was unreadable; open alerts may "
                          "repeat once" % title,
                 "status": "warning", "dimension_tags": {"check": result.check, "problem": "state"},
                 "message": "巡检 `%s` 读取上次运行保存的状态时发现问题，已丢弃不可用的部分：\n\n%s\n\n"
                            "未恢复的告警可能作为新告警再报告一次；其间已经恢复的告警不会再收到 ok 事件，请在观测云中检查"
                            "本巡检的未恢复事件。\n\n"
                            "The state kept between runs had unusable parts, which were dropped. Alerts that were "
                            "open may be reported once more as new; one that cleared meanwhile gets no ok event: "
                            "check this inspection's unrecovered events in Guance.\n" % (
                                result.check, "\n".join("- " + report.md(p) for p in problems))}]


def _name(checker):
    return getattr(checker, "name", None) or type(checker).__name__


def _call(obj, method):
    fn = getattr(obj, method, None)
    return fn() if callable(fn) else None


def _short_traceback(limit=6):
    lines = traceback.format_exc(limit=-limit).rstrip().splitlines()
    return redact.redact("\n".join("    " + line for line in lines))


def _print_event(event):
    print(redact.redact("---- [%s] %s %s\n%s" % (
        event["status"], event["title"],
        " ".join("%s=%s" % kv for kv in sorted(event["dimension_tags"].items())),
        event["message"])))
