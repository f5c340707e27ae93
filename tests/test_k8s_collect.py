"""The queries of the pod-restart inspection, answered by the sandbox's DQL engine: what comes back as plain data."""
import json

from guance_monitor_k8s_pod_restart import collect
from guance_monitor_k8s_pod_restart import scopes

from k8s_scenario_builder import MINUTE, Builder, Container, Pod, SandboxAPI, ms

RUN = "2026-11-20T08:00:00Z"
END = ms(RUN)
START = END - 30 * MINUTE


def everything():
    return scopes.from_entries([])


def client_for(builder):
    api = SandboxAPI(builder.to_dict())
    return collect.client(api), api


def test_pod_counters_per_uid_with_the_time_of_the_last_point():
    b = Builder("counters", "", [RUN])
    b.add_pod(Pod("shop", "api-6d5f7b9c8d-aaaaa", owner=("deployment", "api"),
                  containers=[Container(restarts=[(END - 20 * MINUTE, 2), (END - 10 * MINUTE, 3)])]))
    b.add_pod(Pod("shop", "api-6d5f7b9c8d-bbbbb", owner=("deployment", "api"), end=END - 12 * MINUTE))
    b.add_pod(Pod("batch", "export-1-ccccc", owner=("job", "export-1"), node="node-2"))
    client, api = client_for(b)
    pods = dict((p["pod"], p) for p in collect.pod_counters(client, everything(), START, END))
    first = pods["api-6d5f7b9c8d-aaaaa"]
    assert (first["first"], first["last"], first["max"], first["min"], first["samples"]) == (0, 3, 3, 0, 31)
    assert (first["owner_kind"], first["owner"], first["node"], first["last_ms"]) == \
        ("deployment", "api", "node-1", END)
    assert pods["api-6d5f7b9c8d-bbbbb"]["last_ms"] == END - 12 * MINUTE
    assert (pods["export-1-ccccc"]["owner_kind"], pods["export-1-ccccc"]["ready_max"]) == ("job", 1)
    # two series queries; each short page is confirmed by one more request while the server's page cap is unknown
    assert len(api.queries) == 4 and all(q["disableMultipleField"] is False for q in api.queries)


def test_a_pod_seen_under_two_node_names_is_one_pod():
    b = Builder("moved", "", [RUN])
    tags = {"cluster_name_k8s": "c1", "namespace": "shop", "uid": "u-1", "pod_name": "api-1", "deployment": "api"}
    for minute in range(31):
        node = {} if minute < 3 else {"node_name": "node-9"}         # Pending: no node yet
        b.metric.append({"measurement": "kube_pod", "tags": dict(tags, **node),
                         "fields": {"restarts": 0 if minute < 20 else 1, "ready": 1},
                         "time": START + minute * MINUTE})
    client, _ = client_for(b)
    pods = collect.pod_counters(client, everything(), START, END)
    assert len(pods) == 1
    assert (pods[0]["node"], pods[0]["first"], pods[0]["last"], pods[0]["samples"]) == ("node-9", 0, 1, 31)


def test_scope_events_nodes_and_failed_pods():
    b = Builder("scope", "", [RUN])
    evicted = b.add_pod(Pod("shop", "api-6d5f7b9c8d-aaaaa", owner=("deployment", "api"),
                            phase=[(END - 15 * MINUTE, "Failed")], status_reason="Evicted"))
    b.add_pod(Pod("web", "web-1", owner=("deployment", "web")))
    b.event(END - 15 * MINUTE, "Evicted", "The node was low on resource: memory.", pod=evicted)
    b.event(END - 14 * MINUTE, "BackOff", "Back-off restarting failed container", pod=evicted)   # not scope-wide
    b.event(END - 5 * MINUTE, "Rebooted", "Node node-1 has been rebooted", kind="Node", name="node-1",
            namespace="", cluster="c1")
    b.event(END - 5 * MINUTE, "Evicted", "elsewhere", name="x", namespace="other", uid="u-x", cluster="c1")
    b.node("node-1", taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}])
    client, _ = client_for(b)
    shop = scopes.from_entries(scopes.SCHEMA.parse([{"namespace": "shop"}]))
    events = collect.scope_events(client, shop, START, END)
    assert sorted((e["reason"], e["kind"], e["namespace"]) for e in events) == [
        ("Evicted", "Pod", "shop"), ("Rebooted", "Node", "")]
    evict = [e for e in events if e["reason"] == "Evicted"][0]
    assert evict["uid"] == evicted.uid and evict["time_ms"] == END - 15 * MINUTE
    nodes = collect.nodes(client, shop, START, END)
    assert [(n["name"], n["ready"], json.loads(n["taints"])[0]["key"]) for n in nodes] == [
        ("node-1", "true", "node.kubernetes.io/unreachable")]
    failed = collect.failed_pods(client, shop, START, END)
    assert [(f["uid"], f["phase"], f["status"]) for f in failed] == [(evicted.uid, "Failed", "Failed")]


def test_details_by_uid_in_chunks(monkeypatch):
    monkeypatch.setattr(collect, "UID_CHUNK", 2)
    b = Builder("details", "", [RUN])
    made = [b.add_pod(Pod("shop", "api-6d5f7b9c8d-%05d" % i, owner=("deployment", "api"),
                          containers=[Container(usage=300 * 2 ** 20)])) for i in range(5)]
    b.event(END - MINUTE, "BackOff", "Back-off restarting failed container app in pod x", pod=made[0])
    client, api = client_for(b)
    uids = [p.uid for p in made[:3]]
    objects = collect.pod_objects(client, uids, START, END)
    assert sorted(objects) == sorted(uids) and "yaml" in json.loads(objects[uids[0]]["message"])
    assert [e["reason"] for e in collect.pod_events(client, uids, START, END)] == ["BackOff"]
    memory = collect.container_memory(client, uids, START, END)
    assert memory[(made[0].uid, "app")] == {"mem_peak": 300 * 2 ** 20, "mem_limit": 512 * 2 ** 20,
                                            "mem_request": 256 * 2 ** 20}
    assert len(memory) == 3
    # 3 uids in chunks of 2: two queries each, and the memory's short series page confirmed once
    assert len(api.queries) == 7
    assert all("IN [" in q["q"] for q in api.queries)
