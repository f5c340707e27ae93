"""Issue 10's hard cases on records built here (no sandbox): node conditions and reboots told apart, OOM kills on
the node matched to the right pod, every source of cause evidence weighed, exit codes read in context, spot reclaim
from ECS locks, rollouts named, the baseline's source chosen."""
import json

import pytest
import yaml

from guance_monitor_k8s_pod_restart import baseline
from guance_monitor_k8s_pod_restart import causes
from guance_monitor_k8s_pod_restart import facts
from guance_monitor_k8s_pod_restart import nodes
from guance_monitor_k8s_pod_restart import rollouts

END = 1795161600000            # 2026-11-20T08:00:00Z
START = END - 30 * 60000
MIN = 60000


def node_event(reason, at, message="", name="node-3"):
    return {"kind": "Node", "name": name, "reason": reason, "time_ms": at, "cluster": "c1", "message": message}


def info_of(events, objects=None, recycling=()):
    infos, loose = nodes.node_infos(objects or [{"cluster": "c1", "name": "node-3", "ready": "true", "taints": None,
                                                 "age": 86400 * 30, "last_ms": END}], events, START, END, recycling)
    return infos[("c1", "node-3")]


# -- node conditions and reboots ----------------------------------------------------------------------

def test_a_node_flapping_not_ready_under_memory_pressure_has_conditions_and_no_reboot():
    info = info_of([node_event("NodeHasInsufficientMemory", START + 8 * MIN),
                    node_event("SystemOOM", START + 10 * MIN, "System OOM encountered, victim process: java, pid: 9"),
                    node_event("NodeNotReady", START + 11 * MIN), node_event("NodeReady", START + 13 * MIN),
                    node_event("NodeNotReady", START + 18 * MIN), node_event("NodeReady", START + 20 * MIN),
                    node_event("NodeHasSufficientMemory", START + 25 * MIN)])
    assert [(c.label, c.start_ms, c.end_ms) for c in info.conditions] == [
        ("MemoryPressure", START + 8 * MIN, START + 25 * MIN), ("SystemOOM", START + 10 * MIN, START + 10 * MIN),
        ("NotReady", START + 11 * MIN, START + 13 * MIN), ("NotReady", START + 18 * MIN, START + 20 * MIN)]
    assert info.reboots == [] and info.reboot_evidence() is None
    assert [(o.kind, o.process, o.pid) for o in info.ooms] == [("SystemOOM", "java", 9)]
    # a restart in the minute after a NotReady spell still belongs to it; one long after does not
    assert [c.label for c in info.trouble([START + 14 * MIN], START, END)] == \
        ["MemoryPressure", "SystemOOM", "NotReady"]
    assert info.trouble([START - 20 * MIN], START, END) == []


def test_only_a_new_boot_id_or_a_node_registered_anew_is_a_reboot():
    rebooted = info_of([node_event("NodeNotReady", START + 5 * MIN),
                        node_event("Rebooted", START + 6 * MIN, "Node node-3 has been rebooted, boot id: 5c2a0e5e-1f0b"),
                        node_event("NodeReady", START + 7 * MIN)])
    assert rebooted.reboot_evidence() == "Rebooted (boot id 5c2a0e5e-1f0b)"
    fresh = info_of([], [{"cluster": "c1", "name": "node-3", "ready": "true", "taints": None, "age": 300,
                          "last_ms": END}])
    assert fresh.reboots[0].at_ms == END - 300 * 1000 and "age 300s" in fresh.reboot_evidence()


def test_conditions_open_at_either_end_of_the_window():
    info = info_of([node_event("NodeHasSufficientMemory", START + 3 * MIN),
                    node_event("NodeHasDiskPressure", START + 20 * MIN),
                    node_event("EvictionThresholdMet", START + 21 * MIN, "Attempting to reclaim ephemeral-storage")],
                   [{"cluster": "c1", "name": "node-3", "ready": "unknown", "taints": None, "age": 9999,
                     "last_ms": END}])
    assert [(c.label, c.start_ms, c.end_ms) for c in info.conditions] == [
        ("MemoryPressure", None, START + 3 * MIN), ("DiskPressure", START + 20 * MIN, None),
        ("NotReady", END, None)]
    assert len(info.conditions[1].events) == 2          # the eviction threshold joins the open disk pressure


