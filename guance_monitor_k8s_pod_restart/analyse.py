"""Figures and verdicts: the detection rules, as small pure functions over the run's facts.

Per (cluster, namespace), over the last 30 minutes:

    ratio = abnormal pods / pods in the population     (every pod of the namespace hit in the window)

- a pod is **restarted** when its ``restarts`` counter rose in the window (keyed
  by pod uid; a counter that goes down belongs to a new container, see
  ``restart_delta``);
- a pod is **disrupted** when it was evicted, preempted, lost with its node or
  released as a spot instance in the window (events, ``Failed`` pod objects,
  nodes that vanished, ECS spot instances being reclaimed), even though its
  replacement starts at 0;
- the **population** is the pods seen in the window, minus those not counted:
  Job/CronJob pods, workloads excluded by configs, pods replaced by a rollout,
  pods deleted or replaced without a disruption, replacements of disrupted pods
  (the disrupted pod already stands for that slot) and pods that had failed
  before the window. Restarts with exit code 0 and restarts caused by a true node
  reboot (``nodes.reboots``: a new boot ID, the node registered anew) stay in the
  population but are not abnormal. Restarts while the node was ``NotReady``,
  under memory or disk pressure or out of memory are abnormal, with the node's
  condition as their cause (``node_condition``).

``assess(observation, scope_of, history, open_state)`` builds one ``Namespace`` per
inspected (cluster, namespace) in one pass — pods categorised, causes weighed
(``causes.weigh`` with the node's OOM kills and conditions and the pod's memory),
rollouts named (``rollouts.attribute``), ``Figures`` counted, the baseline chosen
(``baseline.choose``: the inspection's history, an open alert's, Guance's history) —
and ``judge`` gives its ``Verdict``: **fire** when the ratio reaches
``max(min_ratio, baseline x rise_factor)`` and the abnormal pods are
``min_restarted_pods`` or more (or restarted ``min_restarts`` times or more);
``severity`` grows with the ratio.
"""
import re
from dataclasses import dataclass
from dataclasses import field
from typing import List
from typing import Optional

from guance_monitor import clock
from guance_monitor import report
from guance_monitor_k8s_pod_restart import alert_state
from guance_monitor_k8s_pod_restart import baseline as baselines
from guance_monitor_k8s_pod_restart import causes
from guance_monitor_k8s_pod_restart import facts
from guance_monitor_k8s_pod_restart import nodes as node_facts
from guance_monitor_k8s_pod_restart import rollouts

WINDOW_MS = facts.WINDOW_MS
MAX_RESTARTS = 1000000           # a restart counter above this is not a counter
ALIVE_SLACK_MS = 3 * 60 * 1000   # last point this close to the cluster's latest point: the pod is still there
NEW_POD_SHARE = 0.8              # a live pod with fewer samples than this share of the fullest pod appeared
REBOOT_MAX_RESTARTS = node_facts.REBOOT_MAX_RESTARTS

SEVERITY_BANDS = ((0.5, "critical"), (0.25, "error"), (0.0, "warning"))

# exclusion -> (stays in the population, zh, en)
EXCLUSIONS = {
    "job": (False, "Job/CronJob 的 Pod（运行完成即退出，不计入）", "Job/CronJob pod (runs to completion; not counted)"),
    "configured": (False, "按配置排除的工作负载", "workload excluded by configs"),
    "rollout": (False, "发布：被新版本替换", "rollout: replaced by a new revision"),
    "replaced": (False, "被替换（无驱逐/节点丢失迹象：发布、扩缩容或手动删除）",
                 "replaced without a disruption (rollout, scaling or a manual delete)"),
    "deleted": (False, "已删除（缩容或手动删除）", "deleted (scale-down or a manual delete)"),
    "replacement": (False, "替换被中断 Pod 的新 Pod（与原 Pod 只计一次）",
                    "replacement of a disrupted pod (counted once, with the pod it replaced)"),
    "failed_before": (False, "窗口开始前已失败", "had failed before the window"),
    "exit0": (True, "容器以退出码 0 结束后被重启（正常退出）", "restarted after exiting with code 0"),
    "node_reboot": (True, "节点重启导致的重启（归因于节点，新的 boot ID 或节点重新注册）",
                    "restarted by a node reboot (a new boot ID or the node registered anew: attributed to the node)"),
}
ABNORMAL = ("restarted", "disrupted")

