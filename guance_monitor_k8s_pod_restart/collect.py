"""Collect: every DQL query of the pod-restart inspection, and nothing else (the only I/O).

``gather(api, store, scope_list, scope_of, open_keys, window, deadline, history) -> facts.Observation``
asks Guance in two declared phases, aggregating on the server so that the number
of requests does not grow with the number of pods or namespaces:

**Scope-wide, every run** (small answers whatever the fleet):

1. ``changes`` — the (cluster, namespace) pairs where some pod's restart counter changed,
   with how many pods and by how much: one nested query (``define.md``, 嵌套查询)::

       M::(M::`kube_pod`:(spread(`restarts`) AS `d`) {scope} BY `cluster_name_k8s`, `namespace`, `uid`)
         :(count(`d`) AS `changed`, sum(`d`) AS `rises`) {`d` > 0} BY `cluster_name_k8s`, `namespace`

2. ``presence`` — ``kube_pod`` points per cluster per minute (``count``, request
   ``interval`` 60 s): which clusters report, and when they last did; and, only when
   configs name namespaces, points per named namespace;
3. ``nodes`` — the node objects (``kubernetes_nodes``); when some are lost, which
   namespaces had pods on them (``lost-node namespaces``) and which ECS spot instances
   Guance's ECS integration saw holding the ``Recycling`` lock (``ecs spot``,
   ``CO::aliyun_ecs``: the nodes reclaimed as spot instances);
4. ``events`` — the disruption, node (conditions, reboots, OOM kills), rollout events of the
   scope, and every event of the namespaces already known to matter (``kubernetes_events``);
5. ``pod objects`` — ``kubelet_pod`` objects that failed (evicted, spot released…),
   and those of the namespaces that matter that restarted or are not running.

**Detail, only for the namespaces that may fire** (``detail_scopes``: restart
counters that changed enough to reach the thresholds, disruptions, failed pods, pods on
lost nodes, open alerts):

6. ``pod counters`` — per pod uid and minute, ``first``/``last``/``max``/``min``/
   ``count`` of ``restarts``, ``max(ready)`` and the pod's memory (``max`` of ``mem_usage``
   and ``mem_limit``: what it used just before each restart) (one series per pod, 5,000 a
   page; events and pod objects are paged 5,000 rows at a time too);
7. ``baseline history`` — only for those namespaces without a baseline of their own (no
   history in the state, no open alert): Guance's history of the 8 windows before, counted
   on the server in one nested query for all of them (``history_shares``);
8. ``workload revisions`` — only when restarting pods look like a new revision
   (``rollouts.suspects``): every ``kubelet_pod`` of those workloads (their YAML: images,
   labels, creation);
9. ``container memory`` — ``docker_containers`` peaks, only for pods an OOM is
   suspected of (``causes.oom_suspected``, an OOM kill on their node, memory near the
   limit), by uid in chunks.

Every query names its paging (``series`` over ``BY`` series with ``slimit``; ``rows`` over
raw rows with ``limit`` and ``search_after``). An answer that is not whole — page cap,
a failed or skipped query, a malformed series — is kept with its gaps
(``facts.Source``): later stages treat what it lacks as unknown.
"""
from guance_monitor import dql
from guance_monitor_k8s_pod_restart import baseline
from guance_monitor_k8s_pod_restart import causes
from guance_monitor_k8s_pod_restart import facts
from guance_monitor_k8s_pod_restart import rollouts

POD_METRIC = "kube_pod"
POD_OBJECT = "kubelet_pod"
EVENTS = "kubernetes_events"
NODE_OBJECT = "kubernetes_nodes"
CONTAINER_METRIC = "docker_containers"
ECS_OBJECT = "aliyun_ecs"