def test_the_reboot_pattern_is_inferred_only_for_nodes_kubernetes_said_nothing_about():
    pods = [{"cluster": "c1", "node": "node-3", "alive": True, "delta": 1, "owner_kind": "deployment",
             "owner": "w%d" % (i % 2), "uid": "u%d" % i} for i in range(4)]
    assert list(nodes.suspected_reboots(pods)) == [("c1", "node-3")]
    infos, loose = nodes.node_infos([], [node_event("NodeNotReady", START + 5 * MIN)], START, END)
    assert nodes.suspected_reboots(pods, infos, loose) == {}


# -- OOM kills on the node, matched to the pod ----------------------------------------------------------

KILLED = ("Memory cgroup out of memory: Killed process 4242 (python3) total-vm:1262412kB, anon-rss:523112kB, "
          "file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:1204kB oom_score_adj:999")


def restarted(uid, minutes):
    return {"uid": uid, "restart_minutes": [{"at": at, "usage": None, "limit": None} for at in minutes]}


def test_node_oom_messages_name_the_process_and_sometimes_the_pod():
    npd = nodes.node_oom(node_event("OOMKilling", END, KILLED))
    assert (npd.kind, npd.process, npd.pid, npd.uid_in_message) == ("OOMKilling", "python3", 4242, "")
    cgroup = nodes.node_oom(node_event("OOMKilling", END, "oom-kill:constraint=CONSTRAINT_MEMCG,task_memcg=/kubepods/"
                                       "burstable/pod1065405a_b84a_e071_46e1_19500b4a5aae/abc,task=java,pid=7"))
    assert (cgroup.process, cgroup.uid_in_message) == ("java", "1065405a-b84a-e071-46e1-19500b4a5aae")
    assert nodes.node_oom(node_event("NodeNotReady", END)) is None


def test_an_oom_kill_is_matched_by_process_and_time_never_to_a_bystander():
    oom = nodes.node_oom(node_event("OOMKilling", START + 10 * MIN + 1000, KILLED))
    worker, helper = restarted("worker", [START + 10 * MIN]), restarted("helper", [START + 10 * MIN])
    names = {"worker": {"app": {"python3"}}, "helper": {"helper": {"helper"}}}
    assert [(p["uid"], c, how) for p, c, how in nodes.oom_candidates(oom, [worker, helper],
                                                                   lambda p: names[p["uid"]])] == \
        [("worker", "app", "process")]
    # a pod that restarted at another time is not matched, whatever its process
    late = restarted("late", [START + 25 * MIN])
    assert nodes.oom_candidates(oom, [late], lambda p: {"app": {"python3"}}) == []
    # commands unknown: only a lone pod restarting at that time is matched, by time
    alone = restarted("alone", [START + 10 * MIN])
    assert [how for _, _, how in nodes.oom_candidates(oom, [alone], lambda p: {})] == ["time"]
    assert nodes.oom_candidates(oom, [alone, restarted("other", [START + 10 * MIN])], lambda p: {}) == []


@pytest.mark.parametrize("command, args, names", [
    (["python3", "-m", "worker"], None, {"python3"}),
    (["/usr/bin/java", "-jar", "app.jar"], None, {"java"}),
    (["/bin/sh", "-c", "exec node server.js"], None, {"sh", "exec"}),
    (None, ["/app/server"], {"server"}),
    (None, None, set()),
])
def test_process_names_from_the_container_command(command, args, names):
    assert nodes.process_names({"command": command, "args": args}) == names


# -- ECS spot instances being reclaimed ----------------------------------------------------------------

def recycling_row(locks, ip="10.0.2.11", at=END - 20 * MIN):
    message = {"InstanceId": "i-spot", "SpotStrategy": "SpotAsPriceGo",
               "VpcAttributes": {"PrivateIpAddress": {"IpAddress": [ip]}}, "OperationLocks": {"LockReason": []}}
    return {"InstanceId": "i-spot", "InstanceName": "worker-k8s-1", "HostName": "iz-spot", "time": at,
            "OperationLocks": json.dumps(locks), "message": json.dumps(message)}


