"""Collect: the DQL queries of the pod-restart inspection, and nothing else (I/O only).

Queries aggregate on the server and are paged (``slimit``/``soffset`` for
``BY`` queries, ``limit``/``offset`` for rows). The number of queries does
not depend on the number of namespaces:

- over the whole configured scope, once per run: the per-pod restart counters
  (two ``kube_pod`` queries grouped ``BY`` cluster, namespace and pod uid), the
  disruption / node / rollout events, the node objects and the failed pods;
- for the namespaces that may fire only: the pod objects (YAML), the pod events
  and the containers' memory, by lists of pod uids (``uid IN [...]``, in chunks).

Every function returns plain dicts; names are those of the data.
"""
from guance_monitor import dql

POD_METRIC = "kube_pod"
POD_OBJECT = "kubelet_pod"
EVENTS = "kubernetes_events"
NODE_OBJECT = "kubernetes_nodes"
CONTAINER_METRIC = "docker_containers"

CLUSTER_TAG = "cluster_name_k8s"
OWNER_TAGS = ("deployment", "statefulset", "daemonset", "replicaset", "job", "cronjob")
POD_GROUP = (CLUSTER_TAG, "namespace", "uid", "pod_name", "node_name") + OWNER_TAGS
STATS_GROUP = (CLUSTER_TAG, "namespace", "uid")
PAGE_SIZE = 1000
UID_CHUNK = 200

# Event reasons the scope-wide query keeps: disruptions, node transitions, rollouts, node OOMs.
SCOPE_EVENT_REASONS = (
    "Evicted", "Preempted", "Preempting", "TaintManagerEviction", "NodeNotReady", "NodeReady", "Rebooted",
    "NodeShutdown", "Shutdown", "SpotToBeReleased", "BidFailed", "ScalingReplicaSet", "OOMKilling", "SystemOOM",
)
FAILED_STATUSES = ("Failed", "Evicted", "BidFailed", "OutOfmemory", "OutOfcpu", "NodeLost", "Shutdown",
                   "Terminated", "UnexpectedAdmissionError")
EVENT_COLUMNS = ("reason", "type", "involved_kind", "involved_uid", "involved_name", "involved_namespace",
                 "message", "source_host", CLUSTER_TAG)


def client(api):
    return dql.DQLClient(api, page_size=PAGE_SIZE)


def scope_condition(scopes, cluster_key=CLUSTER_TAG, namespace_key="namespace"):
    """The DQL condition covering the scopes ("" when one of them covers everything)."""
    parts = []
    for scope in scopes:
        conditions = []
        if scope.cluster is not None:
            conditions.append(dql.eq(cluster_key, scope.cluster))
        if scope.namespaces:
            conditions.append(dql.in_list(namespace_key, scope.namespaces))
        if not conditions:
            return ""
        part = conditions[0] if len(conditions) == 1 else "(%s)" % " && ".join(conditions)
        if part not in parts:
            parts.append(part)
    if len(parts) == 1:
        return parts[0]
    return "(%s)" % " || ".join(parts)


def _columns(names):
    return ", ".join(dql.ident(n) for n in names)


# -- over the whole scope ---------------------------------------------------------------------