CLUSTER_TAG = "cluster_name_k8s"
OWNER_TAGS = ("deployment", "statefulset", "daemonset", "replicaset", "job", "cronjob")
POD_GROUP = (CLUSTER_TAG, "namespace", "uid", "pod_name", "node_name") + OWNER_TAGS
PAGE_SIZE = 1000               # small answers (changes, presence, nodes, memory)
POD_PAGE_SIZE = 5000           # pod series, events and pod objects per page (a server returning fewer is detected)
MAX_PAGES = 100                # pages of one answer at most (then it is incomplete, and said so)
UID_CHUNK = 200
BUCKET_S = 60                  # the per-minute buckets of the presence and pod-counter queries
MIN_QUERY_S = 3.0              # no query is started with less of the time budget left
ECS_LOOKBACK_MS = 30 * 60 * 1000   # a Recycling lock seen this long before the window still explains a lost node
MEMORY_SUSPECT = 0.9           # memory at this share of the limit before a restart: worth the containers' memory

# Event reasons the scope-wide query keeps: disruptions, node transitions, rollouts, node OOMs.
SCOPE_EVENT_REASONS = (
    "Evicted", "Preempted", "Preempting", "TaintManagerEviction", "NodeNotReady", "NodeReady", "Rebooted",
    "NodeShutdown", "Shutdown", "SpotToBeReleased", "BidFailed", "ScalingReplicaSet", "OOMKilling", "SystemOOM",
    "NodeHasInsufficientMemory", "NodeHasSufficientMemory", "NodeHasDiskPressure", "NodeHasNoDiskPressure",
    "NodeHasInsufficientPID", "NodeHasSufficientPID", "EvictionThresholdMet",
)
DISRUPTION_REASONS = ("Evicted", "Preempted", "TaintManagerEviction", "NodeNotReady", "NodeShutdown", "Shutdown",
                      "SpotToBeReleased", "BidFailed")
FAILED_STATUSES = ("Failed", "Evicted", "BidFailed", "OutOfmemory", "OutOfcpu", "NodeLost", "Shutdown",
                   "Terminated", "UnexpectedAdmissionError")
EVENT_COLUMNS = ("reason", "type", "involved_kind", "involved_uid", "involved_name", "involved_namespace",
                 "message", "source_host", CLUSTER_TAG)
OBJECT_COLUMNS = ("uid", "pod_name", "namespace", "node_name", "phase", "status", "restarts", "age", "message",
                  CLUSTER_TAG)
ECS_COLUMNS = ("name", "InstanceId", "InstanceName", "HostName", "OperationLocks", "message")


def gather(api, store, scope_list, scope_of, open_keys, window, deadline=None, history=None):
    """The facts of one run (``facts.Observation``); ``scope_of(cluster, namespace)``: its scope, None if not inspected.

    ``open_keys``: (cluster, namespace) of the open alerts; ``history``: the inspection's own baseline history
    (alert key -> windows): namespaces with either need no baseline from Guance.
    """
    run = _Queries(api, store, window, deadline)
    where = scope_condition(scope_list)
    obs = facts.Observation(window=window)
    obs.changes = scope_changes(run, where)
    obs.cluster_minutes = cluster_presence(run, where)
    named = scope_condition(scope_list, explicit_only=True)
    obs.namespace_pods = namespace_presence(run, named) if named else {}
    obs.nodes = nodes(run, _cluster_condition(scope_list))
    lost = lost_nodes(obs.nodes, window.end_ms)
    obs.lost_node_namespaces = lost_node_namespaces(run, where, lost) if lost else set()
    obs.recycling = ecs_recycling(run) if lost else []
    known = detail_scopes(obs, scope_of, open_keys)
    obs.events = events(run, scope_list, known)
    obs.objects, obs.failed = pod_objects(run, where, known)
    obs.detailed = detail_scopes(obs, scope_of, open_keys)
    obs.pods = pod_counters(run, where, obs.detailed)
    run.note("pod counters", facts.short_counters(obs.changes, obs.pods))
    obs.history_asked = baseline.unsettled(obs.detailed, history, open_keys, window.end_ms)
    obs.history = history_shares(run, where, obs.history_asked) if obs.history_asked else {}
    suspects = rollouts.suspects(obs.pods, obs.objects, obs.events, window.end_ms)
    obs.revisions = workload_pods(run, where, suspects) if suspects else {}
    oom = oom_suspects(obs)
    obs.memory = container_memory(run, oom) if oom else {}
    obs.sources = run.sources
    obs.requests = run.requests
    return obs