def test_a_recycling_lock_makes_the_node_behind_it_a_spot_reclaim():
    found = facts.recycling_instance(recycling_row([{"LockReason": "Recycling", "LockMsg": "spot"}]))
    assert (found.instance_id, found.private_ips, found.seen_ms, found.spot_strategy) == \
        ("i-spot", ["10.0.2.11"], END - 20 * MIN, "SpotAsPriceGo")
    assert facts.recycling_instance(recycling_row([{"LockReason": "financial"}])) is None
    assert facts.recycling_instance(recycling_row("not json")) is None
    by_ip = info_of([], [{"cluster": "c1", "name": "node-3", "ready": "unknown", "taints": None, "age": 9,
                          "last_ms": END, "internal_ip": "10.0.2.11"}], [found])
    assert by_ip.spot is found
    named = nodes.NodeInfo("cn-hangzhou.10.0.2.11")
    assert nodes.spot_instance(named, [found]) is found
    assert nodes.spot_instance(nodes.NodeInfo("cn-hangzhou.10.0.2.12"), [found]) is None


# -- every source weighed: exit codes in context --------------------------------------------------------

def container(reason=None, code=None, command=None, name="app"):
    last = None if reason is None and code is None else {"reason": reason, "exit_code": code}
    return {"name": name, "last": last, "waiting_reason": "", "command": command}


def minutes(*pairs):
    return [{"at": START + m * MIN, "usage": usage, "limit": 512 * 2 ** 20} for m, usage in pairs]


NEAR = 509 * 2 ** 20
LOW = 200 * 2 ** 20


def npd(container_name="app", how="process"):
    return {container_name: [(nodes.node_oom(node_event("OOMKilling", START + 10 * MIN, KILLED)), how)]}


def system_oom():
    return {None: [(nodes.node_oom(node_event("SystemOOM", START + 10 * MIN, "System OOM encountered, victim "
                                                                              "process: java, pid: 3")), "time")]}


def pressure():
    return [nodes.Condition("memory_pressure", START + 5 * MIN, START + 20 * MIN, [])]


@pytest.mark.parametrize("item, ctx, cause, source, text", [
    # 137: an OOM only with OOM evidence
    (container("Error", 137), causes.Context(minutes((10, NEAR))), "oom", "yaml+memory", causes.EXIT_137_OOM),
    (container("Error", 137), causes.Context(node_ooms=npd()), "oom", "yaml+node_oom", causes.EXIT_137_OOM),
    (container("Error", 137), causes.Context(minutes((10, LOW))), "app_error", "yaml", causes.EXIT_137_PLAIN),
    # 143: a requested stop
    (container("Error", 143), None, "app_error", "yaml", causes.EXIT_143),
    # 1: the application's error; 2: a shell's builtin misuse only when the container runs a shell
    (container("Error", 1, ["/app/server"]), None, "app_error", "yaml", "the application exited with an error"),
    (container("Error", 2, ["/app/server", "--bad-flag"]), None, "app_error", "yaml", causes.EXIT_2_APP),
    (container("Error", 2, ["/bin/bash", "-c", "run.sh"]), None, "app_error", "yaml", causes.EXIT_2_SHELL),
    (container("Error", 2), None, "app_error", "yaml", causes.EXIT_2_UNKNOWN),
    # the node ran out of memory while the container was below its limit: the node's doing
    (container("OOMKilled", 137), causes.Context(minutes((10, LOW)), system_oom(), pressure()), "node_condition",
     "yaml+node", causes.NODE_OOM_TEXT),
    # ... but at its own limit it is the container's OOM, node trouble or not
    (container("OOMKilled", 137), causes.Context(minutes((10, NEAR)), system_oom(), pressure()), "oom", "yaml",
     "OOMKilled (exit 137)"),
    (container("Error", 1), causes.Context(minutes((10, LOW)), trouble=pressure()), "node_condition", "yaml+node",
     "MemoryPressure"),
    # no pod status (DataKit after v1.84.0): memory and node events decide
    (container(), causes.Context(minutes((10, NEAR), (20, NEAR))), "oom", "memory", "memory at the limit"),
    (container(), causes.Context(minutes((10, None)), npd()), "oom", "node_oom", "node event"),
    (container(), causes.Context(minutes((10, LOW)), system_oom(), pressure()), "node_condition", "node",
     causes.NODE_OOM_TEXT),
    (container(), causes.Context(minutes((10, LOW)), trouble=pressure()), "node_condition", "node", "MemoryPressure"),
])
def test_weigh_reads_every_source(item, ctx, cause, source, text):
    found, reason, where, evidence = causes.weigh(item, [], None, ctx)
    assert (found, where) == (cause, source) and text in reason
    kinds = [e["kind"] for e in evidence]
    assert ("yaml" in kinds) == (item["last"] is not None)
    if ctx is not None and ctx.node_ooms:
        assert any(k in kinds for k in ("node_oom", "system_oom"))