def pod_counters(client, scopes, start_ms, end_ms):
    """Per pod uid: the restart counter over the window, and where it was last seen.

    Two paged queries: the counter's last value with the time of the last point
    (a lone ``last()`` keeps the point's time) grouped by every pod tag, and its
    first/max/min, the sample count and ``max(ready)`` grouped by uid.
    """
    where = dql.conditions(scope_condition(scopes))
    last_q = "M::%s:(last(%s) AS %s) %s BY %s" % (
        dql.ident(POD_METRIC), dql.ident("restarts"), dql.ident("restarts_last"), where, _columns(POD_GROUP))
    stats_q = "M::%s:(first(%s) AS %s, max(%s) AS %s, min(%s) AS %s, count(%s) AS %s, max(%s) AS %s) %s BY %s" % (
        dql.ident(POD_METRIC), dql.ident("restarts"), dql.ident("restarts_first"), dql.ident("restarts"),
        dql.ident("restarts_max"), dql.ident("restarts"), dql.ident("restarts_min"), dql.ident("restarts"),
        dql.ident("samples"), dql.ident("ready"), dql.ident("ready_max"), where, _columns(STATS_GROUP))
    pods = []
    by_key = {}
    for row in client.rows(last_q, start_ms, end_ms, paging="series"):
        pod = {
            "cluster": row.get(CLUSTER_TAG) or "",
            "namespace": row.get("namespace") or "",
            "uid": row.get("uid") or "",
            "pod": row.get("pod_name") or "",
            "node": row.get("node_name") or "",
            "owner_kind": "",
            "owner": "",
            "last": row.get("restarts_last"),
            "last_ms": row.get("time"),
            "first": None, "max": None, "min": None, "samples": None, "ready_max": None,
        }
        for kind in OWNER_TAGS:
            if row.get(kind):
                pod["owner_kind"], pod["owner"] = kind, row[kind]
                break
        key = (pod["cluster"], pod["namespace"], pod["uid"])
        known = by_key.get(key)
        if known is not None:
            # the same pod under other tag values (e.g. no node_name while Pending): one pod, latest tags
            if (pod["last_ms"] or 0) >= (known["last_ms"] or 0):
                for name in ("pod", "node", "owner_kind", "owner"):
                    pod[name] = pod[name] or known[name]
                known.update(pod)
            else:
                for name in ("pod", "node", "owner_kind", "owner"):
                    known[name] = known[name] or pod[name]
            continue
        pods.append(pod)
        by_key[key] = pod
    for row in client.rows(stats_q, start_ms, end_ms, paging="series"):
        pod = by_key.get((row.get(CLUSTER_TAG) or "", row.get("namespace") or "", row.get("uid") or ""))
        if pod is None:
            continue
        pod["first"] = row.get("restarts_first")
        pod["max"] = row.get("restarts_max")
        pod["min"] = row.get("restarts_min")
        pod["samples"] = row.get("samples")
        pod["ready_max"] = row.get("ready_max")
    return pods


def scope_events(client, scopes, start_ms, end_ms):
    """Disruption, node, rollout and node-OOM events of the window (pods of the scope, every node)."""
    namespaces = _scope_namespaces(scopes)
    parts = [dql.in_list("reason", SCOPE_EVENT_REASONS)]
    if namespaces is not None:
        parts.append("(%s || %s)" % (dql.in_list("involved_namespace", namespaces), dql.eq("involved_kind", "Node")))
    q = "L::%s:(%s) %s" % (dql.ident(EVENTS), _columns(EVENT_COLUMNS), dql.conditions(*parts))
    return [_event(row) for row in client.rows(q, start_ms, end_ms, paging="rows")]


def nodes(client, scopes, start_ms, end_ms):
    """The node objects reported in the window (latest report of each)."""
    clusters = _scope_clusters(scopes)
    where = dql.conditions(dql.in_list(CLUSTER_TAG, clusters) if clusters is not None else "")
    q = "O::%s:(%s) %s" % (dql.ident(NODE_OBJECT), _columns(
        ("node_name", "node_ready", "unschedulable", "taints", "age", CLUSTER_TAG)), where)
    out = []
    for row in client.rows(q, start_ms, end_ms, paging="rows"):
        out.append({"cluster": row.get(CLUSTER_TAG) or "", "name": row.get("node_name") or "",
                    "ready": _text(row.get("node_ready")), "unschedulable": _text(row.get("unschedulable")),
                    "taints": row.get("taints"), "age": row.get("age"), "last_ms": row.get("time")})
    return out


def failed_pods(client, scopes, start_ms, end_ms):
    """Pod objects of the scope that are Failed (evicted, spot released, node lost...)."""
    scope = scope_condition(scopes)
    failed = "(%s || %s)" % (dql.eq("phase", "Failed"), dql.in_list("status", FAILED_STATUSES))
    q = "O::%s:(%s) %s" % (dql.ident(POD_OBJECT), _columns(
        ("uid", "pod_name", "namespace", "node_name", "phase", "status", CLUSTER_TAG)),
        dql.conditions(scope, failed))
    out = []
    for row in client.rows(q, start_ms, end_ms, paging="rows"):
        out.append({"cluster": row.get(CLUSTER_TAG) or "", "namespace": row.get("namespace") or "",
                    "uid": row.get("uid") or row.get("name") or "", "pod": row.get("pod_name") or "",
                    "node": row.get("node_name") or "", "phase": _text(row.get("phase")),
                    "status": _text(row.get("status")), "last_ms": row.get("time")})
    return out


