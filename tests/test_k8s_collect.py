"""The queries of the pod-restart inspection, answered by the sandbox's DQL engine: what comes back as facts."""
import json

from guance_monitor import openapi
from guance_monitor import state
from guance_monitor_k8s_pod_restart import collect
from guance_monitor_k8s_pod_restart import facts
from guance_monitor_k8s_pod_restart import scopes

from k8s_scenario_builder import MINUTE, Builder, Container, Pod, SandboxAPI, ms

RUN = "2026-11-20T08:00:00Z"
END = ms(RUN)
START = END - 30 * MINUTE
WINDOW = facts.Window(START, END)


def queries_for(builder):
    api = SandboxAPI(builder.to_dict())
    return collect._Queries(api, state.MemoryStore(), WINDOW, None), api


def crash(at_minutes):
    return [Container(restarts=[(END - m * MINUTE, n + 1) for n, m in enumerate(at_minutes)])]


def test_changes_are_counted_per_namespace_on_the_server():
    b = Builder("changes", "", [RUN])
    for i in range(3):
        b.add_pod(Pod("shop", "api-%d" % i, containers=crash([20, 10]) if i < 2 else None))
    for i in range(4):
        b.add_pod(Pod("web", "web-%d" % i))
    b.add_pod(Pod("shop", "api-x", cluster="c2", containers=crash([5])))
    run, api = queries_for(b)
    changes = collect.scope_changes(run, "")
    assert changes == {("c1", "shop"): facts.ScopeChange("c1", "shop", 2, 4),
                       ("c2", "shop"): facts.ScopeChange("c2", "shop", 1, 1)}
    assert len(api.queries) == 2          # one nested query, its short page confirmed once
    assert api.queries[0]["q"].startswith("M::(M::`kube_pod`:(spread(`restarts`) AS `d`)")


def test_presence_per_cluster_minute_and_per_named_namespace():
    b = Builder("presence", "", [RUN])
    b.add_pod(Pod("shop", "api-1"))
    b.add_pod(Pod("shop", "api-2", end=END - 12 * MINUTE))
    b.add_pod(Pod("web", "web-1", cluster="c2", end=END - 15 * MINUTE))
    run, api = queries_for(b)
    minutes = collect.cluster_presence(run, "")
    assert minutes["c1"][END] == 1 and minutes["c1"][END - 12 * MINUTE] == 2       # points per minute
    assert max(minutes["c2"]) == END - 15 * MINUTE
    assert all(q.get("interval") == collect.BUCKET_S for q in api.queries)
    named = scopes.from_entries(scopes.SCHEMA.parse([{"cluster_name": "c1", "namespace": ["shop", "ghost"]}]))
    assert collect.namespace_presence(run, collect.scope_condition(named, explicit_only=True)) == {
        ("c1", "shop"): 31 + 19}


def test_pod_counters_per_uid_with_the_minute_of_the_last_point():
    b = Builder("counters", "", [RUN])
    b.add_pod(Pod("shop", "api-6d5f7b9c8d-aaaaa", owner=("deployment", "api"),
                  containers=[Container(restarts=[(END - 20 * MINUTE, 2), (END - 10 * MINUTE, 3)])]))
    b.add_pod(Pod("shop", "api-6d5f7b9c8d-bbbbb", owner=("deployment", "api"), end=END - 12 * MINUTE))
    b.add_pod(Pod("batch", "export-1-ccccc", owner=("job", "export-1"), node="node-2"))
    b.add_pod(Pod("web", "web-1"))
    run, api = queries_for(b)
    pods = {p["pod"]: p for p in collect.pod_counters(run, "", {("c1", "shop"), (None, "batch")})}
    assert sorted(pods) == ["api-6d5f7b9c8d-aaaaa", "api-6d5f7b9c8d-bbbbb", "export-1-ccccc"]   # not web
    first = pods["api-6d5f7b9c8d-aaaaa"]
    assert (first["first"], first["last"], first["max"], first["min"], first["samples"]) == (0, 3, 3, 0, 31)
    assert (first["owner_kind"], first["owner"], first["node"], first["last_ms"]) == \
        ("deployment", "api", "node-1", END)
    assert pods["api-6d5f7b9c8d-bbbbb"]["last_ms"] == END - 12 * MINUTE
    assert (pods["export-1-ccccc"]["owner_kind"], pods["export-1-ccccc"]["ready_max"]) == ("job", 1)
    assert all(q["disableMultipleField"] is False and q["slimit"] == collect.POD_PAGE_SIZE for q in api.queries)
    assert collect.pod_counters(run, "", set()) == [] and len(api.queries) == 2


