"""Facts: what one run learnt from Guance, as records (``Observation``), and the pure helpers that shape answers.

``collect.gather`` fills an ``Observation``; every later stage only reads it. Rows of the
data keep the data's own names (dicts: a pod counter, an event, a node, a pod object), the
records around them say what they are and whether they are whole:

- ``Window``: the 30 minutes inspected (``start_ms``, ``end_ms``);
- ``ScopeChange``: a (cluster, namespace) where pod restart counters changed;
- ``HistoryShare``: a (cluster, namespace)'s restarted pod-windows in Guance's history before
  the window (the baseline when the inspection has none of its own);
- ``RecyclingInstance``: an ECS spot instance Guance's ECS integration saw holding the
  ``Recycling`` lock (``CO::aliyun_ecs``), with its private IPs and when the lock was seen;
- ``Source``: one query, and why its answer may be short (``gaps``);
- ``Observation``: everything, with ``detailed`` the (cluster, namespace) pairs whose pods
  were fetched one by one.

And pure helpers over answers: ``pods_from_minutes`` (per-minute rows -> one pod counter each,
with the minutes its counter rose and its memory just before), ``short_counters`` (per-minute
rows that add up to less than the window's totals), ``history_shares`` (the baseline query's
rows -> ``HistoryShare``), ``recycling_instance`` (a ``CO::aliyun_ecs`` row -> its lock),
``taint_keys`` / ``node_state`` (a node lost, gone or tainted), ``data_state`` (a cluster still
reporting at the window's end, or stale).
"""
import json
from dataclasses import dataclass
from dataclasses import field
from typing import Dict
from typing import List
from typing import Optional
from typing import Set
from typing import Tuple

WINDOW_MS = 30 * 60 * 1000
MINUTE_MS = 60 * 1000
STALE_MS = 10 * 60 * 1000        # the cluster's latest point older than this before the window's end: data stopped
NODE_GONE_MS = 12 * 60 * 1000    # a node object not reported for this long is gone
LOST_NODE_TAINTS = ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready",
                    "node.kubernetes.io/out-of-service")