def oom_suspects(obs):
    """Uids of the pods whose containers' memory is worth a look: an OOM in their object or events, an OOM kill
    on their node, or memory near the limit before a restart."""
    out = set(uid for uid, obj in obs.objects.items() if causes.oom_suspected(obj, obs.events_of(uid)))
    oom_nodes = set((e.get("cluster") or None, e.get("name")) for e in obs.events
                    if e.get("kind") == "Node" and e.get("reason") in ("OOMKilling", "SystemOOM"))
    for pod in obs.pods:
        minutes = pod.get("restart_minutes") or []
        if not minutes:
            continue
        if (pod["cluster"], pod["node"]) in oom_nodes or (None, pod["node"]) in oom_nodes or any(
                m.get("usage") and m.get("limit") and m["usage"] >= MEMORY_SUSPECT * m["limit"] for m in minutes):
            out.add(pod["uid"])
    return out


def detail_scopes(obs, scope_of, open_keys):
    """The (cluster, namespace) pairs worth a per-pod look: those that may fire, and open alerts.

    Pure: from what the scope-wide queries found. A namespace whose counters changed may fire
    only when enough pods changed (``min_restarted_pods``) or they rose enough
    (``min_restarts``); disruptions (events, failed pods, pods on lost nodes) always count. A
    pair whose cluster an event does not name has ``None`` for it (every cluster of the scope).
    """
    out = set(obs.lost_node_namespaces) | set(open_keys)
    for (cluster, namespace), change in obs.changes.items():
        scope = scope_of(cluster, namespace) if namespace else None
        if scope is not None and (change.changed >= scope.thresholds["min_restarted_pods"] or
                                  change.rises >= scope.thresholds["min_restarts"]):
            out.add((cluster, namespace))
    for event in obs.events:
        if event.get("kind") == "Pod" and event.get("reason") in DISRUPTION_REASONS and event.get("namespace"):
            out.add((event.get("cluster") or None, event["namespace"]))
    for pod in obs.failed:
        out.add((pod.get("cluster") or "", pod.get("namespace") or ""))
    return {(c, n) for c, n in out if n and (c is None or scope_of(c, n) is not None)}


# -- the queries ------------------------------------------------------------------------------

class _Queries:
    """Runs the queries of one run: two clients (pages of 1,000 and of 5,000) and what each answer lacked."""

    def __init__(self, api, store, window, deadline):
        self.narrow = dql.DQLClient(api, page_size=PAGE_SIZE, max_pages=MAX_PAGES, store=store)
        self.wide = dql.DQLClient(api, page_size=POD_PAGE_SIZE, max_pages=MAX_PAGES, store=store)
        self.window = window
        self.deadline = deadline
        self.sources = []

    def note(self, name, gaps):
        """Add what a check of the answers found missing to the source ``name``."""
        for source in self.sources:
            if source.name == name:
                source.gaps.extend(g for g in gaps if g not in source.gaps)

    @property
    def requests(self):
        return self.narrow.requests + self.wide.requests

    def rows(self, name, q, paging, wide=False, span=None, **kwargs):
        """The rows of ``q`` (a ``Listing``) over the window (or ``span``: (start_ms, end_ms)); a failed or
        skipped query is an empty listing saying why."""
        source = facts.Source(name)
        self.sources.append(source)
        remaining = self.deadline.remaining() if self.deadline is not None else None
        if remaining is not None and remaining < MIN_QUERY_S:
            source.gaps.append("not queried: too little of the time budget was left")
            return dql.Listing()
        client = self.wide if wide else self.narrow
        start_ms, end_ms = span or (self.window.start_ms, self.window.end_ms)
        try:
            listing = client.rows(q, start_ms, end_ms, paging, deadline=self.deadline, **kwargs)
        except dql.DQLError as exc:
            source.gaps.append("the query failed (%s)" % str(exc).splitlines()[0])
            return dql.Listing()
        source.gaps.extend(listing.gaps)
        return listing