def test_a_pod_seen_under_two_node_names_is_one_pod():
    b = Builder("moved", "", [RUN])
    tags = {"cluster_name_k8s": "c1", "namespace": "shop", "uid": "u-1", "pod_name": "api-1", "deployment": "api"}
    for minute in range(31):
        node = {} if minute < 3 else {"node_name": "node-9"}         # Pending: no node yet
        b.metric.append({"measurement": "kube_pod", "tags": dict(tags, **node),
                         "fields": {"restarts": 0 if minute < 20 else 1, "ready": 1},
                         "time": START + minute * MINUTE})
    run, _ = queries_for(b)
    pods = collect.pod_counters(run, "", {("c1", "shop")})
    assert len(pods) == 1
    assert (pods[0]["node"], pods[0]["first"], pods[0]["last"], pods[0]["samples"]) == ("node-9", 0, 1, 31)


def test_events_nodes_lost_nodes_and_pod_objects():
    b = Builder("scope", "", [RUN])
    evicted = b.add_pod(Pod("shop", "api-6d5f7b9c8d-aaaaa", owner=("deployment", "api"),
                            phase=[(END - 15 * MINUTE, "Failed")], status_reason="Evicted"))
    crashing = b.add_pod(Pod("web", "web-1", owner=("deployment", "web"), node="node-2", containers=crash([8])))
    b.event(END - 15 * MINUTE, "Evicted", "The node was low on resource: memory.", pod=evicted)
    b.event(END - 14 * MINUTE, "BackOff", "Back-off restarting failed container", pod=evicted)
    b.event(END - 9 * MINUTE, "BackOff", "Back-off restarting failed container", pod=crashing)
    b.event(END - 5 * MINUTE, "Rebooted", "Node node-1 has been rebooted", kind="Node", name="node-1",
            namespace="", cluster="c1")
    b.event(END - 5 * MINUTE, "Evicted", "elsewhere", name="x", namespace="other", uid="u-x", cluster="c1")
    b.node("node-1", taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}])
    b.node("node-2")
    run, _ = queries_for(b)
    shop_web = scopes.from_entries(scopes.SCHEMA.parse([{"namespace": ["shop", "web"]}]))
    found = collect.events(run, shop_web, {("c1", "web")})
    assert sorted((e["reason"], e["kind"], e["namespace"]) for e in found) == [
        ("BackOff", "Pod", "web"), ("Evicted", "Pod", "shop"), ("Rebooted", "Node", "")]
    evict = [e for e in found if e["reason"] == "Evicted"][0]
    assert evict["uid"] == evicted.uid and evict["time_ms"] == END - 15 * MINUTE
    node_list = sorted(collect.nodes(run, ""), key=lambda n: n["name"])
    assert [(n["name"], n["ready"]) for n in node_list] == [("node-1", "true"), ("node-2", "true")]
    assert json.loads(node_list[0]["taints"])[0]["key"] == "node.kubernetes.io/unreachable"
    assert collect.lost_nodes(node_list, END) == [("c1", "node-1")]
    assert collect.lost_node_namespaces(run, "", [("c1", "node-1")]) == {("c1", "shop")}
    where = collect.scope_condition(shop_web)
    objects, failed = collect.pod_objects(run, where, {("c1", "web")})
    assert [(f["uid"], f["phase"], f["status"]) for f in failed] == [(evicted.uid, "Failed", "Failed")]
    assert sorted(objects) == sorted([evicted.uid, crashing.uid])        # failed; restarted in a known namespace
    assert "yaml" in json.loads(objects[crashing.uid]["message"])


