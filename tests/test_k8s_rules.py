"""Each detection rule of the pod-restart inspection over synthetic series.

In the spirit of kubernetes-mixin's tested alerting rules.

A pod's ``restarts`` series is written as one value per minute; ``stats`` turns
it into what the pod-counter query returns (first/last/max/min, the
sample count, ``max(ready)``, the time of the last point).
"""
import json

import pytest
import yaml

from guance_monitor_k8s_pod_restart import alert_state
from guance_monitor_k8s_pod_restart import analyse
from guance_monitor_k8s_pod_restart import facts
from guance_monitor_k8s_pod_restart import nodes
from guance_monitor_k8s_pod_restart import scopes

END = 1795161600000            # 2026-11-20T08:00:00Z
START = END - analyse.WINDOW_MS
MIN = 60000


def stats(series, namespace="shop", name="api-6d5f7b9c8d-x7k2p", uid=None, cluster="c1", node="node-1",
          owner=("deployment", "api"), start=START, ready=1):
    """The aggregates of a per-minute ``series`` starting at ``start`` (None = no point that minute)."""
    points = [(start + i * MIN, v) for i, v in enumerate(series) if v is not None]
    values = [v for _, v in points]
    return {"cluster": cluster, "namespace": namespace, "uid": uid or "uid-" + name, "pod": name, "node": node,
            "owner_kind": owner[0] if owner else "", "owner": owner[1] if owner else "",
            "first": values[0], "last": values[-1], "max": max(values), "min": min(values),
            "samples": len(values), "ready_max": ready, "last_ms": points[-1][0]}


def full(value_at):
    """31 per-minute values (both window ends included)."""
    return [value_at(i) for i in range(31)]


# -- counters ---------------------------------------------------------------------------------

