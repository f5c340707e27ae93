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
