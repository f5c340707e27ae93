"""Decide: verdicts and alert state in, a ``Plan`` out — what to report, and what the next run remembers.

``plan(namespaces, verdicts, obs, scope_list, tracker, watch, history)``:

- **alerts** — one ``AlertTracker`` for every (cluster, namespace) and for the run's
  incomplete data (key ``INCOMPLETE``): a firing verdict fires (the alert keeps the baseline
  it fired against and where it came from); a namespace between the
  thresholds keeps an open alert open (its count of clean runs restarts); a clean one
  counts towards recovery after its own ``recover_after_runs`` (kept with the alert, so a
  changed K applies from the next incident on); no data and unknown views leave the
  alert alone;
- **history** — after the decision: the ratio of every window that did not fire outside
  an open alert joins the namespace's baseline history; a namespace with history whose
  counters did not move is remembered at 0 (only when the view of changes was whole);
- **silence** — the sources the inspection depends on (every pod, each configured
  cluster and named namespace) are handed to the core's ``SilenceWatch``;
- **data gaps** — what the queries could not fetch, for the incomplete-data event.

Nothing here reads or writes outside the tracker, the watch and the returned ``Plan``.
"""
from dataclasses import dataclass
from dataclasses import field
from typing import Dict
from typing import List
from typing import Optional

from guance_monitor.alerts import Decision
from guance_monitor_k8s_pod_restart import alert_state
from guance_monitor_k8s_pod_restart import facts

INCOMPLETE = "incomplete-data"
ALL_PODS = "kube_pod"
SOURCE_NAMES = {
    "changes": "重启计数变化的命名空间 / namespaces whose restart counters changed",
    "presence": "各集群的 Pod 数 / pods reporting per cluster",
    "named namespaces": "配置中点名的命名空间 / the namespaces configs name",
    "nodes": "节点对象 / node objects (kubernetes_nodes)",
    "lost-node namespaces": "丢失节点上的 Pod / pods on lost nodes",
    "events": "Kubernetes 事件 / Kubernetes events (kubernetes_events)",
    "pod objects": "Pod 对象与 YAML / pod objects and YAML (kubelet_pod)",
    "pod counters": "逐 Pod 的重启计数 / per-pod restart counters (kube_pod)",
    "container memory": "容器内存 / container memory (docker_containers)",
    "baseline history": "观测云中的历史重启比例 / the restart history in Guance (kube_pod, for the baseline)",
    "workload revisions": "发布中工作负载的 Pod / pods of workloads rolling out (kubelet_pod)",
    "ecs spot": "ECS 抢占式实例回收锁 / ECS spot Recycling locks (CO::aliyun_ecs)",
}


@dataclass
class Silence:
    decision: Decision
    source: str
    cluster: Optional[str] = None
    namespace: Optional[str] = None
    info: dict = field(default_factory=dict)


@dataclass
class Plan:
    alerts: List[Decision] = field(default_factory=list)       # namespace alerts, in key order
    data: Optional[Decision] = None                            # the incomplete-data event, when due
    gaps: List[str] = field(default_factory=list)                     # what the queries could not fetch
    unknown: List[str] = field(default_factory=list)                  # namespaces left alone: view not whole
    silence: List[Silence] = field(default_factory=list)
    history: Dict[str, list] = field(default_factory=dict)
    recover_after: Dict[str, int] = field(default_factory=dict)
    verdicts: Dict[str, object] = field(default_factory=dict)          # alert key -> analyse.Verdict


def plan(namespaces, verdicts, obs, scope_list, tracker, watch, history):
    """The run's ``Plan`` (calls ``tracker.update`` and ``watch.update`` once each; commits nothing)."""
    end_ms = obs.window.end_ms
    open_state = tracker.state()
    firing, healthy, info, recover_after = alert_inputs(namespaces, verdicts, open_state)
    gaps = gap_texts(obs)
    signature = sorted(gaps)
    if gaps:
        firing[INCOMPLETE] = "warning"
        info[INCOMPLETE] = {"gaps": signature}
    else:
        healthy.append(INCOMPLETE)
    recover_after[INCOMPLETE] = 1
    decisions = tracker.update(firing, healthy, info=info, now_ms=end_ms, recover_after=recover_after)
    out = Plan(gaps=gaps, recover_after=recover_after, verdicts=dict(verdicts))
    out.alerts = sorted((d for d in decisions if d.key != INCOMPLETE), key=lambda d: d.key)
    out.data = ([d for d in decisions if d.key == INCOMPLETE] or [None])[0]
    before = (open_state.get(INCOMPLETE) or {}).get("info") or {}
    if out.data is None and gaps and before.get("gaps") != signature:
        out.data = Decision(INCOMPLETE, "warning", "changed", open_state.get(INCOMPLETE))
    out.unknown = sorted(k for k, v in verdicts.items() if v.verdict == "unknown")
    out.history = next_history(namespaces, verdicts, open_state, obs, history)
    out.silence = silence(obs, scope_list, watch)
    return out