@pytest.mark.parametrize("series, delta, reset", [
    (full(lambda i: 4), 0, False),                                   # steady counter
    (full(lambda i: 4 + i // 5), 6, False),                          # +1 every 5 minutes
    ([0, 1, 2, 3], 3, False),                                        # new pod crash-looping from 0
    (full(lambda i: 7 if i < 20 else 0), 0, True),                   # kubelet reset, no restart after
    ([7, 7, 0, 1, 2, 3], 3, True),                                   # reset, then 3 restarts
    ([7, 8, 0], 1, True),                                            # one restart, then a reset
    ([5, 6, 7, 0, 1], 2, True),                                      # the larger side of the drop is kept
])
def test_restart_delta_handles_counters_that_go_down(series, delta, reset):
    pod = stats(series)
    assert analyse.restart_delta(pod["first"], pod["last"], pod["max"], pod["min"]) == (delta, reset)


def test_restart_delta_without_values_is_no_restart():
    assert analyse.restart_delta(None, 3, 3, 3) == (0, False)


@pytest.mark.parametrize("change, problem", [
    ({"namespace": ""}, "kube_pod points without the namespace tag"),
    ({"uid": ""}, "kube_pod points without the uid tag (pod api-6d5f7b9c8d-x7k2p)"),
    ({"min": -5}, "pod api-6d5f7b9c8d-x7k2p: restarts counter -5 is not a restart count (expected 0 to 1000000)"),
    ({"max": 1e12}, "pod api-6d5f7b9c8d-x7k2p: restarts counter 1000000000000 is not a restart count "
                    "(expected 0 to 1000000)"),
    ({"last": "3"}, "pod api-6d5f7b9c8d-x7k2p: restarts '3' is not a number"),
    ({"first": None}, "pod api-6d5f7b9c8d-x7k2p has no first value of restarts"),
    ({"max": float("nan")}, "pod api-6d5f7b9c8d-x7k2p: restarts nan is not a number"),
])
def test_bad_counters_are_named_and_set_aside(change, problem):
    bad = stats(full(lambda i: 1))
    bad.update(change)
    good = stats(full(lambda i: i // 10), name="ok-pod")
    kept, rejected = analyse.validate([bad, good])
    assert kept == [good] and good["delta"] == 3
    assert rejected == [(bad, problem)]


# -- presence ---------------------------------------------------------------------------------

def test_presence_alive_new_and_vanished():
    steady = stats(full(lambda i: 0), name="steady")
    new = stats([None] * 20 + [0] * 11, name="new")
    gone = stats([0] * 15 + [None] * 16, name="gone")
    other_cluster = stats([0] * 10, name="elsewhere", cluster="c2")
    analyse.mark_presence([steady, new, gone, other_cluster])
    assert (steady["alive"], steady["new"]) == (True, False)
    assert (new["alive"], new["new"]) == (True, True)
    assert (gone["alive"], gone["new"]) == (False, False)
    assert other_cluster["alive"] is True          # alive relative to its own cluster's latest point


@pytest.mark.parametrize("latest, state", [(END, "ok"), (END - 9 * MIN, "ok"), (END - 11 * MIN, "stale"),
                                           (None, "none")])
def test_data_state(latest, state):
    assert facts.data_state(latest, END) == state


# -- nodes ------------------------------------------------------------------------------------

def node_event(reason, name="node-5", at=END - 10 * MIN, cluster="c1"):
    return {"kind": "Node", "name": name, "reason": reason, "time_ms": at, "cluster": cluster, "message": ""}


def test_node_infos_lost_gone_and_rebooted():
    objects = [
        {"cluster": "c1", "name": "node-1", "ready": "true", "taints": None, "age": 86400, "last_ms": END},
        {"cluster": "c1", "name": "node-2", "ready": "unknown", "taints": None, "age": 86400, "last_ms": END},
        {"cluster": "c1", "name": "node-3", "ready": "true", "age": 86400, "last_ms": END,
         "taints": '[{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]'},
        {"cluster": "c1", "name": "node-4", "ready": "true", "taints": None, "age": 86400, "last_ms": END - 20 * MIN},
        {"cluster": "c1", "name": "node-6", "ready": "true", "taints": None, "age": 600, "last_ms": END},
    ]
    infos, loose = nodes.node_infos(objects, [node_event("Rebooted", "node-1"), node_event("Rebooted", "node-9",
                                                                                          cluster="")],
                                    START, END)
    assert [infos[("c1", "node-%d" % i)].lost for i in (1, 2, 3, 4, 6)] == [False, True, True, True, False]
    assert infos[("c1", "node-4")].gone and infos[("c1", "node-3")].lost_taint == "node.kubernetes.io/unreachable"
    assert infos[("c1", "node-1")].reboot_evidence() == "Rebooted"
    assert infos[("c1", "node-6")].reboot_evidence() == \
        "node registered 600s before its last report (age 600s)"                # registered within the window
    assert infos[("c1", "node-2")].reboot_evidence() is None
    assert loose[(None, "node-9")].reboot_evidence() == "Rebooted"


def test_suspected_reboot_needs_most_pods_of_several_workloads_restarting_once():
    pods = []
    for i, owner in enumerate(["a", "a", "b", "c"]):
        pod = stats(full(lambda m: 1 if m > 20 else 0), name="p%d" % i, node="node-5", owner=("deployment", owner))
        pods.append(pod)
    pods.append(stats(full(lambda m: 0), name="quiet", node="node-5"))
    kept, _ = analyse.validate(pods)
    analyse.mark_presence(kept)
    suspects = nodes.suspected_reboots(kept)
    assert list(suspects) == [("c1", "node-5")] and suspects[("c1", "node-5")].startswith("4/5")
    # one workload crash-looping on a node is not a reboot
    looping = [stats(full(lambda m: m // 5), name="l%d" % i, node="node-7", owner=("deployment", "x"))
               for i in range(4)]
    kept, _ = analyse.validate(looping)
    analyse.mark_presence(kept)
    assert nodes.suspected_reboots(kept) == {}


# -- disruption -------------------------------------------------------------------------------

def pod_event(reason, message="", at=END - 15 * MIN):
    return {"kind": "Pod", "reason": reason, "message": message, "time_ms": at}


def test_disruption_terminal_events_count_even_while_the_pod_is_listed():
    pod = stats(full(lambda i: 0))
    analyse.mark_presence([pod])
    cause, evidence = analyse.disruption(pod, [pod_event("Evicted", "The node was low on resource: memory.")],
                                         None, None)
    assert cause == "eviction" and evidence == "Evicted: The node was low on resource: memory."
    assert analyse.disruption(pod, [pod_event("TaintManagerEviction")], None, None)[0] == "node_lost"


def test_disruption_soft_events_need_the_pod_gone_or_failed():
    alive = stats(full(lambda i: 0), name="alive")
    gone = stats([0] * 12 + [None] * 19, name="gone")
    analyse.mark_presence([alive, gone])
    notice = [pod_event("SpotToBeReleased", "Spot ECI will be released in 3 minutes")]
    assert analyse.disruption(alive, notice, None, None) is None
    assert analyse.disruption(gone, notice, None, None)[0] == "spot"


def test_failed_pods_count_only_when_they_ran_in_the_window():
    ran = stats(full(lambda i: 0), name="ran", ready=1)
    dead = stats(full(lambda i: 0), name="dead", ready=0)
    analyse.mark_presence([ran, dead])
    failed = {"status": "Failed", "phase": "Failed"}
    assert analyse.disruption(ran, [], dict(failed, status="Evicted"), None) == \
        ("eviction", "Pod Evicted（phase Failed）")
    assert analyse.disruption(dead, [], failed, None) is None
    cause, evidence = analyse.disruption(ran, [pod_event("SpotToBeReleased", "released in 3 minutes")], failed, None)
    assert cause == "spot" and "SpotToBeReleased" in evidence


def test_vanished_pods_on_a_lost_node_are_disrupted():
    gone = stats([0] * 8 + [None] * 23, name="gone", node="node-7")
    keep = stats(full(lambda i: 0), name="other")
    analyse.mark_presence([gone, keep])
    infos, _ = nodes.node_infos([{"cluster": "c1", "name": "node-7", "ready": "true", "taints": None,
                                  "last_ms": END - 25 * MIN, "age": 9999}], [], START, END)
    cause, evidence = analyse.disruption(gone, [], None, infos[("c1", "node-7")])
    assert cause == "node_lost" and "node-7" in evidence


# -- workloads --------------------------------------------------------------------------------

@pytest.mark.parametrize("name, deployment, expected", [
    ("api-6d5f7b9c8d-x7k2p", "api", "6d5f7b9c8d"),
    ("shop-api-79c4b8f6d5-b9m4q", "shop-api", "79c4b8f6d5"),
    ("api-0", "api", None),
    ("other-6d5f7b9c8d-x7k2p", "api", None),
    ("api-6d5f7b9c8d-x7k2p", None, None),
])
def test_template_hash(name, deployment, expected):
    assert analyse.template_hash(name, deployment) == expected


def test_rollout_hashes_from_scaling_events():
    events = [{"reason": "ScalingReplicaSet", "kind": "Deployment", "name": "api", "namespace": "shop",
               "message": "Scaled up replica set api-79c4b8f6d5 to 1"},
              {"reason": "ScalingReplicaSet", "kind": "Deployment", "name": "api", "namespace": "shop",
               "message": "Scaled down replica set api-6d5f7b9c8d to 0"}]
    assert analyse.rollout_hashes(events) == {("shop", "api"): {"79c4b8f6d5"}}


def _workload(*members):
    kept, _ = analyse.validate(list(members))
    analyse.mark_presence(kept)
    for pod in kept:
        pod["category"] = None
    return kept


def test_rollout_replacement_and_deletion():
    old = stats([0] * 15 + [None] * 16, name="api-6d5f7b9c8d-aaaaa")
    new = stats([None] * 15 + [0] * 16, name="api-79c4b8f6d5-bbbbb")
    members = _workload(old, new, stats(full(lambda i: 0), name="api-79c4b8f6d5-ccccc"))
    analyse.classify_vanished(members)
    assert (old["category"], old["exclusion"]) == ("excluded", "rollout")
    assert new["category"] is None            # the new revision's pods count
    sts_old = stats([3] * 15 + [None] * 16, name="db-1", owner=("statefulset", "db"), uid="old")
    sts_new = stats([None] * 16 + [0] * 15, name="db-1", owner=("statefulset", "db"), uid="new")
    members = _workload(sts_old, sts_new, stats(full(lambda i: 0), name="db-0", owner=("statefulset", "db")))
    analyse.classify_vanished(members)
    assert sts_old["exclusion"] == "replaced" and sts_new["category"] is None
    alone = stats([0] * 10 + [None] * 21, name="api-6d5f7b9c8d-zzzzz")
    members = _workload(alone, stats(full(lambda i: 0), name="api-6d5f7b9c8d-yyyyy"))
    analyse.classify_vanished(members)
    assert alone["exclusion"] == "deleted"


def test_replacements_of_disrupted_pods_are_counted_once():
    evicted = stats(full(lambda i: 0), name="api-6d5f7b9c8d-evict")
    fresh = stats([None] * 16 + [0] * 15, name="api-6d5f7b9c8d-fresh")
    crashing_new = stats([None] * 16 + list(range(15)), name="api-6d5f7b9c8d-crash")
    members = _workload(evicted, fresh, crashing_new, stats(full(lambda i: 0), name="api-6d5f7b9c8d-steady"))
    evicted["category"] = "disrupted"
    analyse.classify_vanished(members)
    assert fresh["exclusion"] == "replacement"
    assert crashing_new["category"] is None     # a new pod that restarts is never hidden as a replacement


# -- figures, decisions, baseline -------------------------------------------------------------

def _figures(restarted=(), disrupted=0, healthy=0, excluded=()):
    pods = [{"category": "restarted", "delta": d} for d in restarted]
    pods += [{"category": "disrupted"} for _ in range(disrupted)]
    pods += [{"category": "healthy"} for _ in range(healthy)]
    pods += [{"category": "excluded", "exclusion": key} for key in excluded]
    return analyse.figures(pods)


def test_figures_population_and_ratio():
    figs = _figures(restarted=[3, 1], disrupted=1, healthy=5, excluded=["job", "exit0", "node_reboot", "replacement"])
    assert figs.population == 10                 # 3 abnormal + 5 healthy + exit0 + node_reboot
    assert figs.abnormal == 3 and figs.restarts == 5 and figs.ratio == pytest.approx(0.3)
    assert _figures(excluded=["job"]).ratio is None


DEFAULTS = dict(scopes.DEFAULTS)


@pytest.mark.parametrize("figs, baseline, verdict, status", [
    (_figures(restarted=[1], healthy=1), 0.0, "clean", None),               # one of two pods, once: quiet
    (_figures(restarted=[4], healthy=1), 0.0, "fire", "critical"),          # one pod crash-looping: 4 restarts
    (_figures(restarted=[1, 1], healthy=8), 0.0, "fire", "warning"),        # 20%
    (_figures(restarted=[1, 1, 1], healthy=7), 0.0, "fire", "error"),       # 30%
    (_figures(restarted=[1] * 5, healthy=5), 0.0, "fire", "critical"),      # 50%
    (_figures(restarted=[1, 1], healthy=28), 0.0, "between", None),         # 6.7%: below min_ratio, significant
    (_figures(restarted=[1], healthy=39), 0.0, "clean", None),              # 2.5%
    (_figures(restarted=[1] * 4, healthy=32), 0.0833, "between", None),     # 11.1% < 1.5 x 8.3%
    (_figures(restarted=[1] * 9, healthy=27), 0.0833, "fire", "error"),     # 25% >= 12.5%
    (_figures(healthy=10), 0.0, "clean", None),
    (_figures(excluded=["job"]), 0.0, "nodata", None),
])
def test_evaluate(figs, baseline, verdict, status):
    result = analyse.evaluate(figs, DEFAULTS, baseline)
    assert (result.verdict, result.status) == (verdict, status)


def test_evaluate_respects_configured_minimums():
    figs = _figures(restarted=[1], healthy=1)
    strict = dict(DEFAULTS, min_restarted_pods=1, min_restarts=1)
    assert analyse.evaluate(figs, strict, 0.0).verdict == "fire"
    lax = dict(DEFAULTS, min_ratio=0.6)
    assert analyse.evaluate(_figures(restarted=[5] * 5, healthy=5), lax, 0.0).verdict == "between"


@pytest.mark.parametrize("ratio, status", [(0.1, "warning"), (0.2499, "warning"), (0.25, "error"),
                                           (0.4999, "error"), (0.5, "critical"), (1.0, "critical")])
def test_severity_bands(ratio, status):
    assert analyse.severity(ratio) == status


def test_baseline_is_the_median_of_recent_windows():
    history = []
    for i, ratio in enumerate([0.1, 0.0, 0.3, 0.05]):
        history = alert_state.remember(history, END + i * 30 * MIN, ratio)
    assert alert_state.baseline(history, END + 3 * 30 * MIN) == (pytest.approx(0.075), 4)
    assert alert_state.baseline(history, END + 49 * 3600 * 1000) == (0.0, 0)     # older than a day: forgotten
    assert alert_state.baseline(None, END) == (0.0, 0)


def test_remember_keeps_the_last_windows_and_replaces_a_rerun():
    history = []
    for i in range(12):
        history = alert_state.remember(history, END + i * 30 * MIN, i / 100.0)
    assert len(history) == alert_state.HISTORY_RUNS and history[-1] == [END + 11 * 30 * MIN, 0.11]
    again = alert_state.remember(history, END + 11 * 30 * MIN, 0.5)
    assert len(again) == alert_state.HISTORY_RUNS and again[-1] == [END + 11 * 30 * MIN, 0.5]
    assert alert_state.remember([["junk"], [END, 7]], END, 0.2) == [[END, 0.2]]


# -- one namespace, all rules together --------------------------------------------------------

def _scope_of(configs=None):
    scope_list = scopes.from_entries(scopes.SCHEMA.parse(configs))
    return lambda cluster, namespace: scopes.match(scope_list, cluster, namespace)


def observed(pods, events=(), objects=(), nodes=(), gaps=None):
    """The facts of a run, as ``collect.gather`` would hand them over (``gaps``: query name -> texts)."""
    obs = facts.Observation(window=facts.Window(START, END), pods=list(pods), events=list(events),
                            nodes=list(nodes), objects={o["uid"]: o for o in objects})
    obs.failed = [o for o in objects if o.get("phase") == "Failed"]
    obs.sources = [facts.Source(name, list(texts)) for name, texts in (gaps or {}).items()]
    return obs


def test_assess_a_namespace():
    pods = [stats(full(lambda i: i // 5), name="api-6d5f7b9c8d-a%d" % k) for k in range(2)]       # crash loop
    pods += [stats(full(lambda i: 0), name="api-6d5f7b9c8d-h%d" % k) for k in range(5)]          # healthy
    pods += [stats(full(lambda i: i // 3), name="export-1-%d" % k, owner=("job", "export-1")) for k in range(3)]
    pods += [stats(full(lambda i: 0), name="api-6d5f7b9c8d-ev", node="node-2")]                  # evicted
    pods += [stats([None] * 20 + [0] * 11, name="api-6d5f7b9c8d-nw", node="node-3")]             # its replacement
    pods += [stats(full(lambda i: 1 if i > 25 else 0), name="cache-0", owner=("statefulset", "cache"),
                   node="node-5")]                                                                # node reboot
    pods += [stats(full(lambda i: 0), namespace="web", name="web-1")]
    pods += [stats(full(lambda i: -1), name="broken")]
    events = [dict(pod_event("Evicted", "The node was low on resource: memory."), uid="uid-api-6d5f7b9c8d-ev"),
              node_event("Rebooted", "node-5")]
    assessed, problems = analyse.assess(observed(pods, events), _scope_of([{"namespace": "shop"}]), {})
    assert list(assessed) == [alert_state.alert_key("c1", "shop")]          # web is not configured
    ns = assessed[alert_state.alert_key("c1", "shop")]
    by_name = {p["pod"]: p for p in ns.pods}
    assert [by_name["api-6d5f7b9c8d-a%d" % k]["category"] for k in range(2)] == ["restarted", "restarted"]
    assert by_name["api-6d5f7b9c8d-ev"]["category"] == "disrupted" and by_name["api-6d5f7b9c8d-ev"]["cause"] == \
        "eviction"
    assert by_name["api-6d5f7b9c8d-nw"]["exclusion"] == "replacement"
    assert by_name["export-1-0"]["exclusion"] == "job"
    assert by_name["cache-0"]["exclusion"] == "node_reboot"
    assert ns.figures == analyse.Figures(pods=13, population=9, abnormal=3, restarted=2, disrupted=1, excluded=5,
                                         restarts=13, ratio=pytest.approx(3 / 9.0))
    assert problems == [("c1", "shop", "pod broken: restarts counter -1 is not a restart count (expected 0 to "
                                       "1000000)")]
    assert ns.notes == [problems[0][2]]


def test_assess_honours_exclude_patterns_and_the_scope_filter():
    pods = [stats(full(lambda i: i), name="legacy-batch-7f-%d" % k, owner=("deployment", "legacy-batch"))
            for k in range(2)]
    pods += [stats(full(lambda i: 0), name="cart-%d" % k, owner=("deployment", "cart")) for k in range(3)]
    scope_of = _scope_of([{"namespace": "shop", "exclude_workloads": ["deployment/legacy-*"]}])
    assessed, _ = analyse.assess(observed(pods), scope_of, {})
    ns = list(assessed.values())[0]
    assert sorted(p.get("exclusion") or p["category"] for p in ns.pods) == \
        ["configured", "configured", "healthy", "healthy", "healthy"]
    assert ns.figures.ratio == 0.0
    assert analyse.assess(observed(pods), lambda c, n: None, {})[0] == {}


def pod_object(pod, reason, code):
    """The ``kubelet_pod`` object of a pod whose container last terminated with ``reason`` / ``code``."""
    yaml_pod = {"spec": {"containers": [{"name": "app"}]},
                "status": {"containerStatuses": [{"name": "app", "restartCount": 6, "lastState": {"terminated": {
                    "reason": reason, "exitCode": code, "finishedAt": "2026-11-20T07:50:00Z"}}}]}}
    return {"uid": pod["uid"], "pod": pod["pod"], "phase": "Running", "status": "Running",
            "message": json.dumps({"yaml": yaml.safe_dump(yaml_pod)})}


def test_causes_come_with_the_figures_and_exit_zero_restarts_are_not_abnormal():
    pods = [stats(full(lambda i: i // 5), name="poller-%d" % k) for k in range(2)] + \
        [stats(full(lambda i: 0), name="idle")]
    objects = [pod_object(pods[0], "Completed", 0), pod_object(pods[1], "OOMKilled", 137)]
    assessed, _ = analyse.assess(observed(pods, objects=objects), _scope_of(), {})
    ns = list(assessed.values())[0]
    assert (ns.figures.abnormal, ns.figures.population) == (1, 3)
    assert [p.get("exclusion") or p["cause"] for p in ns.pods[:2]] == ["exit0", "oom"]
    assert [p["object_status"] for p in ns.pods] == ["Running", "Running", None]


def test_the_baseline_is_read_from_the_history_and_a_partial_view_never_reads_clean():
    pods = [stats(full(lambda i: 0), name="steady-%d" % k) for k in range(4)]
    key = alert_state.alert_key("c1", "shop")
    history = {key: [[END - 30 * MIN, 0.2], [END - 60 * MIN, 0.1], [END - 90 * MIN, 0.3]]}
    assessed, _ = analyse.assess(observed(pods), _scope_of(), history)
    assert (assessed[key].baseline, assessed[key].baseline_windows) == (0.2, 3)
    assert analyse.judge(assessed[key]).verdict == "clean"
    partial, _ = analyse.assess(observed(pods, gaps={"events": ["the query failed"]}), _scope_of(), history)
    assert partial[key].partial and analyse.judge(partial[key]).verdict == "unknown"
    assert history == {key: [[END - 30 * MIN, 0.2], [END - 60 * MIN, 0.1], [END - 90 * MIN, 0.3]]}   # read only