def test_a_probe_kill_with_exit_143_is_the_probe():
    killing = {"reason": "Killing", "message": "Container app failed liveness probe, will be restarted",
               "time_ms": END - MIN}
    assert causes.weigh(container("Error", 143), [killing])[0] == "probe"


def test_each_cause_line_names_its_evidence():
    ctx = causes.Context(minutes((10, NEAR), (20, NEAR)), npd(), node="node-2")
    found, _, _, evidence = causes.weigh(container(), [], None, ctx)
    texts = [e["text"] for e in evidence]
    assert found == "oom"
    assert texts[0].startswith("kube_pod 内存在 2/2 次重启前达到 509Mi / 512Mi (99.4%)")
    assert "node-problem-detector OOMKilling ×1 @ node-2" in texts[1] and "Killed process 4242 (python3)" in texts[1]


@pytest.mark.parametrize("code, container_item, meaning", [
    (137, None, causes.EXIT_137_PLAIN), (143, None, causes.EXIT_143), (139, None, "SIGSEGV"),
    (2, {"command": ["sh", "-c", "x"]}, causes.EXIT_2_SHELL), (2, {"command": ["/bin/app"]}, causes.EXIT_2_APP),
])
def test_exit_code_text(code, container_item, meaning):
    assert meaning in causes.exit_code_text(code, container_item)


# -- the state a user sees ----------------------------------------------------------------------------------

def backoff(name="app"):
    return {"reason": "BackOff", "message": "Back-off restarting failed container %s in pod x" % name}


@pytest.mark.parametrize("item, events, status, state", [
    ({"name": "app", "waiting_reason": "CrashLoopBackOff", "state": "waiting"}, [], "Running", "CrashLoopBackOff"),
    ({"name": "app", "state": "running"}, [backoff()], "Running", "CrashLoopBackOff"),
    ({"name": "app", "state": "running"}, [backoff("other")], "Running", "Running"),
    ({"name": "app"}, [], "ImagePullBackOff", "ImagePullBackOff"),
    ({"name": "app"}, [], "", "-"),
])
def test_state_of(item, events, status, state):
    assert causes.state_of(item, events, status) == state


def test_the_pod_state_joins_the_state_and_the_last_termination():
    app = {"name": "app", "state": "running", "restarted": True, "last": {"reason": "OOMKilled", "exit_code": 137}}
    pod = {"category": "restarted", "object_status": "Running", "detail": {"containers": [app]}}
    assert causes.container_state(pod, [backoff()]) == "CrashLoopBackOff（上次 / last: OOMKilled, exit 137）"
    unknown = {"category": "restarted", "cause": "oom", "detail": {"containers": [{"name": "app", "restarted": True}]}}
    assert causes.container_state(unknown, []) == "上次 / last: OOMKilled"
    evicted = {"category": "disrupted", "object_status": "Failed", "detail": {"reason": "Evicted: low on memory"}}
    assert causes.container_state(evicted, []) == "Evicted"


# -- restart minutes and memory from the per-minute counters ------------------------------------------------

def row(minute, first, last, mem=None, limit=None):
    return {"time": START + minute * MIN, "restarts_first": first, "restarts_last": last, "mem_max": mem,
            "mem_limit_max": limit}


def test_restart_minutes_with_the_memory_last_seen_before():
    rows = [row(0, 5, 5, 400, 512), row(1, 5, 5, 509, 512), row(2, 5, 5, 0, 512), row(3, 6, 6, 300, 512),
            row(4, 6, 7, 350, 512), row(5, 0, 0, 100, 512), row(6, 0, 0, 100, 512)]
    assert facts.restart_minutes(rows) == [
        {"at": START + 3 * MIN, "usage": 509, "limit": 512},       # the waiting minute's zero is skipped
        {"at": START + 4 * MIN, "usage": 300, "limit": 512}]       # a rise within the minute; the drop is no restart