def scope_changes(run, where):
    """(cluster, namespace) -> ``facts.ScopeChange`` for the pairs where a pod's restart counter changed."""
    inner = "M::%s:(spread(%s) AS %s) %s BY %s" % (
        dql.ident(POD_METRIC), dql.ident("restarts"), dql.ident("d"), dql.conditions(where),
        _columns((CLUSTER_TAG, "namespace", "uid")))
    q = "M::(%s):(count(%s) AS %s, sum(%s) AS %s) {%s > 0} BY %s" % (
        inner, dql.ident("d"), dql.ident("changed"), dql.ident("d"), dql.ident("rises"), dql.ident("d"),
        _columns((CLUSTER_TAG, "namespace")))
    out = {}
    listing = run.rows("changes", q, paging="series", sorder_by=[(CLUSTER_TAG, "asc"), ("namespace", "asc")])
    for row in listing:             # several rows of one pair: an answer in time segments, added up
        key = (row.get(CLUSTER_TAG) or "", row.get("namespace") or "")
        known = out.get(key) or facts.ScopeChange(key[0], key[1], 0, 0)
        out[key] = facts.ScopeChange(key[0], key[1], max(known.changed, _number(row.get("changed"))),
                                     known.rises + _number(row.get("rises")))
    return out


def cluster_presence(run, where):
    """cluster -> {minute ms: kube_pod points}: which clusters report, and until when."""
    q = "M::%s:(count(%s) AS %s) %s BY %s" % (
        dql.ident(POD_METRIC), dql.ident("restarts"), dql.ident("points"), dql.conditions(where),
        dql.ident(CLUSTER_TAG))
    out = {}
    listing = run.rows("presence", q, paging="series", sorder_by=[(CLUSTER_TAG, "asc")],
                       extra={"interval": BUCKET_S})
    for row in listing:
        points = _number(row.get("points"))
        if points and row.get("time") is not None:
            out.setdefault(row.get(CLUSTER_TAG) or "", {})[row["time"]] = points
    return out


def namespace_presence(run, named):
    """(cluster, namespace) -> kube_pod points in the window, for the namespaces configs name."""
    q = "M::%s:(count(%s) AS %s) %s BY %s" % (
        dql.ident(POD_METRIC), dql.ident("restarts"), dql.ident("points"), dql.conditions(named),
        _columns((CLUSTER_TAG, "namespace")))
    out = {}
    for row in run.rows("named namespaces", q, paging="series", one_row_per_series=True, combine={"points": "sum"},
                        sorder_by=[(CLUSTER_TAG, "asc"), ("namespace", "asc")]):
        out[(row.get(CLUSTER_TAG) or "", row.get("namespace") or "")] = _number(row.get("points"))
    return out


def nodes(run, where):
    """The node objects reported in the window (latest report of each)."""
    q = "O::%s:(%s) %s" % (dql.ident(NODE_OBJECT), _columns(
        ("node_name", "node_ready", "unschedulable", "taints", "age", "internal_ip", CLUSTER_TAG)),
        dql.conditions(where))
    out = []
    for row in run.rows("nodes", q, paging="rows"):
        out.append({"cluster": row.get(CLUSTER_TAG) or "", "name": row.get("node_name") or "",
                    "ready": _text(row.get("node_ready")), "unschedulable": _text(row.get("unschedulable")),
                    "taints": row.get("taints"), "age": row.get("age"), "last_ms": row.get("time"),
                    "internal_ip": _text(row.get("internal_ip")) or ""})
    return out


def lost_nodes(node_list, end_ms):
    """(cluster, node name) of the nodes gone, NotReady or tainted unreachable in the window."""
    out = []
    for node in node_list:
        gone, not_ready, taint = facts.node_state(node, end_ms)
        if node.get("name") and (gone or not_ready or taint):
            out.append((node.get("cluster") or "", node["name"]))
    return sorted(set(out))


