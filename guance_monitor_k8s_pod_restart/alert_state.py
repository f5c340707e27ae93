"""The inspection's state between runs: one alert tracker, the baseline history, and the upgrade from the released layout.

- ``alert_key(cluster, namespace)``: the stable key of a namespace in both;
- ``tracker(checker, ctx, scope_list)``: the one ``AlertTracker`` (``alerts``) for every
  (cluster, namespace) — each alert keeps its own ``recover_after_runs`` in its ``info``;
- ``history(store)``: alert key -> recent clean windows ``[[end_ms, ratio], ...]``;
  ``baseline`` reads a namespace's (the median ratio), ``remember`` adds a window and
  ``trim_history`` forgets namespaces whose windows are all older than a day;
- **upgrade**: the released version kept one tracker per ``recover_after_runs`` value
  (``alerts-k<N>``, the values in use listed under ``trackers``). When the one tracker has
  no state yet, their open alerts are read into it once — each with its old N — so that
  users upgrading see them neither repeat nor vanish; the old keys are emptied when the
  run is committed.
"""
import json

from guance_monitor import alerts
from guance_monitor import state

TRACKER = "alerts"
HISTORY_KEY = "baseline"
LEGACY_LIST_KEY = "trackers"
LEGACY_PREFIX = "alerts-k"
HISTORY_RUNS = 8                 # clean windows kept for the baseline
HISTORY_MAX_AGE_MS = 24 * 3600 * 1000


def alert_key(cluster, namespace):
    """The stable key of a (cluster, namespace) in the alert state and the baseline history."""
    return json.dumps([cluster, namespace], ensure_ascii=False)


def split_key(key):
    """(cluster, namespace) of an alert key, or None for a key of another shape."""
    try:
        cluster, namespace = json.loads(key)
    except (ValueError, TypeError):
        return None
    return (cluster, namespace) if isinstance(cluster, str) and isinstance(namespace, str) else None


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


def baseline(history, end_ms):
    """(median ratio of the recent clean windows, number of windows); (0.0, 0) without history."""
    ratios = sorted(r for at, r in _recent(history, end_ms))
    if not ratios:
        return 0.0, 0
    middle = len(ratios) // 2
    value = ratios[middle] if len(ratios) % 2 else (ratios[middle - 1] + ratios[middle]) / 2.0
    return value, len(ratios)


def remember(history, end_ms, ratio):
    """The history with this clean window's ratio added (a re-run of the same window replaces it)."""
    kept = [(at, r) for at, r in _recent(history, end_ms) if at != end_ms]
    kept.append((end_ms, round(float(ratio), 6)))
    kept.sort()
    return [list(item) for item in kept[-HISTORY_RUNS:]]


def trim_history(history, end_ms):
    """The history without namespaces whose windows are all too old."""
    return {key: value for key, value in history.items() if baseline(value, end_ms)[1]}


def _recent(history, end_ms):
    out = []
    for item in history or []:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            continue
        at, ratio = item
        if isinstance(at, (int, float)) and isinstance(ratio, (int, float)) and \
                end_ms - HISTORY_MAX_AGE_MS <= at <= end_ms and 0 <= ratio <= 1:
            out.append((at, ratio))
    return out


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


class UpgradeView:
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
