"""The base class of every inspection: configs and filters in, events out.

A checker is built in the startup script (``main.K8SPodRestartCheck(configs=configs,
filters=[f])``) and run by the ``Runner`` inside the inspection's context. Building it
never fails: configs are validated when it runs, so that one checker's bad config
cannot stop the others.

Subclasses set ``name``, ``title`` and ``schema`` and implement ``inspect(ctx)``
(gather -> evaluate -> decide -> render), returning event dicts. ``ctx.deadline`` is
the checker's share of the run's time budget. State goes through
``self.tracker(ctx)`` (alert state), ``self.silence(ctx)`` (the no-data rule) and
``self.defer(store, key, value)`` (anything else a later run needs); the runner
commits them once the events are safely in the outbox, and never in a debug run.
Caches may be written at once.

**Never blind.** ``silence(ctx, runs)`` tracks the sources the checker depends on
(``SilenceWatch``): a source that gave nothing for ``runs`` consecutive runs raises one
warning event naming what went silent (``silence_event``), and an ``ok`` follows when
data returns. A source the run could not read (an error, an incomplete answer) is
unknown, not silent.
"""
from guance_monitor import alerts
from guance_monitor import clock
from guance_monitor import configs
from guance_monitor import report

DEFAULT_SILENT_RUNS = 3


class Checker:
    name = "checker"            # stable id: state namespace, the `check` of events
    title = "Checker"
    schema = configs.Schema([])
    reminder_seconds = 6 * 3600  # re-report a condition that is still there after this long
    recover_after_runs = 1      # consecutive healthy runs before an `ok`

    def __init__(self, configs=None, filters=None):
        self.raw_configs = configs
        self.raw_filters = filters
        self.entries = None
        self.filters = None
        self.stats = {}          # figures for the runner's summary (queries, calls, objects)
        self._trackers = []
        self._deferred = []      # (store, key, value) written by commit()

    def prepare(self):
        """Validate configs and filters (ConfigError naming the entry and field)."""
        self.entries = self.schema.parse(self.raw_configs)
        self.filters = configs.check_filters(self.raw_filters)

    def run(self, ctx):
        self._trackers = []
        self._deferred = []
        self.prepare()
        return self.inspect(ctx)

    def inspect(self, ctx):
        raise NotImplementedError

    def keep(self, obj):
        """True when every filter keeps ``obj``."""
        return configs.keep(obj, self.filters or [])

    def store(self, ctx):
        """This checker's part of the state store (separate per inspection, i.e. per refKey)."""
        return ctx.store.scoped("check:%s:%s" % (self.name, ctx.ref_key or "local"))

    def tracker(self, ctx, name="alerts", reminder_seconds=None, recover_after_runs=None):
        tracker = alerts.AlertTracker(
            self.store(ctx).scoped(name),
            reminder_seconds=self.reminder_seconds if reminder_seconds is None else reminder_seconds,
            recover_after_runs=self.recover_after_runs if recover_after_runs is None else recover_after_runs)
        self._trackers.append(tracker)
        return tracker

    def silence(self, ctx, name="silence"):
        """The no-data watch of this checker (committed with its alert state)."""
        watch = SilenceWatch(self.store(ctx).scoped(name))
        self._trackers.append(watch)
        return watch

    def defer(self, store, key, value):
        """Write ``value`` under ``key`` when the run is committed (not in a debug run)."""
        self._deferred.append((store, key, value))

    def state_problems(self):
        """What was wrong with the state this run read (unreadable or malformed alert state)."""
        out = []
        for tracker in self._trackers:
            for problem in tracker.problems:
                if problem not in out:
                    out.append(problem)
        return out

    def commit(self):
        """Persist the state computed in this run: alert state and deferred writes."""
        for tracker in self._trackers:
            tracker.commit()
        for store, key, value in self._deferred:
            store.set(key, value)
        self._deferred = []