def test_detail_scopes_are_what_may_fire_and_what_is_open():
    obs = facts.Observation(window=WINDOW)
    obs.changes = {("c1", "shop"): facts.ScopeChange("c1", "shop", 2, 2),          # 2 pods: may fire
                   ("c1", "cart"): facts.ScopeChange("c1", "cart", 1, 3),          # 3 restarts: may fire
                   ("c1", "once"): facts.ScopeChange("c1", "once", 1, 1),          # one restart: cannot fire
                   ("c1", "kube-system"): facts.ScopeChange("c1", "kube-system", 9, 9)}
    obs.lost_node_namespaces = {("c1", "edge")}
    obs.events = [{"kind": "Pod", "reason": "Evicted", "namespace": "report", "cluster": ""},
                  {"kind": "Pod", "reason": "BackOff", "namespace": "web", "cluster": "c1"}]
    obs.failed = [{"cluster": "c2", "namespace": "batch"}]
    scope_list = scopes.from_entries([])
    scope_of = scopes.matcher(scope_list, lambda item: item["namespace"] != "kube-system")
    open_keys = [("c3", "pay"), ("c3", "kube-system"), ("c1", "once")]
    assert collect.detail_scopes(obs, scope_of, open_keys) == {
        ("c1", "shop"), ("c1", "cart"), ("c1", "once"), ("c1", "edge"), (None, "report"), ("c2", "batch"),
        ("c3", "pay")}
    strict = scopes.matcher(scopes.from_entries(scopes.SCHEMA.parse([{"min_restarted_pods": 1}])))
    assert ("c1", "once") in collect.detail_scopes(obs, strict, [])


def test_container_memory_only_for_the_pods_asked_by_uid_in_chunks(monkeypatch):
    monkeypatch.setattr(collect, "UID_CHUNK", 2)
    b = Builder("details", "", [RUN])
    made = [b.add_pod(Pod("shop", "api-6d5f7b9c8d-%05d" % i, owner=("deployment", "api"),
                          containers=[Container(usage=300 * 2 ** 20)])) for i in range(5)]
    run, api = queries_for(b)
    memory = collect.container_memory(run, [p.uid for p in made[:3]])
    assert memory[(made[0].uid, "app")] == {"mem_peak": 300 * 2 ** 20, "mem_limit": 512 * 2 ** 20,
                                            "mem_request": 256 * 2 ** 20}
    assert len(memory) == 3
    # 3 uids in chunks of 2: two queries, the first short page confirmed once while the page cap is unknown
    assert len(api.queries) == 3 and all("`pod_uid` IN [" in q["q"] for q in api.queries)


class RefusingAPI:
    def post(self, path, body, **kwargs):
        raise openapi.GuanceAPIError(path, "server", 400, "DQL.ParseError", "unexpected text")


def test_a_failed_query_is_an_empty_answer_that_says_why():
    run = collect._Queries(RefusingAPI(), state.MemoryStore(), WINDOW, None)
    assert collect.scope_changes(run, "") == {}
    assert [(s.name, s.complete) for s in run.sources] == [("changes", False)]
    assert run.sources[0].gaps[0].startswith("the query failed (DQL query failed (Guance OpenAPI "
                                             "/api/v1/df/query_data_v1 failed: HTTP 400, DQL.ParseError")


# -- issue 10: the baseline from Guance's history, ECS spot locks, workload revisions ---------------------------

def chronic(b, namespace, restarting=2, count=5, hours=5):
    """``restarting`` of ``count`` pods restart every 15 minutes for ``hours`` before the run."""
    for i in range(count):
        steps, at, n = [], END - hours * 3600 * 1000 + 2 * MINUTE, 0
        while i < restarting and at <= END:
            n += 1
            steps.append((at, n))
            at += 15 * MINUTE
        b.add_pod(Pod(namespace, "%s-%d" % (namespace, i), containers=[Container(restarts=steps)]))


def test_the_baseline_history_is_one_query_for_every_namespace_without_a_baseline():
    b = Builder("history", "", [RUN])
    b.span = (END - 5 * 3600 * 1000, END)
    for n in range(12):
        chronic(b, "ns%02d" % n, restarting=2 if n % 2 else 0)
    run, api = queries_for(b)
    shares = collect.history_shares(run, "", set(("c1", "ns%02d" % n) for n in range(12)))
    texts = [q["q"] for q in api.queries]
    # one nested query for all 12 namespaces: a series per namespace and restart count (6 namespaces with restarts:
    # 0 and 2 a window); its short page confirmed once (the server's page size is not known yet)
    assert len(texts) == 2 and texts[0] == texts[1] and api.queries[1]["soffset"] == 18
    assert "{(`cluster_name_k8s` = 'c1' && `namespace` IN ['ns00', 'ns01', " in texts[0]
    assert "[%d:%d:30m] BY `cluster_name_k8s`, `namespace`, `uid`):(count(`d`) AS `pods`, sum(`n`) AS `points`) " \
           "BY `cluster_name_k8s`, `namespace`, `d`" % (START - 4 * 3600 * 1000, START - 1) in texts[0]
    assert texts[0].startswith("M::(M::`kube_pod`:(spread(`restarts`) AS `d`, count(`restarts`) AS `n`) {")
    assert api.queries[0]["timeRange"] == [START - 4 * 3600 * 1000, START - 1]
    ns01 = shares[("c1", "ns01")]
    assert (ns01.pod_windows, ns01.restarted, ns01.points) == (40, 16, 8 * 30 * 5)
    assert shares[("c1", "ns00")].share == 0.0 and len(shares) == 12