@dataclass
class Window:
    start_ms: int
    end_ms: int

    @classmethod
    def ending(cls, now_ms):
        """The window ending at the last whole minute before ``now_ms``."""
        end_ms = (int(now_ms) // MINUTE_MS) * MINUTE_MS
        return cls(end_ms - WINDOW_MS, end_ms)


@dataclass
class ScopeChange:
    cluster: str
    namespace: str
    changed: int          # pods whose restart counter changed in the window
    rises: float          # the sum of their changes (max - min): at least the restarts counted from counters


@dataclass
class HistoryShare:
    cluster: str
    namespace: str
    pod_windows: int = 0          # (pod, 30-minute window) pairs with kube_pod points before the window
    restarted: int = 0            # ... of which the pod's restart counter rose
    start_ms: int = 0             # the history looked at: [start_ms, end_ms)
    end_ms: int = 0
    points: int = 0               # the kube_pod points behind the pairs (how much history there really is)

    @property
    def share(self):
        return float(self.restarted) / self.pod_windows if self.pod_windows else None


@dataclass
class RecyclingInstance:
    instance_id: str
    name: str = ""
    host_name: str = ""
    private_ips: List[str] = field(default_factory=list)
    seen_ms: Optional[int] = None     # the object's time: when Guance's integration saw the lock
    lock_message: str = ""
    spot_strategy: str = ""


@dataclass
class Source:
    name: str
    gaps: List[str] = field(default_factory=list)

    @property
    def complete(self):
        return not self.gaps


@dataclass
class Observation:
    window: Window
    changes: Dict[Tuple[str, str], ScopeChange] = field(default_factory=dict)
    cluster_minutes: Dict[str, Dict[int, float]] = field(default_factory=dict)     # cluster -> minute -> points
    namespace_pods: Dict[Tuple[str, str], float] = field(default_factory=dict)     # named namespace -> points
    nodes: List[dict] = field(default_factory=list)
    lost_node_namespaces: Set[Tuple[str, str]] = field(default_factory=set)
    events: List[dict] = field(default_factory=list)
    objects: Dict[str, dict] = field(default_factory=dict)
    failed: List[dict] = field(default_factory=list)
    detailed: Set[Tuple[Optional[str], str]] = field(default_factory=set)
    pods: List[dict] = field(default_factory=list)
    memory: Dict[Tuple[str, str], dict] = field(default_factory=dict)
    history: Dict[Tuple[str, str], HistoryShare] = field(default_factory=dict)    # Guance's own history
    history_asked: Set[Tuple[Optional[str], str]] = field(default_factory=set)   # pairs it was asked for
    revisions: Dict[str, dict] = field(default_factory=dict)    # uid -> object: pods of workloads rolling out
    recycling: List[RecyclingInstance] = field(default_factory=list)
    sources: List[Source] = field(default_factory=list)
    requests: int = 0
    _by_uid: Optional[tuple] = field(default=None, repr=False, compare=False)

    def source(self, name):
        """The ``Source`` of that query (a complete one when it was not sent)."""
        for one in self.sources:
            if one.name == name:
                return one
        return Source(name)

    def complete(self, *names):
        return all(self.source(n).complete for n in names)

    def gaps(self):
        """[(query name, gap text)] of every answer that may be short."""
        return [(s.name, gap) for s in self.sources for gap in s.gaps]

    def cluster_latest_ms(self, cluster):
        minutes = self.cluster_minutes.get(cluster)
        return max(minutes) if minutes else None

    def events_of(self, uid):
        """The events about one pod, newest first (indexed on first use)."""
        if self._by_uid is None or self._by_uid[0] is not self.events:
            index = {}
            for event in self.events:
                index.setdefault(event.get("uid"), []).append(event)
            self._by_uid = (self.events, index)
        return list(self._by_uid[1].get(uid, ()))


# -- shaping answers --------------------------------------------------------------------------

def pods_from_minutes(rows, owner_tags):
    """Per pod uid, from per-minute rows of the pod-counter query: one pod dict.

    A pod seen under several tag values (no ``node_name`` while Pending, a moved label)
    is one pod: its minutes are merged and the tags of its latest minute kept.
    """
    minutes = {}
    for row in rows:
        key = (row.get("cluster_name_k8s") or "", row.get("namespace") or "", row.get("uid") or "")
        minutes.setdefault(key, []).append(row)
    pods = []
    for key in sorted(minutes):
        pods.append(_pod(key, sorted(minutes[key], key=lambda r: (r.get("time") is None, r.get("time") or 0)),
                         owner_tags))
    return pods


def _pod(key, rows, owner_tags):
    cluster, namespace, uid = key
    latest = rows[-1]
    pod = {"cluster": cluster, "namespace": namespace, "uid": uid, "pod": "", "node": "", "owner_kind": "",
           "owner": "", "first": None, "last": None, "max": None, "min": None, "samples": 0, "ready_max": None,
           "last_ms": None, "first_ms": None, "restart_minutes": [], "mem_peak": None, "mem_limit": None}
    for row in rows:
        for name, tag in (("pod", "pod_name"), ("node", "node_name")):
            pod[name] = row.get(tag) or pod[name]
        for kind in owner_tags:
            if row.get(kind):
                pod["owner_kind"], pod["owner"] = kind, row[kind]
    for name, tag in (("pod", "pod_name"), ("node", "node_name")):
        pod[name] = latest.get(tag) or pod[name]
    values = [r for r in rows if r.get("samples")]
    if not values:
        return pod
    pod["first"] = values[0].get("restarts_first")
    pod["last"] = values[-1].get("restarts_last")
    pod["max"] = _extreme(max, [r.get("restarts_max") for r in values])
    pod["min"] = _extreme(min, [r.get("restarts_min") for r in values])
    pod["samples"] = sum(_count(r.get("samples")) for r in values)
    pod["ready_max"] = _extreme(max, [r.get("ready_max") for r in values])
    pod["last_ms"] = values[-1].get("time")
    pod["first_ms"] = values[0].get("time")
    if pod["max"] != pod["min"] or pod["first"] != pod["last"]:      # restarted: what its memory did matters
        pod["restart_minutes"] = restart_minutes(values)
        pod["mem_peak"] = _peak(r.get("mem_max") for r in values)
        pod["mem_limit"] = _peak(r.get("mem_limit_max") for r in values)
    return pod


def _peak(values):
    """The largest positive number among ``values``, or None."""
    present = [v for v in values if v and v.__class__ in (int, float)]
    return max(present) if present else None


def restart_minutes(rows):
    """``[{"at", "usage", "limit"}]``: the minutes in which the pod's restart counter rose (oldest first), with
    the pod's memory usage and limit (``kube_pod`` ``mem_usage`` / ``mem_limit``) last seen before, or None.

    ``rows``: the pod's per-minute rows, oldest first. A rise between two minutes, or within one
    (several samples a minute), is a restart in that minute; a counter that went down is a new
    container, not a restart. The memory is the latest non-zero one of the ``MEMORY_LOOKBACK``
    minutes before (a container waiting to restart uses none).
    """
    out = []
    before = None
    seen = []                      # (time, usage, limit) of the recent minutes with memory
    for row in rows:
        first, last = row.get("restarts_first"), row.get("restarts_last")
        if not (_is_number(first) and _is_number(last)):
            continue
        at = row.get("time")
        rose = last > first or (before is not None and first > before)
        if rose and at is not None:
            recent = [m for m in seen if at - m[0] <= MEMORY_LOOKBACK * MINUTE_MS]
            usage, limit = (recent[-1][1], recent[-1][2]) if recent else (None, None)
            out.append({"at": at, "usage": usage, "limit": limit or _count(row.get("mem_limit_max")) or None})
        if _count(row.get("mem_max")) and at is not None:
            seen.append((at, _count(row["mem_max"]), _count(row.get("mem_limit_max")) or None))
        before = last
    return out


MEMORY_LOOKBACK = 3


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def short_counters(changes, pods):
    """Gaps when the per-minute counters show less change than the window's totals (``changes``).

    The totals are counted on the server over the whole window; the per-minute rows add up
    to at least as much, unless the server cut rows from the series.
    """
    seen = {}
    for pod in pods:
        if isinstance(pod.get("max"), (int, float)) and isinstance(pod.get("min"), (int, float)):
            key = (pod["cluster"], pod["namespace"])
            seen[key] = seen.get(key, 0) + (pod["max"] - pod["min"])
    short = sorted("%s/%s" % key for key, change in changes.items()
                   if key in seen and seen[key] < change.rises)
    if not short:
        return []
    return ["the per-minute counters of %s show less change than the window's totals: the server may have cut "
            "rows from the series" % ", ".join(short[:5]) + (" (+%d more)" % (len(short) - 5) if len(short) > 5 else "")]


def _extreme(fn, values):
    """The max/min of numbers; a value that is not a number wins (so that it is named, not hidden)."""
    odd = [v for v in values if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v != v)]
    if odd:
        return odd[0]
    present = [v for v in values if v is not None]
    return fn(present) if present else None