# -- details, for the namespaces that may fire ------------------------------------------------

def pod_objects(client, uids, start_ms, end_ms):
    """uid -> the pod's latest object in the window (status, waiting reason, ``message`` with the YAML)."""
    out = {}
    for chunk in _chunks(uids):
        q = "O::%s:(%s) %s" % (dql.ident(POD_OBJECT), _columns(
            ("uid", "pod_name", "namespace", "node_name", "phase", "status", "restarts", "age", "message")),
            dql.conditions(dql.in_list("uid", chunk)))
        for row in client.rows(q, start_ms, end_ms, paging="rows"):
            uid = row.get("uid") or row.get("name")
            if uid:
                out[uid] = {"uid": uid, "pod": row.get("pod_name") or "", "phase": _text(row.get("phase")),
                            "status": _text(row.get("status")), "restarts": row.get("restarts"),
                            "age": row.get("age"), "message": row.get("message"), "last_ms": row.get("time")}
    return out


def pod_events(client, uids, start_ms, end_ms):
    """Every event of the window about these pods (both types), newest first."""
    out = []
    for chunk in _chunks(uids):
        q = "L::%s:(%s) %s" % (dql.ident(EVENTS), _columns(EVENT_COLUMNS),
                               dql.conditions(dql.in_list("involved_uid", chunk)))
        out.extend(_event(row) for row in client.rows(q, start_ms, end_ms, paging="rows"))
    out.sort(key=lambda e: -(e["time_ms"] or 0))
    return out


def container_memory(client, uids, start_ms, end_ms):
    """(pod uid, container name) -> peak memory usage, limit and request of the running containers."""
    out = {}
    for chunk in _chunks(uids):
        q = "M::%s:(max(%s) AS %s, max(%s) AS %s, max(%s) AS %s) %s BY %s" % (
            dql.ident(CONTAINER_METRIC), dql.ident("mem_usage"), dql.ident("mem_peak"), dql.ident("mem_limit"),
            dql.ident("mem_limit"), dql.ident("mem_request"), dql.ident("mem_request"),
            dql.conditions(dql.in_list("pod_uid", chunk)), _columns(("pod_uid", "container_name")))
        for row in client.rows(q, start_ms, end_ms, paging="series"):
            key = (row.get("pod_uid") or "", row.get("container_name") or "")
            out[key] = {"mem_peak": row.get("mem_peak"), "mem_limit": row.get("mem_limit"),
                        "mem_request": row.get("mem_request")}
    return out


# -- helpers ----------------------------------------------------------------------------------

def _event(row):
    return {"time_ms": row.get("time"), "reason": row.get("reason") or "", "type": row.get("type") or "",
            "kind": row.get("involved_kind") or "", "uid": row.get("involved_uid") or "",
            "name": row.get("involved_name") or "", "namespace": row.get("involved_namespace") or "",
            "message": _text(row.get("message")) or "", "host": row.get("source_host") or "",
            "cluster": row.get(CLUSTER_TAG) or ""}


def _scope_namespaces(scopes):
    """Every namespace the scopes name, or None when one of them covers all namespaces."""
    names = []
    for scope in scopes:
        if not scope.namespaces:
            return None
        names.extend(n for n in scope.namespaces if n not in names)
    return names


def _scope_clusters(scopes):
    clusters = []
    for scope in scopes:
        if scope.cluster is None:
            return None
        if scope.cluster not in clusters:
            clusters.append(scope.cluster)
    return clusters


def _chunks(items, size=None):
    size = size or UID_CHUNK
    items = sorted(set(i for i in items if i))
    for index in range(0, len(items), size):
        yield items[index:index + size]


def _text(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