def test_ecs_spot_locks_are_read_from_guance_only_when_a_node_is_lost():
    b = Builder("ecs", "", [RUN])
    b.node("node-1", internal_ip="10.0.0.1")
    b.ecs_instance("i-spot", "10.0.0.1", [END - 20 * MINUTE, END - 10 * MINUTE], locks_from=END - 10 * MINUTE)
    b.ecs_instance("i-payg", "10.0.0.2", [END - 10 * MINUTE], spot="NoSpot")
    b.add_pod(Pod("shop", "api-1"))
    run, api = queries_for(b)
    found = collect.ecs_recycling(run)
    assert [(i.instance_id, i.private_ips, i.seen_ms) for i in found] == [("i-spot", ["10.0.0.1"], END - 10 * MINUTE)]
    assert api.queries[0]["q"] == "CO::`aliyun_ecs`:(`name`, `InstanceId`, `InstanceName`, `HostName`, " \
                                  "`OperationLocks`, `message`) {`OperationLocks` = re`.*Recycling.*`}"
    assert api.queries[0]["timeRange"] == [START - collect.ECS_LOOKBACK_MS, END]
    api.queries[:] = []
    obs = collect.gather(api, state.MemoryStore(), scopes.from_entries([]), lambda c, n: scopes.Scope(), [],
                         WINDOW)
    assert obs.recycling == [] and not [q for q in api.queries if "aliyun_ecs" in q["q"]]   # no node lost
    assert obs.nodes[0]["internal_ip"] == "10.0.0.1"


def test_every_pod_of_a_workload_rolling_out_is_fetched_once():
    b = Builder("revisions", "", [RUN])
    for i in range(3):
        b.add_pod(Pod("shop", "api-6d5f7b9c8d-%d" % i, owner=("deployment", "api")))
    for i in range(2):
        b.add_pod(Pod("shop", "api-79c4b8f6d5-%d" % i, owner=("deployment", "api"), start=START - 10 * MINUTE,
                      containers=crash([20, 10, 5])))
    run, api = queries_for(b)
    found = collect.workload_pods(run, "", {("c1", "shop", "deployment", "api")})
    assert sorted(o["pod"] for o in found.values()) == ["api-6d5f7b9c8d-0", "api-6d5f7b9c8d-1", "api-6d5f7b9c8d-2",
                                                         "api-79c4b8f6d5-0", "api-79c4b8f6d5-1"]
    assert "{(`cluster_name_k8s` = 'c1' && `namespace` = 'shop' && `deployment` = 'api')}" in api.queries[0]["q"]
    assert all(o["message"] and o["age"] is not None for o in found.values())


def test_the_pod_counters_carry_the_memory_before_each_restart():
    b = Builder("memory", "", [RUN])
    usage = lambda at: (500 if (at // MINUTE) % 10 == 0 else 300) * 2 ** 20   # noqa: E731
    b.add_pod(Pod("shop", "api-1", mem_metrics=True, containers=[
        Container(usage=usage, restarts=[(END - 20 * MINUTE + 30000, 1), (END - 10 * MINUTE + 30000, 2)])]))
    run, api = queries_for(b)
    [pod] = collect.pod_counters(run, "", {("c1", "shop")})
    assert "max(`mem_usage`) AS `mem_max`, max(`mem_limit`) AS `mem_limit_max`" in api.queries[0]["q"]
    assert [(m["at"], m["usage"], m["limit"]) for m in pod["restart_minutes"]] == [
        (END - 19 * MINUTE, 500 * 2 ** 20, 512 * 2 ** 20), (END - 9 * MINUTE, 500 * 2 ** 20, 512 * 2 ** 20)]
    assert (pod["mem_peak"], pod["mem_limit"]) == (500 * 2 ** 20, 512 * 2 ** 20)