def _count(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def history_shares(rows, start_ms, end_ms):
    """(cluster, namespace) -> ``HistoryShare`` from the baseline query's rows (one per pair and spread ``d``,
    with ``pods``: the (pod, window) pairs, and ``points``: their kube_pod points)."""
    out = {}
    for row in rows:
        key = (row.get("cluster_name_k8s") or "", row.get("namespace") or "")
        pods = _count(row.get("pods"))
        try:
            spread = float(row.get("d"))
        except (TypeError, ValueError):
            continue
        share = out.setdefault(key, HistoryShare(key[0], key[1], start_ms=start_ms, end_ms=end_ms))
        share.pod_windows += int(pods)
        share.points += int(_count(row.get("points")))
        if spread > 0:
            share.restarted += int(pods)
    return out


def recycling_instance(row):
    """A ``RecyclingInstance`` from a ``CO::aliyun_ecs`` row whose ``OperationLocks`` hold ``Recycling``, or None."""
    locks = _json(row.get("OperationLocks"))
    message = _json(row.get("message"))
    message = message if isinstance(message, dict) else {}
    if locks is None:
        locks = message.get("OperationLocks")
    reasons = _lock_reasons(locks)
    recycling = [r for r in reasons if r.get("LockReason") == "Recycling"]
    if not recycling:
        return None
    vpc = message.get("VpcAttributes") or {}
    ips = ((vpc.get("PrivateIpAddress") or {}).get("IpAddress") or []) if isinstance(vpc, dict) else []
    ips += ((message.get("InnerIpAddress") or {}).get("IpAddress") or []) if isinstance(
        message.get("InnerIpAddress"), dict) else []
    return RecyclingInstance(
        instance_id=str(row.get("InstanceId") or message.get("InstanceId") or row.get("name") or ""),
        name=str(row.get("InstanceName") or message.get("InstanceName") or ""),
        host_name=str(row.get("HostName") or message.get("HostName") or ""),
        private_ips=[str(ip) for ip in ips if ip], seen_ms=row.get("time"),
        lock_message=str(recycling[0].get("LockMsg") or ""),
        spot_strategy=str(message.get("SpotStrategy") or ""))


def _lock_reasons(locks):
    if isinstance(locks, dict):
        locks = locks.get("LockReason")
    if isinstance(locks, dict):
        locks = [locks]
    if not isinstance(locks, list):
        return []
    return [({"LockReason": item} if isinstance(item, str) else item) for item in locks
            if isinstance(item, (dict, str))]


def _json(value):
    if isinstance(value, (dict, list)):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def taint_keys(taints):
    """The keys of a node's taints (``taints``: DataKit's JSON text, a list, or a dict)."""
    if not taints:
        return []
    if isinstance(taints, str):
        try:
            taints = json.loads(taints)
        except ValueError:
            return []
    if isinstance(taints, dict):
        taints = [taints]
    return [t.get("key") for t in taints if isinstance(t, dict) and t.get("key")] if isinstance(taints, list) else []


def node_state(node, end_ms):
    """(gone, not ready, the lost-node taint or None) of a node object at the window's end."""
    gone = node.get("last_ms") is not None and node["last_ms"] < end_ms - NODE_GONE_MS
    not_ready = (node.get("ready") or "").lower() in ("false", "unknown")
    lost = [k for k in taint_keys(node.get("taints")) if k in LOST_NODE_TAINTS]
    return gone, not_ready, (lost[0] if lost else None)


def data_state(latest_ms, end_ms):
    """``ok``, ``stale`` (the data stopped well before the window's end) or ``none``."""
    if latest_ms is None:
        return "none"
    return "stale" if latest_ms < end_ms - STALE_MS else "ok"