def alert_inputs(namespaces, verdicts, open_state):
    """(firing, healthy, info, recover_after) for the tracker, from the verdicts."""
    firing, healthy, info, recover_after = {}, [], {}, {}
    for key, ns in namespaces.items():
        verdict = verdicts[key]
        previous = open_state.get(key)
        runs = _kept_runs(previous) or ns.scope.thresholds["recover_after_runs"]
        recover_after[key] = runs
        if verdict.verdict == "fire":
            firing[key] = verdict.status
            info[key] = {"ratio": ns.figures.ratio, "recover_after": runs, "baseline": ns.baseline,
                         "baseline_from": _origin(ns.baseline_info)}
        elif verdict.verdict == "between" and previous is not None:
            firing[key] = previous["status"]            # hysteresis: still open, the clean count restarts
        elif verdict.verdict == "clean":
            healthy.append(key)
    for key, previous in open_state.items():
        if key not in recover_after and _kept_runs(previous):
            recover_after[key] = _kept_runs(previous)
    return firing, healthy, info, recover_after


def _origin(found):
    """Where the baseline an alert fires against came from (kept with the alert: an open alert keeps it)."""
    if found.source == "alert":
        return found.opened_from or "state"
    return found.source


def _kept_runs(entry):
    runs = ((entry or {}).get("info") or {}).get("recover_after")
    return runs if isinstance(runs, int) and not isinstance(runs, bool) and runs > 0 else None


def next_history(namespaces, verdicts, open_state, obs, history):
    """The baseline history after this run's decision."""
    end_ms = obs.window.end_ms
    out = dict(history or {})
    for key, ns in namespaces.items():
        verdict = verdicts[key].verdict
        if verdict == "clean" or (verdict == "between" and key not in open_state):
            out[key] = alert_state.remember(out.get(key), end_ms, ns.figures.ratio)
    if obs.complete("changes", "presence"):
        for key in list(out):
            pair = alert_state.split_key(key)
            if key in namespaces or pair is None or pair in obs.changes:
                continue
            latest = obs.cluster_latest_ms(pair[0])
            if latest is not None and facts.data_state(latest, end_ms) == "ok":
                out[key] = alert_state.remember(out.get(key), end_ms, 0.0)
    return alert_state.trim_history(out, end_ms)


def gap_texts(obs):
    """One line per query whose answer may be short: what is missing, and why."""
    out = []
    for name, gap in obs.gaps():
        line = "%s: %s" % (SOURCE_NAMES.get(name, name), gap)
        if line not in out:
            out.append(line)
    return out


# -- never blind --------------------------------------------------------------------------------

def silence(obs, scope_list, watch):
    """The no-data decisions of every source: all pods, each configured cluster, each named namespace."""
    observed, runs, where = {}, {}, {}
    fresh = {c: facts.data_state(obs.cluster_latest_ms(c), obs.window.end_ms) == "ok"
             for c in obs.cluster_minutes}
    presence = obs.complete("presence")
    observed[ALL_PODS] = any(fresh.values()) if presence else None
    runs[ALL_PODS] = max(s.no_data_runs for s in scope_list)
    where[ALL_PODS] = (None, None)
    for scope in scope_list:
        if scope.cluster is not None and not scope.namespaces:
            source = "cluster:%s" % scope.cluster
            observed[source] = fresh.get(scope.cluster, False) if presence else None
            runs[source], where[source] = scope.no_data_runs, (scope.cluster, None)
        for namespace in scope.namespaces or []:
            source = "namespace:%s/%s" % (scope.cluster or "*", namespace)
            seen = [pods for (c, n), pods in obs.namespace_pods.items()
                    if n == namespace and (scope.cluster is None or c == scope.cluster)]
            observed[source] = any(seen) if obs.complete("named namespaces") else None
            runs[source], where[source] = scope.no_data_runs, (scope.cluster, namespace)
    out = []
    for decision in watch.update(observed, runs, now_ms=obs.window.end_ms):
        cluster, namespace = where.get(decision.key, (None, None))
        out.append(Silence(decision, decision.key, cluster, namespace, dict(watch.info.get(decision.key) or {})))
    return out