# reason -> (cause, terminal): terminal reasons count even while the pod is still listed
DISRUPTION_EVENTS = {
    "Evicted": ("eviction", True),
    "Preempted": ("eviction", True),
    "TaintManagerEviction": ("node_lost", True),
    "BidFailed": ("spot", True),
    "SpotToBeReleased": ("spot", False),
    "NodeNotReady": ("node_lost", False),
    "NodeShutdown": ("node_lost", False),
    "Shutdown": ("node_lost", False),
}
FAILED_STATUS_CAUSES = {
    "Evicted": "eviction", "OutOfmemory": "eviction", "OutOfcpu": "eviction", "UnexpectedAdmissionError": "eviction",
    "BidFailed": "spot", "NodeLost": "node_lost", "Shutdown": "node_lost", "Terminated": "node_lost",
}
TROUBLE_SHARE = 0.5              # a node condition is a pod's cause when it covers this share of its restarts
_RELEASE_IN = re.compile(r"released in (\d+) minute")
_RELEASED_AT = re.compile(r"released at (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?Z?)")


# -- counters ---------------------------------------------------------------------------------

def restart_delta(first, last, maximum, minimum):
    """(restarts in the window, whether the counter went down) from its first/last/max/min.

    A counter that only rises has ``min == first`` and ``max == last``: the
    restarts are ``last - first``. Otherwise it went down somewhere (a new
    container after a kubelet or node restart): the rises before and after the
    drop are at least ``max - first`` and ``last - min``; the larger is kept.
    """
    if None in (first, last, maximum, minimum):
        return 0, False
    if minimum == first and maximum == last:
        return int(last - first), False
    return int(max(maximum - first, last - minimum, 0)), True


