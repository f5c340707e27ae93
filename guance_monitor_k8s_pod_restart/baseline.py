"""Where a namespace's baseline comes from, in order (``choose``), and what the report says about it.

1. **state** — the inspection's own history: the median ratio of the namespace's recent clean
   windows (``alert_state.baseline``);
2. **alert** — an open alert without such history keeps the baseline it fired against (stored in
   the alert's ``info``), so that a lasting incident is never learnt as normal;
3. **guance** — otherwise Guance's own history (first run after install, state lost): the share of
   the namespace's (pod, 30-minute window) pairs whose restart counter rose over the
   ``HISTORY_WINDOWS`` windows before this one (``facts.HistoryShare``, one query for every such
   namespace at once, counted on the server), when its points amount to at least ``MIN_WINDOWS``
   windows of the namespace's pods (``coverage``: points / (pods x points a pod has in this window),
   whatever DataKit's interval; a namespace whose data began minutes before the window has none);
4. **none** — no history anywhere: 0; **unknown** — Guance's history could not be read: 0, said so.

The Guance share counts every pod of the namespace (Job pods included) and the restarts their
counters show (not evictions): an approximation of the ratio, read the same way.
"""
from dataclasses import dataclass
from typing import Optional

from guance_monitor_k8s_pod_restart import alert_state
from guance_monitor_k8s_pod_restart import facts

HISTORY_WINDOWS = 8              # windows of Guance's history read (4 hours before the window)
MIN_WINDOWS = 2                  # ... covering at least this many windows of the namespace's pods
SOURCES = ("state", "alert", "guance", "none", "unknown")


@dataclass
class Baseline:
    value: float = 0.0
    source: str = "none"
    windows: int = 0                                  # own clean windows (source "state")
    share: Optional[facts.HistoryShare] = None        # Guance's history (source "guance", or too short)
    opened_from: str = ""                             # the source the open alert's baseline came from


def history_range(window):
    """[start_ms, end_ms] of Guance's history read for the baseline: the windows before this one."""
    return window.start_ms - HISTORY_WINDOWS * facts.WINDOW_MS, window.start_ms - 1


def choose(own, alert_entry, share, asked, readable, population, per_window, end_ms):
    """The ``Baseline`` of a namespace.

    ``own``: its own history (``[[end_ms, ratio]]``); ``alert_entry``: its open alert or None;
    ``share``: its ``facts.HistoryShare`` or None; ``asked``: whether Guance's history was asked for it;
    ``readable``: whether that answer was whole; ``population``: its pods counted now; ``per_window``: the
    points its fullest pod has in this window (what one window of one pod amounts to).
    """
    value, windows = alert_state.baseline(own, end_ms)
    if windows:
        return Baseline(value, "state", windows)
    if alert_entry is not None:
        info = alert_entry.get("info") or {}
        stored = info.get("baseline")
        if isinstance(stored, bool) or not isinstance(stored, (int, float)) or not 0 <= stored <= 1:
            stored = 0.0
        return Baseline(float(stored), "alert", opened_from=str(info.get("baseline_from") or ""))
    if not asked:
        return Baseline()
    if not readable:
        return Baseline(source="unknown")
    if share is not None and share.pod_windows and coverage(share, population, per_window) >= MIN_WINDOWS:
        return Baseline(share.share, "guance", share=share)
    return Baseline(share=share)


def coverage(share, population, per_window):
    """How many windows of the namespace's pods Guance's history amounts to (its points over what one window of
    all its pods has now)."""
    return share.points / float(max(population, 1) * max(per_window, 1))


def unsettled(pairs, history, open_keys, end_ms):
    """The (cluster or None, namespace) pairs whose baseline must come from Guance: no own history, no open alert."""
    out = set()
    opened = set(open_keys)
    for cluster, namespace in pairs:
        if cluster is not None:
            key = alert_state.alert_key(cluster, namespace)
            if (cluster, namespace) in opened or alert_state.baseline((history or {}).get(key), end_ms)[1]:
                continue
        out.add((cluster, namespace))
    return out


def text(baseline):
    """Where the baseline came from, for the report (bilingual)."""
    if baseline.source == "state":
        return "最近 %d 个正常窗口的中位数 / median of the last %d clean windows" % (baseline.windows, baseline.windows)
    if baseline.source == "alert":
        origin = SOURCE_TEXT.get(baseline.opened_from, "")
        return "告警开始时的基线%s / the baseline when the alert opened%s" % (
            "（%s）" % origin if origin else "", " (%s)" % origin if origin else "")
    if baseline.source == "guance":
        share = baseline.share
        return ("观测云历史：窗口前 %d 小时内 %d 个 Pod·窗口中 %d 个有重启（kube_pod） / Guance's history: %d of %d "
                "pod-windows restarted in the %d hours before the window (kube_pod)" % (
                    HISTORY_WINDOWS // 2, share.pod_windows, share.restarted, share.restarted, share.pod_windows,
                    HISTORY_WINDOWS // 2))
    if baseline.source == "unknown":
        return ("观测云历史读取失败，按 0 计 / Guance's history could not be read, taken as 0")
    if baseline.share is not None and baseline.share.pod_windows:
        return ("观测云中窗口前的历史不足 %d 个窗口（%d 个点），按 0 计 / too little history in Guance before the window "
                "(%d points, less than %d windows of the namespace's pods), taken as 0" % (
                    MIN_WINDOWS, baseline.share.points, baseline.share.points, MIN_WINDOWS))
    return "巡检与观测云中都没有历史，按 0 计 / no history in the inspection or in Guance, taken as 0"


SOURCE_TEXT = {"state": "巡检历史 / the inspection's history", "guance": "观测云历史 / Guance's history",
               "none": "无历史 / no history", "unknown": "历史未知 / history unknown", "alert": ""}