def lost_node_namespaces(run, where, lost):
    """(cluster, namespace) pairs that had pods on the lost nodes in the window."""
    by_cluster = {}
    for cluster, name in lost:
        by_cluster.setdefault(cluster, []).append(name)
    parts = ["(%s && %s)" % (dql.eq(CLUSTER_TAG, c), dql.in_list("node_name", names)) if c else
             dql.in_list("node_name", names) for c, names in sorted(by_cluster.items())]
    q = "M::%s:(count(%s) AS %s) %s BY %s" % (
        dql.ident(POD_METRIC), dql.ident("restarts"), dql.ident("points"),
        dql.conditions(where, _any_of(parts)), _columns((CLUSTER_TAG, "namespace")))
    return set((row.get(CLUSTER_TAG) or "", row.get("namespace") or "")
               for row in run.rows("lost-node namespaces", q, paging="series", one_row_per_series=True,
                                   combine={"points": "sum"}, sorder_by=[(CLUSTER_TAG, "asc"), ("namespace", "asc")]))


def ecs_recycling(run):
    """The ECS spot instances Guance's ECS integration saw holding the ``Recycling`` lock (``CO::aliyun_ecs``),
    from ``ECS_LOOKBACK_MS`` before the window to its end: the nodes being reclaimed as spot instances."""
    q = "CO::%s:(%s) {%s}" % (dql.ident(ECS_OBJECT), _columns(ECS_COLUMNS),
                              dql.regex("OperationLocks", ".*Recycling.*"))
    span = (run.window.start_ms - ECS_LOOKBACK_MS, run.window.end_ms)
    found = [facts.recycling_instance(row) for row in run.rows("ecs spot", q, paging="rows", span=span)]
    return [one for one in found if one is not None]


def events(run, scope_list, known):
    """Disruption, node, rollout and node-OOM events of the scope, and every event of the ``known`` namespaces."""
    wanted = [dql.in_list("reason", SCOPE_EVENT_REASONS)]
    named = sorted(set(n for _, n in known))
    if named:
        wanted.append(dql.in_list("involved_namespace", named))
    namespaces = _scope_namespaces(scope_list)
    where = [_any_of(wanted)]
    if namespaces is not None:
        where.append("(%s || %s)" % (dql.in_list("involved_namespace", namespaces), dql.eq("involved_kind", "Node")))
    q = "L::%s:(%s) %s" % (dql.ident(EVENTS), _columns(EVENT_COLUMNS), dql.conditions(*where))
    out = [_event(row) for row in run.rows("events", q, paging="rows", wide=True)]
    clusters = {(c, n): True for c, n in known}
    kept = [e for e in out if e["reason"] in SCOPE_EVENT_REASONS or not e["cluster"] or
            clusters.get((e["cluster"], e["namespace"])) or clusters.get((None, e["namespace"]))]
    kept.sort(key=lambda e: -(e["time_ms"] or 0))
    return kept


def pod_objects(run, where, known):
    """(uid -> object, [failed pod objects]): failed pods of the scope; restarted or waiting pods of ``known``."""
    failed = "(%s || %s)" % (dql.eq("phase", "Failed"), dql.in_list("status", FAILED_STATUSES))
    wanted = [failed]
    if known:
        unsettled = "(%s || %s)" % ("%s > 0" % dql.ident("restarts"), "%s != %s" % (dql.ident("status"),
                                                                                     dql.quote("Running")))
        wanted.append("(%s && %s)" % (pair_condition(known), unsettled))
    q = "O::%s:(%s) %s" % (dql.ident(POD_OBJECT), _columns(OBJECT_COLUMNS), dql.conditions(where, _any_of(wanted)))
    objects = {}
    for row in run.rows("pod objects", q, paging="rows", wide=True):
        obj = _pod_object(row)
        if obj:
            objects[obj["uid"]] = obj
    failed_list = [o for o in objects.values() if o["phase"] == "Failed" or o["status"] in FAILED_STATUSES]
    return objects, failed_list