def test_history_shares_count_pod_windows_per_namespace():
    rows = [{"cluster_name_k8s": "c1", "namespace": "ledger", "d": "0", "pods": 48, "points": 1440},
            {"cluster_name_k8s": "c1", "namespace": "ledger", "d": "2", "pods": 32, "points": 960},
            {"cluster_name_k8s": "c1", "namespace": "web", "d": "0", "pods": 40, "points": 1200},
            {"cluster_name_k8s": "c1", "namespace": "odd", "d": None, "pods": 3, "points": 90}]
    shares = facts.history_shares(rows, 1, 2)
    ledger = shares[("c1", "ledger")]
    assert (ledger.pod_windows, ledger.restarted, ledger.points) == (80, 32, 2400)
    assert shares[("c1", "ledger")].share == pytest.approx(0.4) and shares[("c1", "web")].share == 0.0
    assert ("c1", "odd") not in shares


# -- the baseline's source ------------------------------------------------------------------------------------

def share(windows, restarted_windows, points_per_window=31):
    return facts.HistoryShare("c1", "ledger", windows, restarted_windows, START - 4 * 3600 * 1000, START - 1,
                              points=windows * points_per_window)


@pytest.mark.parametrize("own, alert, found, asked, readable, source, value", [
    ([[END - 30 * MIN, 0.3]], None, share(80, 32), True, True, "state", 0.3),
    ([], {"info": {"baseline": 0.4, "baseline_from": "guance"}}, share(80, 8), True, True, "alert", 0.4),
    ([], {"status": "critical", "info": {"ratio": 0.5}}, None, False, True, "alert", 0.0),   # released version's alert
    ([], None, share(80, 32), True, True, "guance", 0.4),
    ([], None, share(10, 10), True, True, "none", 0.0),                                    # too little history
    ([], None, share(20, 8, points_per_window=5), True, True, "none", 0.0),   # two windows of a few minutes each
    ([], None, None, True, False, "unknown", 0.0),                                         # the query failed
    ([], None, None, False, True, "none", 0.0),
])
def test_the_baseline_comes_from_the_state_an_open_alert_or_guance(own, alert, found, asked, readable, source, value):
    chosen = baseline.choose(own, alert, found, asked, readable, 10, 31, END)
    assert (chosen.source, chosen.value) == (source, pytest.approx(value))


def test_what_the_report_says_about_the_baseline():
    assert baseline.text(baseline.choose([], None, share(80, 32), True, True, 10, 31, END)) == (
        "观测云历史：窗口前 4 小时内 80 个 Pod·窗口中 32 个有重启（kube_pod） / Guance's history: 32 of 80 pod-windows "
        "restarted in the 4 hours before the window (kube_pod)")
    assert "the baseline when the alert opened (观测云历史 / Guance's history)" in baseline.text(
        baseline.Baseline(0.4, "alert", opened_from="guance"))
    assert "could not be read" in baseline.text(baseline.Baseline(source="unknown"))
    assert "too little history in Guance before the window (310 points, less than 2 windows" in baseline.text(
        baseline.choose([], None, share(10, 1), True, True, 10, 31, END))


def test_only_namespaces_without_a_baseline_of_their_own_ask_guance():
    from guance_monitor_k8s_pod_restart import alert_state
    history = {alert_state.alert_key("c1", "known"): [[END - 30 * MIN, 0.1]]}
    pairs = {("c1", "known"), ("c1", "open"), ("c1", "new"), (None, "any-cluster")}
    assert baseline.unsettled(pairs, history, [("c1", "open")], END) == {("c1", "new"), (None, "any-cluster")}
    assert baseline.history_range(facts.Window(START, END)) == (START - 8 * 30 * MIN, START - 1)


# -- rollouts ---------------------------------------------------------------------------------------------------

def pod(name, owner=("deployment", "api"), category="healthy", alive=True, minutes=(), changed=None, uid=None):
    return {"uid": uid or "uid-" + name, "pod": name, "cluster": "c1", "namespace": "shop", "owner_kind": owner[0],
            "owner": owner[1], "category": category, "alive": alive, "last_ms": END if alive else END - 20 * MIN,
            "restart_minutes": [{"at": START + m * MIN} for m in minutes],
            "max": 3 if changed or category == "restarted" else 0, "min": 0}


