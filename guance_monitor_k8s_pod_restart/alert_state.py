"""The inspection's state between runs: one alert tracker, the baseline history, and the upgrade from the released layout.

- ``tracker(checker, ctx, scope_list)``: the one ``AlertTracker`` (``alerts``) for every
  (cluster, namespace) — each alert keeps its own ``recover_after_runs`` in its ``info``;
- ``history(store)``: alert key -> recent clean windows ``[[end_ms, ratio], ...]``;
- **upgrade**: the released version kept one tracker per ``recover_after_runs`` value
  (``alerts-k<N>``, the values in use listed under ``trackers``). When the one tracker has
  no state yet, their open alerts are read into it once — each with its old N — so that
  users upgrading see them neither repeat nor vanish; the old keys are emptied when the
  run is committed.
"""
from guance_monitor import alerts
from guance_monitor import state

TRACKER = "alerts"
HISTORY_KEY = "baseline"
LEGACY_LIST_KEY = "trackers"
LEGACY_PREFIX = "alerts-k"


def tracker(checker, ctx, scope_list):
    """The inspection's alert tracker, with the released version's open alerts when it has none of its own."""
    store = checker.store(ctx)
    one = checker.tracker(ctx, name=TRACKER)
    legacy = legacy_entries(store, scope_list)
    if legacy:
        one.store = UpgradeView(one.store, legacy)
        if one.state() == legacy:
            for runs in legacy_runs(store, scope_list):
                checker.defer(store.scoped(LEGACY_PREFIX + str(runs)), alerts.STATE_KEY, {})
            checker.defer(store, LEGACY_LIST_KEY, [])
    return one


def history(store):
    value = store.get(HISTORY_KEY)
    return value if isinstance(value, dict) else {}


def legacy_runs(store, scope_list):
    """The ``recover_after_runs`` values whose trackers the released version may have written."""
    listed = store.get(LEGACY_LIST_KEY)
    runs = set(k for k in listed if isinstance(k, int) and not isinstance(k, bool) and k > 0) \
        if isinstance(listed, list) else set()
    runs.update(s.thresholds["recover_after_runs"] for s in scope_list)
    return sorted(runs)


def legacy_entries(store, scope_list):
    """The open alerts of the released version's trackers, each with its N in ``info.recover_after``."""
    merged = {}
    for runs in legacy_runs(store, scope_list):
        value, problem = store.scoped(LEGACY_PREFIX + str(runs)).read(alerts.STATE_KEY)
        if problem or not isinstance(value, dict):
            continue
        for key, entry in value.items():
            if alerts.entry_problem(entry) is None and key not in merged:
                info = dict(entry.get("info") or {}, recover_after=runs)
                merged[key] = dict(entry, info=info)
    return merged


class UpgradeView(object):
    """The tracker's store, reading the released version's alerts while the tracker's own key is missing."""

    def __init__(self, inner, legacy):
        self.inner = inner
        self.legacy = legacy

    def read(self, key):
        value, problem = self.inner.read(key)
        if key == alerts.STATE_KEY and not problem and (value is state.MISSING or value is None):
            return dict(self.legacy), None
        return value, problem

    def set(self, key, value, expires=None):
        return self.inner.set(key, value, expires=expires)