def counter_problem(pod):
    """Why a pod's counter series is unusable (missing tags, absurd values), or None."""
    if not pod.get("namespace"):
        return "kube_pod points without the namespace tag"
    if not pod.get("uid"):
        return "kube_pod points without the uid tag (pod %s)" % (pod.get("pod") or "?")
    for key in ("first", "last", "max", "min"):
        value = pod.get(key)
        if value is None:
            return "pod %s has no %s value of restarts" % (pod.get("pod") or pod["uid"], key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            return "pod %s: restarts %r is not a number" % (pod.get("pod") or pod["uid"], value)
        if value < 0 or value > MAX_RESTARTS:
            return "pod %s: restarts counter %s is not a restart count (expected 0 to %d)" % (
                pod.get("pod") or pod["uid"], _show_number(value), MAX_RESTARTS)
    return None


def validate(pods):
    """(usable pods, [(pod, problem)]) with ``delta`` and ``reset`` set on the usable ones."""
    kept, rejected = [], []
    for pod in pods:
        problem = counter_problem(pod)
        if problem:
            rejected.append((pod, problem))
            continue
        pod["delta"], pod["reset"] = restart_delta(pod["first"], pod["last"], pod["max"], pod["min"])
        kept.append(pod)
    return kept, rejected


def _show_number(value):
    return ("%d" % value) if float(value).is_integer() and abs(value) < 1e15 else ("%g" % value)


# -- presence ---------------------------------------------------------------------------------

def mark_presence(pods, reported=None):
    """Set ``alive`` (still reported at the end of the data) and ``new`` (appeared in the window).

    ``reported``: cluster -> the latest minute its pods reported (all of its pods, not only
    these); returns cluster -> the latest time known.
    """
    latest = {c: ms for c, ms in (reported or {}).items() if ms is not None}
    fullest = {}
    for pod in pods:
        cluster = pod["cluster"]
        if pod.get("last_ms") is not None:
            latest[cluster] = max(latest.get(cluster, 0), pod["last_ms"])
        key = (cluster, pod["namespace"])
        fullest[key] = max(fullest.get(key, 0), pod.get("samples") or 0)
    for pod in pods:
        end = latest.get(pod["cluster"])
        pod["alive"] = end is not None and pod.get("last_ms") is not None and pod["last_ms"] >= end - ALIVE_SLACK_MS
        most = fullest.get((pod["cluster"], pod["namespace"]), 0)
        pod["new"] = bool(pod["alive"] and most >= 5 and (pod.get("samples") or 0) < NEW_POD_SHARE * most)
    return latest


# -- disruption -------------------------------------------------------------------------------

def disruption(pod, events, failed, node):
    """(cause, evidence) when the pod was disrupted in the window, else None.

    ``events``: the disruption events about this pod in the window; ``failed``:
    its Failed pod object or None; ``node``: the NodeInfo of its node or None. A pod
    lost with a node that was an ECS spot instance being reclaimed is a spot reclaim.
    """
    found = _disruption(pod, events, failed, node)
    if found and found[0] == "node_lost" and node is not None and node.spot is not None:
        return "spot", found[1] + "; " + spot_text(node)
    return found


def _disruption(pod, events, failed, node):
    ordered = sorted(events, key=lambda e: e.get("time_ms") or 0)
    terminal = [e for e in ordered if DISRUPTION_EVENTS.get(e["reason"], (None, False))[1]]
    if terminal:
        event = terminal[-1]
        return DISRUPTION_EVENTS[event["reason"]][0], _event_evidence(event)
    soft = [e for e in ordered if e["reason"] in DISRUPTION_EVENTS]
    gone_or_failed = not pod.get("alive") or failed is not None
    if failed is not None:
        ran_in_window = (pod.get("ready_max") or 0) > 0 or bool(soft)
        if ran_in_window:
            cause = FAILED_STATUS_CAUSES.get(failed.get("status") or "")
            if cause is None and soft:
                cause = DISRUPTION_EVENTS[soft[-1]["reason"]][0]
            if cause is None and node is not None and node.lost:
                cause = "node_lost"
            evidence = "Pod %s（phase %s）" % (failed.get("status") or "Failed", failed.get("phase") or "Failed")
            if soft:
                evidence += "; " + _event_evidence(soft[-1])
            return cause or "unknown", evidence
    if gone_or_failed and soft:
        return DISRUPTION_EVENTS[soft[-1]["reason"]][0], _event_evidence(soft[-1])
    if not pod.get("alive") and node is not None and node.lost:
        return "node_lost", node.lost_text()
    return None


def spot_text(node):
    """The evidence that a node is an ECS spot instance being reclaimed, with the time the lock was seen."""
    instance = node.spot
    seen = report.display_time(instance.seen_ms) if instance.seen_ms is not None else "?"
    return "ECS 抢占式实例 %s（节点 %s）于 %s 持有 Recycling 锁（CO::aliyun_ecs） / ECS spot instance %s (node %s) " \
           "held the Recycling lock at %s (CO::aliyun_ecs)" % (instance.instance_id, node.name, seen,
                                                              instance.instance_id, node.name, seen)


def spot_notice(events, failed_message=None, node=None):
    """(notice ms, release ms) of a spot reclaim: the ``SpotToBeReleased`` event ("released in N minutes"), the
    ``BidFailed`` status ("released at ..."), or the time the ECS Recycling lock was seen; None when unknown."""
    notices = sorted((e for e in events if e.get("reason") == "SpotToBeReleased"), key=lambda e: e.get("time_ms") or 0)
    notice = release = None
    if notices:
        notice = notices[0].get("time_ms")
        found = _RELEASE_IN.search(notices[0].get("message") or "")
        if found and notice is not None:
            release = notice + int(found.group(1)) * 60000
    for text in [failed_message or ""] + [e.get("message") or "" for e in events if e.get("reason") == "BidFailed"]:
        found = _RELEASED_AT.search(text)
        if found:
            try:
                release = clock.to_ms(clock.parse_time(found.group(1) if found.group(1).endswith("Z")
                                                       else found.group(1) + "Z"))
            except (ValueError, TypeError):
                pass
            break
    if notice is None and node is not None and node.spot is not None:
        notice = node.spot.seen_ms
    return notice, release


def _event_evidence(event):
    message = (event.get("message") or "").strip()
    if len(message) > 160:
        message = message[:157] + "..."
    return "%s: %s" % (event["reason"], message) if message else event["reason"]


# -- workloads --------------------------------------------------------------------------------

def workload_of(pod):
    """(kind, name) of the pod's workload; a bare pod is its own workload."""
    if pod.get("owner"):
        return pod.get("owner_kind") or "replicaset", pod["owner"]
    return "pod", pod.get("pod") or pod.get("uid")


template_hash = rollouts.template_hash


def rollout_hashes(events):
    """(namespace, deployment) -> template hashes a ScalingReplicaSet event scaled up in the window."""
    out = {}
    for event in events:
        if event.get("reason") != "ScalingReplicaSet" or event.get("kind") != "Deployment":
            continue
        message = event.get("message") or ""
        marker = "Scaled up replica set "
        if marker not in message:
            continue
        replica_set = message.split(marker, 1)[1].split()[0] if message.split(marker, 1)[1].split() else ""
        deployment = event.get("name") or ""
        if replica_set.startswith(deployment + "-"):
            out.setdefault((event.get("namespace") or "", deployment), set()).add(replica_set[len(deployment) + 1:])
    return out


def classify_vanished(workload_pods, scaled_up=None):
    """Set the exclusion of pods that left the workload without a disruption, and mark replacements.

    A Deployment pod whose template hash is not among those running at the end
    (or that a ScalingReplicaSet event replaced) left in a **rollout**; another
    pod that left while new ones came is **replaced**; one that left alone was
    **deleted**. New pods standing in for disrupted pods are **replacement**s.
    """
    kind = workload_pods[0].get("owner_kind") if workload_pods else None
    owner = workload_pods[0].get("owner") if workload_pods else None
    alive_hashes = set(template_hash(p.get("pod"), owner) for p in workload_pods
                       if p.get("alive") and kind == "deployment") - {None}
    new_hashes = set(scaled_up or ())
    new_pods = [p for p in workload_pods if p.get("new") and p.get("category") is None and not p.get("delta")]
    left = [p for p in workload_pods if not p.get("alive") and p.get("category") is None]
    disrupted = [p for p in workload_pods if p.get("category") == "disrupted"]
    for pod in left:
        pod_hash = template_hash(pod.get("pod"), owner) if kind == "deployment" else None
        if pod_hash is not None and ((alive_hashes and pod_hash not in alive_hashes) or
                                     (new_hashes and pod_hash not in new_hashes)):
            exclude(pod, "rollout")
        elif new_pods:
            exclude(pod, "replaced")
        else:
            exclude(pod, "deleted")
    for pod in new_pods[:len(disrupted)]:
        exclude(pod, "replacement")


def exclude(pod, key, note=None):
    pod["category"] = "excluded"
    pod["exclusion"] = key
    if note:
        pod.setdefault("evidence", []).append(note)


# -- figures ----------------------------------------------------------------------------------

@dataclass
class Figures:
    pods: int = 0
    population: int = 0
    abnormal: int = 0
    restarted: int = 0
    disrupted: int = 0
    excluded: int = 0
    restarts: int = 0
    ratio: Optional[float] = None

    @property
    def not_counted(self):
        """Pods seen but left out of the population (Job pods, replacements, rollouts...)."""
        return self.pods - self.population


def in_population(pod):
    if pod.get("category") != "excluded":
        return True
    return EXCLUSIONS[pod["exclusion"]][0]


def figures(pods):
    """The namespace's counts: population, abnormal pods, restarts in the window, the ratio."""
    population = [p for p in pods if in_population(p)]
    abnormal = [p for p in population if p.get("category") in ABNORMAL]
    restarts = sum(p.get("delta") or 0 for p in abnormal if p["category"] == "restarted")
    restarts += sum(1 for p in abnormal if p["category"] == "disrupted")
    return Figures(
        pods=len(pods), population=len(population), abnormal=len(abnormal),
        restarted=sum(1 for p in abnormal if p["category"] == "restarted"),
        disrupted=sum(1 for p in abnormal if p["category"] == "disrupted"),
        excluded=sum(1 for p in pods if p.get("category") == "excluded"),
        restarts=restarts, ratio=(float(len(abnormal)) / len(population)) if population else None)


# -- verdicts ---------------------------------------------------------------------------------

@dataclass
class Verdict:
    verdict: str                     # fire | clean | between | nodata | unknown
    status: Optional[str] = None     # the severity when firing
    threshold: Optional[float] = None
    significant: bool = False


def severity(ratio):
    for floor, status in SEVERITY_BANDS:
        if ratio >= floor:
            return status
    return "warning"


def evaluate(figs, thresholds, baseline):
    """The ``Verdict`` of a namespace's figures against its thresholds and baseline.

    - **fire**: enough abnormal pods (``min_restarted_pods``) or restarts
      (``min_restarts``), and the ratio at least ``max(min_ratio, baseline x
      rise_factor)`` and above the baseline; ``status`` by ``SEVERITY_BANDS``.
    - **clean**: not firing, and either too few to matter or the ratio back at
      ``max(baseline, min_ratio / 2)``: counts towards recovery.
    - **between**: neither (hysteresis: an open alert stays open).
    """
    ratio = figs.ratio
    if ratio is None:
        return Verdict("nodata")
    threshold = max(thresholds["min_ratio"], baseline * thresholds["rise_factor"])
    significant = figs.abnormal >= thresholds["min_restarted_pods"] or figs.restarts >= thresholds["min_restarts"]
    if significant and figs.abnormal > 0 and ratio >= threshold and ratio > baseline:
        return Verdict("fire", severity(ratio), threshold, True)
    if not significant or ratio <= max(baseline, thresholds["min_ratio"] / 2.0):
        return Verdict("clean", None, threshold, significant)
    return Verdict("between", None, threshold, significant)


def judge(ns):
    """The namespace's ``Verdict``: ``nodata`` without fresh data; ``unknown`` when its pods' counters are not
    whole, or its view is clean but its disruption or cause sources are not (never "no restarts" from less)."""
    if ns.data == "incomplete":
        return Verdict("unknown")
    if ns.data != "ok":
        return Verdict("nodata")
    verdict = evaluate(ns.figures, ns.scope.thresholds, ns.baseline)
    if verdict.verdict == "clean" and ns.partial:
        return Verdict("unknown", None, verdict.threshold, verdict.significant)
    return verdict


# -- one namespace ----------------------------------------------------------------------------

@dataclass
class Namespace:
    """The assessment of one (cluster, namespace) in one window: its pods, figures, baseline, rollouts, nodes."""
    cluster: str
    namespace: str
    scope: object
    pods: List[dict] = field(default_factory=list)
    latest_ms: Optional[int] = None
    data: str = "ok"                 # ok | stale (its cluster stopped reporting) | incomplete (counters not whole)
    partial: bool = False            # disruption or cause sources were not whole
    notes: List[str] = field(default_factory=list)
    figures: Figures = field(default_factory=Figures)
    baseline_info: baselines.Baseline = field(default_factory=baselines.Baseline)
    rollouts: list = field(default_factory=list)      # rollouts.Rollout of its restarting workloads
    nodes: dict = field(default_factory=dict)       # node name -> nodes.NodeInfo of its pods' troubled nodes

    @property
    def key(self):
        return alert_state.alert_key(self.cluster, self.namespace)

    @property
    def baseline(self):
        return self.baseline_info.value

    @property
    def baseline_windows(self):
        return self.baseline_info.windows

    def abnormal(self):
        return [p for p in self.pods if p.get("category") in ABNORMAL]

    def excluded(self):
        return [p for p in self.pods if p.get("category") == "excluded"]


DISRUPTION_SOURCES = ("events", "nodes", "pod objects")


def assess(obs, scope_of, history, open_state=None):
    """{alert key: Namespace} for every inspected (cluster, namespace) whose pods were fetched, and the bad series.

    ``scope_of(cluster, namespace)`` returns the config scope of a namespace, or None
    when it is not inspected (not configured, or dropped by a filter). ``history``
    (alert key -> clean windows) and ``open_state`` (alert key -> open alert) are read, never written.
    """
    end_ms = obs.window.end_ms
    usable, rejected = validate(obs.pods)
    problems = [(pod.get("cluster") or "", pod.get("namespace") or "", problem) for pod, problem in rejected]
    problems += [(cluster, "", "kube_pod points without the namespace tag")
                 for cluster, namespace in sorted(obs.changes) if not namespace]
    namespaces = {}
    kept = []
    for pod in usable:
        key = (pod["cluster"], pod["namespace"])
        if key not in namespaces:
            scope = scope_of(pod["cluster"], pod["namespace"])
            namespaces[key] = Namespace(pod["cluster"], pod["namespace"], scope) if scope is not None else None
        if namespaces[key] is not None:
            namespaces[key].pods.append(pod)
            kept.append(pod)
    namespaces = {k: v for k, v in namespaces.items() if v is not None}
    latest = mark_presence(kept, {c: obs.cluster_latest_ms(c) for c, _ in namespaces})
    categorise(kept, namespaces, obs)
    partial = not obs.complete(*DISRUPTION_SOURCES)
    counters_whole = obs.complete("pod counters")
    history_whole = obs.complete("baseline history")
    for ns in namespaces.values():
        for pod in ns.pods:
            if pod.get("category") is None:
                pod["category"] = "healthy"
        stamps = [p["last_ms"] for p in ns.pods if p.get("last_ms") is not None]
        ns.latest_ms = max(stamps) if stamps else None
        ns.data = facts.data_state(latest.get(ns.cluster), end_ms) if counters_whole else "incomplete"
        ns.partial = partial
        ns.figures = figures(ns.pods)
        asked = (ns.cluster, ns.namespace) in obs.history_asked or (None, ns.namespace) in obs.history_asked
        per_window = max([p.get("samples") or 0 for p in ns.pods] or [0])
        ns.baseline_info = baselines.choose((history or {}).get(ns.key), (open_state or {}).get(ns.key),
                                            obs.history.get((ns.cluster, ns.namespace)), asked, history_whole,
                                            ns.figures.population, per_window, end_ms)
    for cluster, namespace, problem in problems:
        ns = namespaces.get((cluster, namespace))
        if ns is not None:
            ns.notes.append(problem)
    return {ns.key: ns for ns in namespaces.values()}, problems


def categorise(pods, namespaces, obs):
    """Category, exclusion, cause, evidence and detail of every pod: one pass over every fact."""
    start_ms, end_ms = obs.window.start_ms, obs.window.end_ms
    infos, loose = node_facts.node_infos(obs.nodes, obs.events, start_ms, end_ms, obs.recycling)
    disruption_events = {}
    for event in obs.events:
        if event.get("kind") == "Pod" and event.get("reason") in DISRUPTION_EVENTS:
            disruption_events.setdefault(event.get("uid") or (event.get("namespace"), event.get("name")),
                                         []).append(event)
    failed_by_uid = {f["uid"]: f for f in obs.failed if f.get("uid")}
    scaled_up = rollout_hashes(obs.events)
    for pod in pods:
        pod.update(category=None, exclusion=None, cause=None, evidence=[], detail=None,
                   object_status=(obs.objects.get(pod["uid"]) or {}).get("status"))
        kind, name = workload_of(pod)
        scope = namespaces[(pod["cluster"], pod["namespace"])].scope
        if pod.get("owner_kind") in ("job", "cronjob"):
            exclude(pod, "job")
            continue
        pattern = scope.excluded_by(kind, name)
        if pattern:
            exclude(pod, "configured", "exclude_workloads: %s" % pattern)
            continue
        node = node_facts.node_of(infos, loose, pod["cluster"], pod["node"]) if pod.get("node") else None
        evs = disruption_events.get(pod["uid"], []) + disruption_events.get((pod["namespace"], pod["pod"]), [])
        failed = failed_by_uid.get(pod["uid"])
        found = disruption(pod, evs, failed, node)
        if found:
            pod["category"], pod["cause"] = "disrupted", found[0]
            pod["evidence"].append(found[1])
            if found[0] == "spot":
                pod["notice_ms"], pod["release_ms"] = spot_notice(evs, _failed_message(failed), node)
            continue
        if pod["delta"] > 0:
            pod["category"] = "restarted"
            continue
        if pod["uid"] in failed_by_uid:
            exclude(pod, "failed_before", "Pod %s" % (failed_by_uid[pod["uid"]].get("status") or "Failed"))
    for ns in namespaces.values():
        classify_workloads(ns, scaled_up)
    attribute_reboots(pods, infos, loose)
    parsed = {p["uid"]: causes.pod_from_message((obs.objects.get(p["uid"]) or {}).get("message"))
              for p in pods if p.get("category") == "restarted"}
    contexts = cause_contexts(pods, infos, loose, parsed, start_ms, end_ms)
    for pod in pods:
        if pod.get("category") in ABNORMAL:
            attach_cause(pod, obs.objects.get(pod["uid"]), obs.events_of(pod["uid"]), start_ms, end_ms,
                         contexts.get(pod["uid"]), parsed.get(pod["uid"]))
    objects = dict(obs.revisions)
    objects.update(obs.objects)
    specs = {uid: found[0] for uid, found in parsed.items()}
    by_namespace = {}
    for event in obs.events:
        by_namespace.setdefault(event.get("namespace"), []).append(event)
    for ns in namespaces.values():
        ns.rollouts = workload_rollouts(ns, objects, by_namespace.get(ns.namespace, []), start_ms, end_ms, specs)
        ns.nodes = troubled_nodes(ns, infos, loose)


def _failed_message(failed):
    if not failed:
        return None
    spec, _ = causes.pod_from_message(failed.get("message"))
    return causes.pod_level_status(spec)[1] if spec else None


def classify_workloads(ns, scaled_up):
    workloads = {}
    for pod in ns.pods:
        if pod.get("exclusion") not in ("job", "configured"):
            workloads.setdefault(workload_of(pod), []).append(pod)
    for (kind, name), members in workloads.items():
        if kind == "pod":
            for pod in members:
                if not pod.get("alive") and pod.get("category") is None:
                    exclude(pod, "deleted")
            continue
        classify_vanished(members, scaled_up.get((ns.namespace, name)) if kind == "deployment" else None)


def attribute_reboots(pods, infos, loose):
    """Restarts of at most ``REBOOT_MAX_RESTARTS`` on a node that truly rebooted (a new boot ID, the node registered
    anew, or — when Kubernetes recorded nothing about it — the reboot pattern) are the node's, not the application's."""
    reboots = {}
    for key, info in list(infos.items()) + list(loose.items()):
        evidence = info.reboot_evidence()
        if evidence:
            reboots[key] = evidence
    suspects = node_facts.suspected_reboots(pods, infos, loose)
    for pod in pods:
        if pod.get("category") != "restarted" or not pod.get("node") or pod["delta"] > REBOOT_MAX_RESTARTS:
            continue
        evidence = reboots.get((pod["cluster"], pod["node"])) or reboots.get((None, pod["node"])) or \
            suspects.get((pod["cluster"], pod["node"]))
        if evidence:
            exclude(pod, "node_reboot", "节点 %s：%s / node %s: %s" % (pod["node"], evidence, pod["node"], evidence))
            pod["cause"] = "node_reboot"


def cause_contexts(pods, infos, loose, parsed, start_ms, end_ms):
    """uid -> ``causes.Context`` of every restarted pod: its restart minutes and memory, the OOM kills on its node
    matched to it, and the node conditions covering its restarts."""
    restarted = [p for p in pods if p.get("category") == "restarted"]
    by_node = {}
    for pod in restarted:
        if pod.get("node"):
            by_node.setdefault((pod["cluster"], pod["node"]), []).append(pod)
    names = {}
    for pod in restarted:
        spec = (parsed.get(pod["uid"]) or (None, None))[0]
        names[pod["uid"]] = {c["name"]: node_facts.process_names(c) for c in causes.containers(spec)} if spec else {}
    matched = {}
    for (cluster, node_name), members in by_node.items():
        info = node_facts.node_of(infos, loose, cluster, node_name)
        for oom in (info.ooms if info is not None else []):
            for pod, container, how in node_facts.oom_candidates(oom, members, lambda p: names.get(p["uid"]) or {}):
                matched.setdefault(pod["uid"], {}).setdefault(container, []).append((oom, how))
    out = {}
    for pod in restarted:
        info = node_facts.node_of(infos, loose, pod["cluster"], pod["node"]) if pod.get("node") else None
        minutes = [m["at"] for m in pod.get("restart_minutes") or []]
        trouble = []
        if info is not None and minutes:
            for condition in info.conditions:
                covered = sum(1 for at in minutes if condition.covers(at, start_ms, end_ms))
                if covered and covered >= TROUBLE_SHARE * len(minutes):
                    trouble.append(condition)
        pod["trouble"] = trouble
        out[pod["uid"]] = causes.Context(pod.get("restart_minutes"), matched.get(pod["uid"]), trouble,
                                         pod.get("node"))
    return out


def attach_cause(pod, obj, events, start_ms, end_ms, ctx=None, parsed=None):
    """The cause of an abnormal pod from every source; a restart that exited 0 stops counting."""
    if pod["category"] == "restarted":
        found = causes.explain_pod(pod, obj, events, start_ms, end_ms, ctx, parsed)
        pod["detail"] = found
        if found.get("exit0"):
            exclude(pod, "exit0")
            pod["cause"] = "expected"
        else:
            pod["cause"] = found.get("cause")
        return
    found = causes.disruption_detail(obj, events)
    pod["detail"] = found
    if found.get("cause") and pod.get("cause") in (None, "unknown"):
        pod["cause"] = found["cause"]


def workload_rollouts(ns, objects, events, start_ms, end_ms, specs=None):
    """The rollouts behind the namespace's restarts, one per workload (``rollouts.attribute``; ``events``: the
    namespace's; ``specs``: uid -> parsed pod YAML, shared)."""
    workloads = {}
    for pod in ns.pods:
        if pod.get("owner_kind") in rollouts.KINDS and pod.get("owner"):
            workloads.setdefault((pod["owner_kind"], pod["owner"]), []).append(pod)
    out = []
    for key in sorted(workloads):
        members = workloads[key]
        if not any(p.get("category") == "restarted" for p in members):
            continue
        found = rollouts.attribute(members, objects, events, start_ms, end_ms, specs)
        if found is not None:
            out.append(found)
    return out


def troubled_nodes(ns, infos, loose):
    """node name -> NodeInfo of the nodes whose conditions, reboots, loss or spot reclaim touched the namespace."""
    out = {}
    for pod in ns.pods:
        if not pod.get("node"):
            continue
        touched = pod.get("trouble") or pod.get("exclusion") == "node_reboot" or \
            pod.get("cause") in ("node_lost", "spot", "node_condition")
        if touched:
            info = node_facts.node_of(infos, loose, pod["cluster"], pod["node"])
            if info is not None:
                out[pod["node"]] = info
    return out