def pod_object(item, image, version, created_ms, revision_hash=None):
    labels = {"app.kubernetes.io/version": version}
    if revision_hash:
        labels["controller-revision-hash"] = revision_hash
    spec = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "api", "image": image}]}}
    return {"uid": item["uid"], "message": json.dumps({"yaml": yaml.safe_dump(spec)}), "last_ms": END,
            "age": (END - created_ms) // 1000}


def deployment(new_created=END - 40 * MIN, old_restarting=False, old_alive=True):
    crashing = [pod("api-79c4b8f6d5-a%d" % i, category="restarted", minutes=(5, 15)) for i in range(3)]
    old = [pod("api-6d5f7b9c8d-b%d" % i, category="restarted" if old_restarting else "healthy", alive=old_alive)
           for i in range(5)]
    objects = {p["uid"]: pod_object(p, "registry/api:1.5.0", "1.5.0", new_created) for p in crashing}
    objects.update({p["uid"]: pod_object(p, "registry/api:1.4.2", "1.4.2", END - 3 * 86400 * 1000) for p in old})
    return crashing + old, objects


def test_a_new_revision_crashing_beside_a_healthy_previous_one_is_named():
    members, objects = deployment()
    found = rollouts.attribute(members, objects, [], START, END)
    assert (found.revision, found.previous, found.previous_pods, found.crashing, found.strong) == \
        ("api-79c4b8f6d5", "api-6d5f7b9c8d", 5, 3, True)
    assert found.created_ms == END - 40 * MIN and found.command == "kubectl rollout undo deployment/api -n shop"
    assert found.changes == [("image api", "registry/api:1.4.2", "registry/api:1.5.0"),
                             ("label app.kubernetes.io/version", "1.4.2", "1.5.0")]


def test_a_rollout_is_only_pointed_to_when_it_is_not_named():
    members, objects = deployment(old_restarting=True)
    found = rollouts.attribute(members[:3] + members[3:], objects, [], START, END)
    assert found is None                          # the old revision restarts too: the crashes are not the new one's
    members, objects = deployment(old_alive=False)
    scale_up = {"reason": "ScalingReplicaSet", "namespace": "shop", "time_ms": END - 41 * MIN,
                "message": "Scaled up replica set api-79c4b8f6d5 to 3"}
    found = rollouts.attribute(members, objects, [scale_up], START, END)
    assert found is not None and not found.strong and found.created_ms == END - 41 * MIN
    members, objects = deployment(new_created=END - 3 * 86400 * 1000)
    assert rollouts.attribute(members, objects, [], START, END) is None     # an old revision is not a rollout


def test_a_statefulset_revision_is_read_from_the_pod_labels():
    crashing = pod("db-2", owner=("statefulset", "db"), category="restarted", minutes=(5,))
    steady = [pod("db-%d" % i, owner=("statefulset", "db")) for i in range(2)]
    objects = {crashing["uid"]: pod_object(crashing, "pg:16", "16", END - 35 * MIN, "db-7b9c")}
    objects.update({p["uid"]: pod_object(p, "pg:15", "15", END - 86400 * 1000, "db-5f6a") for p in steady})
    assert rollouts.suspects([crashing] + steady, objects, [], END) == {("c1", "shop", "statefulset", "db")}
    found = rollouts.attribute([crashing] + steady, objects, [], START, END)
    assert (found.revision, found.previous, found.strong, found.command) == \
        ("db-7b9c", "db-5f6a", True, "kubectl rollout undo statefulset/db -n shop")


def test_suspects_need_a_split_between_restarting_and_steady_revisions():
    members, objects = deployment()
    counters = [dict(p, max=3 if p["category"] == "restarted" else 0, min=0) for p in members]
    assert rollouts.suspects(counters, {}, [], END) == {("c1", "shop", "deployment", "api")}
    one_revision = [dict(p, pod=p["pod"].replace("6d5f7b9c8d", "79c4b8f6d5")) for p in counters]
    assert rollouts.suspects(one_revision, {}, [], END) == set()


# -- spot notices ----------------------------------------------------------------------------------------------

def test_the_spot_notice_and_release_times():
    from guance_monitor_k8s_pod_restart import analyse
    notice = {"reason": "SpotToBeReleased", "time_ms": END - 20 * MIN,
              "message": "Spot ECI will be released in 5 minutes"}
    assert analyse.spot_notice([notice]) == (END - 20 * MIN, END - 15 * MIN)
    released = "The pod is spot instance, and have been released at 2026-11-20T07:43Z"
    assert analyse.spot_notice([notice], released) == (END - 20 * MIN, END - 17 * MIN)
    node = nodes.NodeInfo("n1")
    node.spot = facts.RecyclingInstance("i-1", seen_ms=END - 25 * MIN)
    assert analyse.spot_notice([], None, node) == (END - 25 * MIN, None)
    assert analyse.spot_notice([]) == (None, None)