class SilenceWatch:
    """Sources that went silent: one warning after ``runs`` empty runs in a row, an ``ok`` when data returns.

    ``update({source: has_data}, runs)`` takes ``True`` (data), ``False`` (nothing) or
    ``None`` (could not tell: left alone) per source, and ``runs`` as a number or a
    ``{source: runs}`` mapping (0 turns the rule off for a source). It returns the
    decisions (``alerts.Decision``); ``info[source]`` holds ``empty_runs`` and
    ``silent_since_ms`` of each source silent now.
    """

    def __init__(self, store):
        self.store = store
        self.tracker = alerts.AlertTracker(store.scoped("alerts"), reminder_seconds=24 * 3600)
        self.problems = self.tracker.problems
        self.info = {}
        self._counts = None
        self._pending = None

    def counts(self):
        if self._counts is None:
            value, problem = self.store.read("empty-runs")
            if problem:
                self.problems.append("the no-data counters could not be read (%s)" % problem)
            self._counts = {k: v for k, v in (value if isinstance(value, dict) else {}).items()
                                if isinstance(v, dict) and isinstance(v.get("runs"), int)}
        return self._counts

    def update(self, observed, runs=DEFAULT_SILENT_RUNS, now_ms=None):
        now_ms = clock.now_ms() if now_ms is None else now_ms
        counts = dict(self.counts())
        firing, healthy = {}, []
        for source, has_data in observed.items():
            needed = runs.get(source, DEFAULT_SILENT_RUNS) if isinstance(runs, dict) else runs
            if has_data is None:
                continue
            if has_data or not needed:
                counts.pop(source, None)
                healthy.append(source)
                continue
            before = counts.get(source) or {"runs": 0, "since_ms": now_ms}
            counts[source] = {"runs": before["runs"] + 1, "since_ms": before.get("since_ms") or now_ms}
            self.info[source] = {"empty_runs": counts[source]["runs"], "silent_since_ms": counts[source]["since_ms"]}
            if counts[source]["runs"] >= needed:
                firing[source] = "warning"
        self._pending = counts
        return self.tracker.update(firing, healthy, self.info, now_ms=now_ms)

    def commit(self):
        self.tracker.commit()
        if self._pending is not None:
            self.store.set("empty-runs", self._pending)
            self._counts = self._pending
            self._pending = None


def silence_event(check_title, decision, info, what, hint, dimension_tags, now_ms):
    """The warning (or ``ok``) event of a source that went silent (or came back).

    ``info``: the watch's ``info`` for the source (``empty_runs``, ``silent_since_ms``);
    ``what`` names the source, ``hint`` says what to check (markdown).
    """
    if decision.status == "ok":
        title = "%s：数据已恢复 / data is back: %s" % (check_title, report.md(what))
        message = "数据源重新有数据：%s\n\nThe source has data again: %s\n\n无数据开始于 / Silent since: %s\n" % (
            report.md(what), report.md(what), report.display_time(decision.since_ms))
        return {"title": _title(title), "status": "ok", "dimension_tags": dimension_tags, "message": message}
    runs = (info or {}).get("empty_runs", 0)
    title = "%s：数据源无数据 / no data: %s" % (check_title, report.md(what))
    message = ("巡检依赖的数据源连续 %d 次运行没有数据，巡检可能已失明。\n\nThe source this inspection depends on gave "
               "nothing for %d runs in a row: the inspection may be blind.\n\n%s\n\n**建议 / What to check:** %s\n") % (
        runs, runs, report.table(["项目 Item", "内容 Value"], [
            ("数据源 Source", what),
            ("无数据开始于 Silent since", report.display_time((info or {}).get("silent_since_ms") or now_ms)),
            ("检查时间 Checked", report.display_time(now_ms))], limit=0), hint)
    return {"title": _title(title), "status": "warning", "dimension_tags": dimension_tags, "message": message}


def _title(text, limit=256):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"