def pod_counters(run, where, pairs):
    """Per pod uid: the restart counter over the window (first/last/max/min, samples, ``max(ready)``, last seen)."""
    if not pairs:
        return []
    targets = ", ".join("%s(%s) AS %s" % (fn, dql.ident(field), dql.ident(alias)) for fn, field, alias in (
        ("first", "restarts", "restarts_first"), ("last", "restarts", "restarts_last"),
        ("max", "restarts", "restarts_max"), ("min", "restarts", "restarts_min"),
        ("count", "restarts", "samples"), ("max", "ready", "ready_max"),
        ("max", "mem_usage", "mem_max"), ("max", "mem_limit", "mem_limit_max")))
    q = "M::%s:(%s) %s BY %s" % (dql.ident(POD_METRIC), targets, dql.conditions(where, pair_condition(pairs)),
                                 _columns(POD_GROUP))
    listing = run.rows("pod counters", q, paging="series", wide=True, extra={"interval": BUCKET_S},
                       sorder_by=[(CLUSTER_TAG, "asc"), ("namespace", "asc"), ("uid", "asc")])
    return facts.pods_from_minutes(listing, OWNER_TAGS)


def history_shares(run, where, pairs):
    """(cluster, namespace) -> ``facts.HistoryShare``: Guance's history of the windows before this one, for the
    ``pairs`` (cluster or None, namespace), in one nested query counted on the server::

        M::(M::`kube_pod`:(spread(`restarts`) AS `d`, count(`restarts`) AS `n`) {pairs} [start:end:30m]
            BY `cluster_name_k8s`, `namespace`, `uid`):(count(`d`) AS `pods`, sum(`n`) AS `points`)
            BY `cluster_name_k8s`, `namespace`, `d`

    The inner query gives each pod's restarts (and points) in each 30-minute window; the outer counts the
    (pod, window) pairs and their points per namespace and per restart count (a handful of values), so the
    answer stays small.
    """
    start_ms, end_ms = baseline.history_range(run.window)
    inner = "M::%s:(spread(%s) AS %s, count(%s) AS %s) %s [%d:%d:%dm] BY %s" % (
        dql.ident(POD_METRIC), dql.ident("restarts"), dql.ident("d"), dql.ident("restarts"), dql.ident("n"),
        dql.conditions(where, pair_condition(pairs)), start_ms, end_ms, facts.WINDOW_MS // facts.MINUTE_MS,
        _columns((CLUSTER_TAG, "namespace", "uid")))
    q = "M::(%s):(count(%s) AS %s, sum(%s) AS %s) BY %s" % (
        inner, dql.ident("d"), dql.ident("pods"), dql.ident("n"), dql.ident("points"),
        _columns((CLUSTER_TAG, "namespace", "d")))
    listing = run.rows("baseline history", q, paging="series", wide=True, span=(start_ms, end_ms),
                       sorder_by=[(CLUSTER_TAG, "asc"), ("namespace", "asc"), ("d", "asc")])
    return facts.history_shares(listing, start_ms, end_ms)


def workload_pods(run, where, workloads):
    """uid -> pod object (with its YAML) of every pod of the ``workloads`` (cluster, namespace, kind, name)."""
    parts = []
    for cluster, namespace, kind, name in sorted(workloads):
        parts.append("(%s && %s && %s)" % (dql.eq(CLUSTER_TAG, cluster), dql.eq("namespace", namespace),
                                           dql.eq(kind, name)))
    q = "O::%s:(%s) %s" % (dql.ident(POD_OBJECT), _columns(OBJECT_COLUMNS + rollouts.KINDS),
                           dql.conditions(where, _any_of(parts)))
    return {obj["uid"]: obj for obj in (_pod_object(row) for row in
                                          run.rows("workload revisions", q, paging="rows", wide=True)) if obj}


