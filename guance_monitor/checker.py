"""The base class of every inspection: configs and filters in, events out.

A checker is built in the startup script (``main.K8SPodRestartCheck(configs=configs,
filters=[f])``) and run by the ``Runner`` inside the inspection's context.
Building it never fails: configs are validated when it runs, so that one
checker's bad config cannot stop the others.

Subclasses set ``name``, ``title`` and ``schema`` and implement ``inspect(ctx)``
as collect -> analyse -> render, returning event dicts. State goes through
``self.tracker(ctx)`` (alert state) and ``self.defer(store, key, value)``
(anything else a later run needs); the runner commits both after the events
were handed to the reporter, and never in a debug run. Caches may be written
at once.
"""
from guance_monitor import alerts
from guance_monitor import configs


class Checker(object):
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
        self.prepare()
        self._trackers = []
        self._deferred = []
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

    def defer(self, store, key, value):
        """Write ``value`` under ``key`` when the run is committed (not in a debug run)."""
        self._deferred.append((store, key, value))

    def commit(self):
        """Persist the state computed in this run: alert state and deferred writes."""
        for tracker in self._trackers:
            tracker.commit()
        for store, key, value in self._deferred:
            store.set(key, value)
        self._deferred = []