def container_memory(run, uids):
    """(pod uid, container name) -> peak memory usage, limit and request of the running containers."""
    out = {}
    for chunk in _chunks(uids):
        q = "M::%s:(max(%s) AS %s, max(%s) AS %s, max(%s) AS %s) %s BY %s" % (
            dql.ident(CONTAINER_METRIC), dql.ident("mem_usage"), dql.ident("mem_peak"), dql.ident("mem_limit"),
            dql.ident("limit_max"), dql.ident("mem_request"), dql.ident("request_max"),
            dql.conditions(dql.in_list("pod_uid", chunk)), _columns(("pod_uid", "container_name")))
        for row in run.rows("container memory", q, paging="series", one_row_per_series=True,
                            combine={"mem_peak": "max", "limit_max": "max", "request_max": "max"},
                            sorder_by=[("pod_uid", "asc"), ("container_name", "asc")]):
            key = (row.get("pod_uid") or "", row.get("container_name") or "")
            out[key] = {"mem_peak": row.get("mem_peak"), "mem_limit": row.get("limit_max"),
                        "mem_request": row.get("request_max")}
    return out


# -- conditions -------------------------------------------------------------------------------

def scope_condition(scope_list, cluster_key=CLUSTER_TAG, namespace_key="namespace", explicit_only=False):
    """The DQL condition covering the scopes ("" when one of them covers everything).

    ``explicit_only``: only the scopes that name namespaces ("" when none does).
    """
    parts = []
    for scope in scope_list:
        if explicit_only and not scope.namespaces:
            continue
        conditions = []
        if scope.cluster is not None:
            conditions.append(dql.eq(cluster_key, scope.cluster))
        if scope.namespaces:
            conditions.append(dql.in_list(namespace_key, scope.namespaces))
        if not conditions:
            return ""
        part = conditions[0] if len(conditions) == 1 else "(%s && %s)" % tuple(conditions)
        if part not in parts:
            parts.append(part)
    return _any_of(parts)


def pair_condition(pairs):
    """``(cluster = 'c1' && namespace IN [...]) || ...`` for (cluster or None, namespace) pairs."""
    by_cluster = {}
    for cluster, namespace in pairs:
        by_cluster.setdefault(cluster, set()).add(namespace)
    parts = []
    for cluster in sorted(by_cluster, key=lambda c: (c is not None, c or "")):
        names = dql.in_list("namespace", sorted(by_cluster[cluster]))
        parts.append(names if cluster is None else "(%s && %s)" % (dql.eq(CLUSTER_TAG, cluster), names))
    return _any_of(parts)


def _cluster_condition(scope_list):
    clusters = []
    for scope in scope_list:
        if scope.cluster is None:
            return ""
        if scope.cluster not in clusters:
            clusters.append(scope.cluster)
    return dql.in_list(CLUSTER_TAG, clusters)


def _any_of(parts):
    parts = [p for p in parts if p]
    if not parts:
        return ""
    return parts[0] if len(parts) == 1 else "(%s)" % " || ".join(parts)


def _scope_namespaces(scope_list):
    """Every namespace the scopes name, or None when one of them covers all namespaces."""
    names = []
    for scope in scope_list:
        if not scope.namespaces:
            return None
        names.extend(n for n in scope.namespaces if n not in names)
    return names


def _columns(names):
    return ", ".join(dql.ident(n) for n in names)


# -- rows -------------------------------------------------------------------------------------

def _event(row):
    return {"time_ms": row.get("time"), "reason": row.get("reason") or "", "type": row.get("type") or "",
            "kind": row.get("involved_kind") or "", "uid": row.get("involved_uid") or "",
            "name": row.get("involved_name") or "", "namespace": row.get("involved_namespace") or "",
            "message": _text(row.get("message")) or "", "host": row.get("source_host") or "",
            "cluster": row.get(CLUSTER_TAG) or ""}


def _pod_object(row):
    uid = row.get("uid") or row.get("name")
    if not uid:
        return None
    return {"cluster": row.get(CLUSTER_TAG) or "", "namespace": row.get("namespace") or "",
            "uid": uid, "pod": row.get("pod_name") or "", "node": row.get("node_name") or "",
            "phase": _text(row.get("phase")), "status": _text(row.get("status")),
            "restarts": row.get("restarts"), "age": row.get("age"), "message": row.get("message"),
            "last_ms": row.get("time")}


def _chunks(items, size=None):
    size = size or UID_CHUNK
    items = sorted(set(i for i in items if i))
    for index in range(0, len(items), size):
        yield items[index:index + size]


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return value


def _text(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
