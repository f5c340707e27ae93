"""Writes the labelled scenario library of the pod-restart inspection: ``tests/scenarios/k8s/*.json``.

    .venv/bin/python tests/k8s_make_scenarios.py          # regenerate the JSON files (they are committed)
    .venv/bin/python tests/k8s_make_scenarios.py --demo   # the pod-restart part of the bundled demo

Each scenario's ``labels.expected`` lists the events the inspection must
report: ``{"run", "cluster_name_k8s", "namespace", "status", "cause"}``;
anything else it reports is a false positive. ``labels.why`` says what the
scenario is about.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import k8s_scenario_builder  # noqa: E402
from k8s_scenario_builder import MINUTE, Container, Pod, expected, ms, uid_for  # noqa: E402

OUT = os.path.join(HERE, "scenarios", "k8s")
RUNS2 = ["2026-11-20T08:00:00Z", "2026-11-20T08:30:00Z"]
RUNS4 = ["2026-11-20T08:00:00Z", "2026-11-20T08:30:00Z", "2026-11-20T09:00:00Z", "2026-11-20T09:30:00Z"]
T = ms
SUFFIXES = ["x7k2p", "b9m4q", "c3n8r", "d5t1s", "f2w6v", "g8h3z", "h4j9l", "k6p2m", "m1q7n", "n3r5b",
            "p8s2c", "q4t6d", "r9v1f", "s2w7g", "t5x3h", "v7y8j", "w1z4k", "x6a9l", "y3b2m", "z8c5n",
            "a1d6p", "b4f3q", "c7g8r", "d2h1s", "e5j4t", "f9k7v", "g3l2w", "h6m5x", "j8n9y", "k2p4z",
            "l5q7a", "m9r3b", "n2s6c", "p4t8d", "q7v1f", "r3w5g"]


def Builder(name, description, runs):
    """The library's scenarios report pod objects every 10 minutes (DataKit: 5) to keep the files small:
    the inspection reads only the latest object of each pod in the window."""
    return k8s_scenario_builder.Builder(name, description, runs, object_every=10)


def steps(start, end, every_minutes, base=0, step=1):
    """Restart counter steps: +step every ``every_minutes`` in [start, end]."""
    out = []
    at, count = start, base
    while at <= end:
        count += step
        out.append((at, count))
        at += every_minutes * MINUTE
    return out


def crash(start, end, every=5, base=0, reason="Error", code=1, waiting="CrashLoopBackOff", **kw):
    restarts = steps(start, end, every, base)
    if base:
        restarts.insert(0, (start - 60 * MINUTE, base))
    terminations = [(at - 10000, reason, code) for at, _ in restarts if at >= start]
    waits = [(at - 10000, at + 60000, waiting) for at, _ in restarts if at >= start] if waiting else []
    return Container("app", restarts=restarts, terminations=terminations, waiting=waits, **kw)


def pods(b, namespace, count, workload="api", cluster="c1", template="6d5f7b9c8d", nodes=3, kind="deployment",
         make=None, start=None, end=None, node_prefix="node-", first=0, interval=60):
    """``count`` pods of one workload; ``make(i)`` returns the containers of pod i (default: healthy)."""
    out = []
    for i in range(first, first + count):
        name = "%s-%s-%s" % (workload, template, SUFFIXES[i]) if kind == "deployment" else (
            "%s-%d" % (workload, i) if kind == "statefulset" else "%s-%s" % (workload, SUFFIXES[i]))
        containers = make(i) if make else None
        pod = Pod(namespace, name, cluster=cluster, node="%s%d" % (node_prefix, i % nodes + 1),
                  owner=(kind, workload), containers=containers, start=start, end=end, interval=interval)
        out.append(b.add_pod(pod))
    return out


def backoff_events(b, pod, start, end, every=10, container="app"):
    at = start
    while at <= end:
        b.event(at, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)"
                % (container, pod.name, pod.namespace, pod.uid), pod=pod)
        at += every * MINUTE


def nodes(b, count, cluster="c1", prefix="node-"):
    for i in range(1, count + 1):
        b.node("%s%d" % (prefix, i), cluster=cluster)


# -- the library ----------------------------------------------------------------------------------

def crash_loop():
    b = Builder("crash-loop", "4 of 10 api pods crash-loop (exit 1, CrashLoopBackOff, BackOff events)", RUNS2)
    nodes(b, 3)
    crashing = pods(b, "shop", 10, make=lambda i: [crash(T("2026-11-20T07:20:00Z"), T("2026-11-20T08:30:00Z"))]
                    if i < 4 else None)
    for pod in crashing[:4]:
        backoff_events(b, pod, T("2026-11-20T07:35:00Z"), T("2026-11-20T08:25:00Z"))
    pods(b, "web", 6, workload="frontend", template="7c8d9e0f1a")
    b.expect(expected(0, "shop", "error", "app_error"),
             why="a crash loop fires once (error: 40%); the next run, same severity, reports nothing")
    return b


def oom():
    b = Builder("oom", "3 of 6 payment pods are OOMKilled twice in the window; usage peaks at the 512Mi limit",
                ["2026-11-20T08:00:00Z"])
    nodes(b, 3)

    def make(i):
        if i >= 3:
            return [Container("app", usage=300 * 2 ** 20),
                    Container("istio-proxy", kind="sidecar", memory_limit="128Mi", memory_request="64Mi",
                              usage=60 * 2 ** 20)]
        restarts = [(T("2026-11-20T07:41:00Z"), 1), (T("2026-11-20T07:52:00Z"), 2)]
        app = Container("app", restarts=restarts, usage=lambda at: (400 + (at // MINUTE) % 10 * 10) * 2 ** 20,
                        terminations=[(at - 5000, "OOMKilled", 137) for at, _ in restarts])
        return [app, Container("istio-proxy", kind="sidecar", memory_limit="128Mi", memory_request="64Mi",
                               usage=60 * 2 ** 20)]

    pods(b, "pay", 6, workload="payment", template="58f9c7d6b4", make=make)
    b.expect(expected(0, "pay", "critical", "oom"), why="3/6 pods OOMKilled: 50% is critical, cause OOM")
    return b


def liveness():
    b = Builder("liveness-kill", "3 of 8 search pods killed by a failing liveness probe", ["2026-11-20T08:00:00Z"])
    nodes(b, 3)
    probe = {"httpGet": {"path": "/healthz", "port": 8080}, "initialDelaySeconds": 5, "periodSeconds": 10,
             "timeoutSeconds": 1, "failureThreshold": 3}

    def make(i):
        if i >= 3:
            return [Container("app", liveness=probe)]
        restarts = [(T("2026-11-20T07:38:00Z"), 1), (T("2026-11-20T07:47:00Z"), 2), (T("2026-11-20T07:56:00Z"), 3)]
        return [Container("app", liveness=probe, restarts=restarts,
                          terminations=[(at - 2000, "Error", 137) for at, _ in restarts])]

    made = pods(b, "search", 8, workload="searcher", template="7b6c5d4e3f", make=make)
    for pod in made[:3]:
        for at in (T("2026-11-20T07:37:30Z"), T("2026-11-20T07:46:30Z"), T("2026-11-20T07:55:30Z")):
            b.event(at, "Unhealthy", "Liveness probe failed: Get \"http://10.0.0.5:8080/healthz\": context "
                                     "deadline exceeded (Client.Timeout exceeded while awaiting headers)", pod=pod)
            b.event(at + 1000, "Killing", "Container app failed liveness probe, will be restarted", pod=pod,
                    type="Normal")
    b.expect(expected(0, "search", "error", "probe"), why="3/8 = 37.5%: error, killed by the liveness probe")
    return b


def liveness_no_status():
    b = Builder("liveness-kill-no-yaml-status", "DataKit after v1.84.0: no status in the pod YAML; the liveness "
                "kills are known from the events only", ["2026-11-20T08:00:00Z"])
    nodes(b, 3)
    probe = {"httpGet": {"path": "/ready", "port": 9090}, "periodSeconds": 5, "timeoutSeconds": 2,
             "failureThreshold": 2}

    def make(i):
        if i >= 2:
            return [Container("app", liveness=probe)]
        restarts = [(T("2026-11-20T07:44:00Z"), 4), (T("2026-11-20T07:54:00Z"), 5)]
        return [Container("app", liveness=probe, restarts=[(T("2026-11-20T06:00:00Z"), 3)] + restarts,
                          terminations=[(at - 2000, "Error", 137) for at, _ in restarts])]

    made = []
    for i in range(5):
        pod = Pod("catalog", "catalog-6f7e8d9c0b-%s" % SUFFIXES[i], node="node-%d" % (i % 3 + 1),
                  owner=("deployment", "catalog"), containers=make(i), yaml_status=False)
        made.append(b.add_pod(pod))
    for pod in made[:2]:
        for at in (T("2026-11-20T07:43:40Z"), T("2026-11-20T07:53:40Z")):
            b.event(at, "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 503", pod=pod)
            b.event(at + 500, "Killing", "Container app failed liveness probe, will be restarted", pod=pod,
                    type="Normal")
    b.expect(expected(0, "catalog", "error", "probe"), why="2/5 = 40%; without YAML status the events name the "
                                                           "liveness probe")
    return b


def eviction_storm():
    b = Builder("eviction-storm", "node-2 runs out of memory: 5 of 10 report pods evicted and rescheduled",
                ["2026-11-20T08:00:00Z"])
    nodes(b, 3)
    evicted_at = T("2026-11-20T07:45:00Z")
    for i in range(10):
        name = "report-5c6d7e8f9a-%s" % SUFFIXES[i]
        if i < 5:
            pod = Pod("report", name, node="node-2", owner=("deployment", "report"),
                      phase=[(evicted_at, "Failed")], status_reason="Evicted",
                      status_message="The node was low on resource: memory.")
            b.add_pod(pod)
            b.event(evicted_at, "Evicted", "The node was low on resource: memory. Threshold quantity: 100Mi, "
                    "available: 88Mi. Container app was using 1.3Gi, request is 256Mi, has larger consumption "
                    "of memory.", pod=pod)
            new = Pod("report", "report-5c6d7e8f9a-%s" % SUFFIXES[20 + i], node="node-3",
                      owner=("deployment", "report"), start=evicted_at + MINUTE)
            b.add_pod(new)
        else:
            b.add_pod(Pod("report", name, node="node-%d" % (i % 2 * 2 + 1), owner=("deployment", "report")))
    b.event(evicted_at - MINUTE, "EvictionThresholdMet", "Attempting to reclaim memory", kind="Node",
            name="node-2", namespace="", cluster="c1")
    b.expect(expected(0, "report", "critical", "eviction"), why="5/10 evicted = 50%: critical; the replacements "
                                                                "are not counted twice")
    return b


def spot_reclaim():
    b = Builder("spot-reclaim-bidfailed", "ECI spot pods released: SpotToBeReleased events, then phase Failed with "
                "reason BidFailed (no BidFailed event); the Deployment recreates them", ["2026-11-20T08:00:00Z"])
    b.node("virtual-kubelet-cn-hangzhou-k", cluster="ack-prod")
    notice = T("2026-11-20T07:40:00Z")
    for i in range(8):
        name = "worker-8a9b0c1d2e-%s" % SUFFIXES[i]
        if i < 4:
            pod = Pod("render", name, cluster="ack-prod", node="virtual-kubelet-cn-hangzhou-k",
                      owner=("deployment", "worker"), phase=[(notice + 3 * MINUTE, "Failed")],
                      status_reason="BidFailed",
                      status_message="The pod is spot instance, and have been released at 2026-11-20T07:43Z")
            b.add_pod(pod)
            b.event(notice, "SpotToBeReleased", "Spot ECI will be released in 3 minutes", pod=pod)
            b.add_pod(Pod("render", "worker-8a9b0c1d2e-%s" % SUFFIXES[20 + i], cluster="ack-prod",
                          node="virtual-kubelet-cn-hangzhou-k", owner=("deployment", "worker"),
                          start=notice + 4 * MINUTE))
        else:
            b.add_pod(Pod("render", name, cluster="ack-prod", node="virtual-kubelet-cn-hangzhou-k",
                          owner=("deployment", "worker")))
    b.expect(expected(0, "render", "critical", "spot", cluster="ack-prod"),
             why="4/8 spot pods reclaimed (BidFailed): critical, spot reclaim on its own (the virtual node is healthy)")
    return b


def rollout():
    b = Builder("rollout", "the api Deployment rolls out a new revision: 6 old pods replaced, no restarts", RUNS2)
    nodes(b, 3)
    switch = T("2026-11-20T07:45:00Z")
    for i in range(6):
        b.add_pod(Pod("shop", "api-6d5f7b9c8d-%s" % SUFFIXES[i], node="node-%d" % (i % 3 + 1),
                      owner=("deployment", "api"), end=switch + i * MINUTE))
        b.add_pod(Pod("shop", "api-79c4b8f6d5-%s" % SUFFIXES[10 + i], node="node-%d" % (i % 3 + 1),
                      owner=("deployment", "api"), start=switch + i * MINUTE - 30000))
        b.event(switch + i * MINUTE, "Killing", "Stopping container app", type="Normal",
                name="api-6d5f7b9c8d-%s" % SUFFIXES[i], namespace="shop",
                uid=uid_for("c1", "shop", "api-6d5f7b9c8d-%s" % SUFFIXES[i]), cluster="c1")
    b.event(switch, "ScalingReplicaSet", "Scaled up replica set api-79c4b8f6d5 to 1", kind="Deployment",
            name="api", namespace="shop", type="Normal", cluster="c1")
    b.event(switch + 6 * MINUTE, "ScalingReplicaSet", "Scaled down replica set api-6d5f7b9c8d to 0",
            kind="Deployment", name="api", namespace="shop", type="Normal", cluster="c1")
    b.expect(why="a rollout replaces pods: not abnormal, nothing fires")
    return b


def job_pods():
    b = Builder("job-pods", "CronJob pods retry (OnFailure) and complete; the namespace's service is healthy",
                ["2026-11-20T08:00:00Z"])
    nodes(b, 2)
    for i in range(6):
        restarts = [(T("2026-11-20T07:40:00Z") + i * MINUTE, 1), (T("2026-11-20T07:48:00Z") + i * MINUTE, 2)]
        pod = Pod("batch", "nightly-export-29012345-%s" % SUFFIXES[i], node="node-%d" % (i % 2 + 1),
                  owner=("job", "nightly-export-29012345"),
                  containers=[Container("export", restarts=restarts,
                                        terminations=[(at - 1000, "Error", 2) for at, _ in restarts])],
                  start=T("2026-11-20T07:35:00Z"), end=T("2026-11-20T07:58:00Z"),
                  phase=[(T("2026-11-20T07:57:00Z"), "Succeeded")])
        b.add_pod(pod)
    pods(b, "batch", 2, workload="scheduler", template="4a5b6c7d8e", nodes=2)
    b.expect(why="Job/CronJob pods are excluded: nothing fires")
    return b


def node_reboot():
    b = Builder("node-reboot", "node-5 reboots at 07:50: every pod on it restarts once, in two namespaces",
                ["2026-11-20T08:00:00Z"])
    for i in range(1, 7):
        b.node("node-%d" % i)
    reboot = T("2026-11-20T07:50:00Z")

    def make(i):
        if i % 3 == 0:
            return [Container("app", restarts=[(reboot + 90000, 1)], terminations=[(reboot, "Unknown", 255)])]
        return None

    for ns, workload, template in (("orders", "orders", "3e4f5a6b7c"), ("billing", "billing", "9d8c7b6a5f")):
        for i in range(6):
            node = "node-5" if i % 3 == 0 else "node-%d" % (i % 3 + 1)
            b.add_pod(Pod(ns, "%s-%s-%s" % (workload, template, SUFFIXES[i]), node=node,
                          owner=("deployment", workload), containers=make(i)))
        b.add_pod(Pod(ns, "%s-cache-0" % workload, node="node-5", owner=("statefulset", workload + "-cache"),
                      containers=[Container("redis", restarts=[(reboot + 80000, 1)],
                                            terminations=[(reboot, "Unknown", 255)])]))
    b.event(reboot + 30000, "NodeNotReady", "Node node-5 status is now: NodeNotReady", kind="Node",
            name="node-5", namespace="", cluster="c1")
    b.event(reboot + 60000, "Rebooted", "Node node-5 has been rebooted, boot id: 5c2a0e5e-1f0b-4f7e-9f4c",
            kind="Node", name="node-5", namespace="", cluster="c1")
    b.event(reboot + 70000, "NodeReady", "Node node-5 status is now: NodeReady", kind="Node", name="node-5",
            namespace="", cluster="c1", type="Normal")
    b.expect(why="3 of 7 pods per namespace restarted once by the node reboot: attributed to the node")
    return b


def small_namespace():
    b = Builder("small-namespace", "one of two pods restarts once (nothing fires); a namespace configured with "
                "min_restarted_pods 1 and min_restarts 1 fires on the same pattern", ["2026-11-20T08:00:00Z"])
    nodes(b, 2)
    once = lambda i: [Container("app", restarts=[(T("2026-11-20T07:45:00Z"), 1)],  # noqa: E731
                                terminations=[(T("2026-11-20T07:44:50Z"), "Error", 1)])] if i == 0 else None
    pods(b, "tiny", 2, workload="tool", template="1a2b3c4d5e", nodes=2, make=once)
    pods(b, "tiny-strict", 2, workload="tool", template="1a2b3c4d5e", nodes=2, make=once)
    b.configs([{"cluster_name": "c1", "namespace": "tiny-strict", "min_restarted_pods": 1, "min_restarts": 1},
               {"cluster_name": "c1"}])
    b.expect(expected(0, "tiny-strict", "critical", "app_error"),
             why="1 restart of 1 pod of 2 does not fire by default; configured to, it does (50%: critical)")
    return b


def flapping():
    b = Builder("flapping", "crashes come and go every other window: one event, no recovery, no re-report", RUNS4)
    nodes(b, 3)

    def make(i):
        if i >= 4:
            return None
        restarts = []
        count = 0
        for window_start in ("2026-11-20T07:35:00Z", "2026-11-20T08:35:00Z"):
            for k in range(3):
                count += 1
                restarts.append((T(window_start) + k * 7 * MINUTE, count))
        return [Container("app", restarts=restarts, terminations=[(at - 5000, "Error", 1) for at, _ in restarts])]

    pods(b, "flap", 10, workload="gateway", template="2b3c4d5e6f", make=make)
    b.expect(expected(0, "flap", "error", "app_error"),
             why="40% every other window: fires at run 0; clean runs never reach 2 in a row, no ok; no re-report")
    return b


def data_gap():
    b = Builder("data-gap", "a crash loop, then DataKit stops sending for a window, then healthy data", RUNS4)
    nodes(b, 3)
    gap = (T("2026-11-20T08:00:30Z"), T("2026-11-20T08:31:00Z"))

    def make(i):
        if i >= 5:
            return [Container("app")]
        return [crash(T("2026-11-20T07:33:00Z"), T("2026-11-20T07:58:00Z"))]

    for i in range(10):
        pod = Pod("gap", "ledger-3c4d5e6f7a-%s" % SUFFIXES[i], node="node-%d" % (i % 3 + 1),
                  owner=("deployment", "ledger"), containers=make(i))
        b.add_pod(pod, gaps=[gap])
    b.expect(expected(0, "gap", "critical", "app_error"), expected(3, "gap", "ok"),
             why="no data at run 1: no recovery; clean at runs 2 and 3: ok at run 3")
    return b


def counter_reset():
    b = Builder("counter-reset", "a StatefulSet pod recreated with the same name (new uid, counter back to 0) and "
                "a kubelet counter reset without restarts", RUNS2)
    nodes(b, 3)
    recreate = T("2026-11-20T07:45:00Z")
    reset = T("2026-11-20T07:50:00Z")
    old = [(T("2026-11-20T05:00:00Z"), 7)]
    b.add_pod(Pod("db", "pg-0", node="node-1", owner=("statefulset", "pg"), containers=[Container("pg", restarts=old)]))
    b.add_pod(Pod("db", "pg-1", node="node-2", owner=("statefulset", "pg"), uid=uid_for("c1", "db", "pg-1", "old"),
                  containers=[Container("pg", restarts=old)], end=recreate))
    b.add_pod(Pod("db", "pg-1", node="node-3", owner=("statefulset", "pg"), uid=uid_for("c1", "db", "pg-1", "new"),
                  containers=[Container("pg")], start=recreate + MINUTE))
    b.add_pod(Pod("db", "pg-2", node="node-3", owner=("statefulset", "pg"),
                  containers=[Container("pg", restarts=old + [(reset, 0)])]))
    b.add_pod(Pod("db", "pg-3", node="node-1", owner=("statefulset", "pg"), containers=[Container("pg", restarts=old)]))
    b.expect(why="counters that go down are new containers or new pods, not restarts: nothing fires")
    return b


def two_clusters():
    b = Builder("two-clusters-same-namespace", "namespace shop in c1 crash-loops; shop in c2 is healthy",
                ["2026-11-20T08:00:00Z"])
    nodes(b, 3, cluster="c1")
    nodes(b, 3, cluster="c2")
    pods(b, "shop", 6, cluster="c1", make=lambda i: [crash(T("2026-11-20T07:30:00Z"), T("2026-11-20T08:00:00Z"))]
         if i < 3 else None)
    pods(b, "shop", 6, cluster="c2")
    b.configs([{"cluster_name": "c1", "namespace": "shop"}, {"cluster_name": "c2", "namespace": "shop"}])
    b.expect(expected(0, "shop", "critical", "app_error", cluster="c1"), why="one event, for c1 only")
    return b


def image_config():
    b = Builder("start-error", "a new image lacks its entrypoint: containers fail to start (StartError, exit 128)",
                ["2026-11-20T08:00:00Z"])
    nodes(b, 2)
    pods(b, "cfg", 8, workload="importer", template="0f1e2d3c4b", nodes=2,
         make=lambda i: [crash(T("2026-11-20T07:36:00Z"), T("2026-11-20T07:58:00Z"), every=6, reason="StartError",
                               code=128, waiting="RunContainerError")] if i < 4 else None)
    b.expect(expected(0, "cfg", "critical", "image_config"), why="4/8 fail to start: image or configuration error")
    return b


def node_lost():
    b = Builder("node-lost", "node-7 stops reporting (NotReady, unreachable): its pods are evicted by the taint "
                "manager and rescheduled", ["2026-11-20T08:00:00Z"])
    b.node("node-7", ready="true", end=T("2026-11-20T07:45:00Z"), ready_from=[(T("2026-11-20T07:40:00Z"), "unknown")],
           taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}])
    b.node("node-8")
    lost = T("2026-11-20T07:38:00Z")
    for i in range(8):
        name = "edge-4d5e6f7a8b-%s" % SUFFIXES[i]
        if i < 4:
            pod = Pod("edge", name, node="node-7", owner=("deployment", "edge"), end=lost)
            b.add_pod(pod)
            b.event(lost + 6 * MINUTE, "TaintManagerEviction", "Marking for deletion Pod edge/%s" % name, pod=pod,
                    type="Normal")
            b.add_pod(Pod("edge", "edge-4d5e6f7a8b-%s" % SUFFIXES[20 + i], node="node-8",
                          owner=("deployment", "edge"), start=lost + 7 * MINUTE))
        else:
            b.add_pod(Pod("edge", name, node="node-8", owner=("deployment", "edge")))
    b.expect(expected(0, "edge", "critical", "node_lost"), why="4/8 lost with their node: critical, node lost")
    return b


def exit_zero():
    b = Builder("exit-zero", "worker containers exit 0 after each batch and are restarted (restartPolicy Always)",
                ["2026-11-20T08:00:00Z"])
    nodes(b, 2)
    pods(b, "worker", 10, workload="poller", template="5e6f7a8b9c", nodes=2,
         make=lambda i: [crash(T("2026-11-20T07:31:00Z"), T("2026-11-20T07:59:00Z"), every=7, reason="Completed",
                               code=0, waiting=None)] if i < 5 else None)
    b.expect(why="restarts with exit code 0 are expected: nothing fires")
    return b


def baseline_rise():
    b = Builder("baseline", "a namespace where 3 of 36 pods restart in every window builds a baseline of 8%; 11% "
                "stays under 1.5 x the baseline; 25% fires",
                ["2026-11-20T08:00:00Z", "2026-11-20T08:30:00Z", "2026-11-20T09:00:00Z", "2026-11-20T09:30:00Z",
                 "2026-11-20T10:00:00Z"])
    nodes(b, 3)
    plan = {"2026-11-20T07:40:00Z": 3, "2026-11-20T08:10:00Z": 3, "2026-11-20T08:40:00Z": 3,
            "2026-11-20T09:10:00Z": 4, "2026-11-20T09:40:00Z": 9}

    def make(i):
        restarts = []
        count = 0
        for when, affected in sorted(plan.items()):
            if i < affected:
                count += 1
                restarts.append((T(when) + i * MINUTE, count))
        if not restarts:
            return None
        return [Container("app", restarts=restarts, terminations=[(at - 3000, "Error", 1) for at, _ in restarts])]

    # metric_collect_interval set to 2 minutes in this cluster (DataKit's default is 1 minute)
    pods(b, "steady", 36, workload="reco", template="6a7b8c9d0e", make=make, interval=120)
    b.expect(expected(4, "steady", "error", "app_error"),
             why="8.3% builds the baseline; 11.1% < 12.5% (1.5 x baseline) does not fire; 25% does (error)")
    return b


def excluded_workloads():
    b = Builder("excluded-workloads", "a legacy batch Deployment crash-loops but is excluded by configs",
                ["2026-11-20T08:00:00Z"])
    nodes(b, 2)
    pods(b, "shop", 4, workload="legacy-batch", template="9f8e7d6c5b", nodes=2,
         make=lambda i: [crash(T("2026-11-20T07:31:00Z"), T("2026-11-20T07:59:00Z"))] if i < 3 else None)
    pods(b, "shop", 5, workload="cart", template="3c2b1a0f9e", nodes=2, first=10)
    b.configs([{"cluster_name": "c1", "namespace": "shop", "exclude_workloads": ["legacy-*"]}])
    b.expect(why="the crash-looping workload is excluded by configs: nothing fires")
    return b


def bad_data():
    b = Builder("bad-data", "points without uid or namespace, absurd counters (-5, 1e12) next to a real crash loop",
                ["2026-11-20T08:00:00Z"])
    nodes(b, 2)
    pods(b, "orders", 4, workload="orders", template="1f2e3d4c5b", nodes=2,
         make=lambda i: [crash(T("2026-11-20T07:31:00Z"), T("2026-11-20T07:59:00Z"))] if i < 2 else None)
    start = T("2026-11-20T07:30:00Z")
    for minute in range(31):
        at = start + minute * MINUTE
        b.metric.append({"measurement": "kube_pod", "tags": {"cluster_name_k8s": "c1", "namespace": "junk",
                                                             "pod_name": "no-uid", "node_name": "node-1"},
                         "fields": {"restarts": minute, "ready": 1}, "time": at})
        b.metric.append({"measurement": "kube_pod", "tags": {"cluster_name_k8s": "c1", "uid": "u-no-namespace",
                                                             "pod_name": "no-ns"},
                         "fields": {"restarts": minute, "ready": 1}, "time": at})
        for name, value in (("negative", -5), ("huge", 1e12)):
            b.metric.append({"measurement": "kube_pod",
                             "tags": {"cluster_name_k8s": "c1", "namespace": "junk", "uid": "u-" + name,
                                      "pod_name": name, "node_name": "node-1"},
                             "fields": {"restarts": value + minute, "ready": 1}, "time": at})
    pods(b, "junk", 3, workload="fine", template="0a9b8c7d6e", nodes=2)
    b.expect(expected(0, "orders", "critical", "app_error"),
             why="bad series are skipped with a message; the real crash loop still fires; junk stays quiet")
    return b


def escalate_recover():
    b = Builder("escalate-recover", "20% crash (warning), then 60% (critical: escalated), then fixed: ok after two "
                "clean runs", RUNS4)
    nodes(b, 3)

    def make(i):
        restarts = []
        if i < 2:
            restarts += [(T("2026-11-20T07:40:00Z"), 1), (T("2026-11-20T07:50:00Z"), 2)]
        if i < 6:
            base = len(restarts)
            restarts += [(T("2026-11-20T08:10:00Z"), base + 1), (T("2026-11-20T08:20:00Z"), base + 2)]
        if not restarts:
            return None
        return [Container("app", restarts=restarts, terminations=[(at - 4000, "Error", 3) for at, _ in restarts])]

    pods(b, "checkout", 10, workload="checkout", template="8b7a6f5e4d", make=make)
    b.expect(expected(0, "checkout", "warning", "app_error"), expected(1, "checkout", "critical", "app_error"),
             expected(3, "checkout", "ok"),
             why="warning at 20%, escalated to critical at 60%, ok after two clean runs (K=2)")
    return b


# -- the hard cases (issue 10) ----------------------------------------------------------------------

def _chronic(name, description, runs, rise_from, why, expect):
    """4 of 10 ledger pods OOMKilled every 15 minutes for hours; from ``rise_from`` on, 8 of 10."""
    b = Builder(name, description, runs)
    b.span = (T("2026-11-20T03:25:00Z"), T(runs[-1]))
    nodes(b, 3)

    def make(i):
        if i >= 8:
            return None
        begin = T("2026-11-20T03:27:00Z") if i < 4 else rise_from
        restarts, at, count = [], begin + i * MINUTE, 0
        while at <= T(runs[-1]):
            count += 1
            restarts.append((at, count))
            at += 15 * MINUTE
        return [Container("app", memory_limit="1Gi", memory_request="512Mi", restarts=restarts,
                          terminations=[(t - 4000, "OOMKilled", 137) for t, _ in restarts])]

    pods(b, "ledger", 10, workload="ledger", template="4f5e6d7c8b", make=make)
    b.expect(*expect, why=why)
    return b


def chronic_namespace():
    runs = ["2026-11-20T08:00:00Z", "2026-11-20T08:30:00Z", "2026-11-20T09:00:00Z"]
    return _chronic("chronic-namespace", "4 of 10 pods OOMKilled every 15 minutes for hours (40% in every window); "
                    "the inspection starts with an empty state; from 08:30 on 8 of 10", runs, T("2026-11-20T08:32:00Z"),
                    "the first run with empty state takes its baseline (40%) from Guance's history: quiet; 40% stays "
                    "quiet; 80% rises above it: critical, OOM", [expected(2, "ledger", "critical", "oom")])


def chronic_rises():
    runs = ["2026-11-20T08:00:00Z"]
    return _chronic("chronic-rises-first-run", "4 of 10 pods OOMKilled every 15 minutes for hours; in the window of "
                    "the first run (empty state) 8 of 10", runs, T("2026-11-20T07:31:00Z"),
                    "baseline 40% from Guance's history; 80% >= 1.5 x 40%: fires on the first run (critical, OOM)",
                    [expected(0, "ledger", "critical", "oom")])


def oom_no_status():
    b = Builder("oom-no-status", "DataKit after v1.84.0 (no pod status): 3 of 8 ingest workers crash on OOM; "
                "kube_pod memory at 99.5% of the limit before each restart; node-problem-detector OOMKilling on the "
                "Node; BackOff events", ["2026-11-20T08:00:00Z"])
    nodes(b, 3)
    limit = 512 * 2 ** 20
    crash_times = [T("2026-11-20T07:34:00Z"), T("2026-11-20T07:44:00Z"), T("2026-11-20T07:54:00Z")]

    def usage_of(offset):
        def usage(at):
            since = max([t for t in [T("2026-11-20T07:24:00Z")] + crash_times if t + offset <= at] or [0])
            minutes = (at - since - offset) / float(MINUTE)
            return int(min(0.995, 0.55 + 0.05 * minutes) * limit)
        return usage

    made = []
    for i in range(8):
        offset = i * MINUTE
        if i < 3:
            restarts = [(T("2026-11-20T06:00:00Z"), 5)] + [(t + offset + 30000, 6 + k) for k, t in
                                                          enumerate(crash_times)]
            app = Container("worker", command=["python3", "-m", "ingest.worker"], memory_limit="512Mi",
                            restarts=restarts, usage=usage_of(offset),
                            waiting=[(t + offset, t + offset + 30000, "CrashLoopBackOff") for t in crash_times])
        else:
            app = Container("worker", command=["python3", "-m", "ingest.worker"], memory_limit="512Mi",
                            usage=200 * 2 ** 20)
        pod = Pod("ingest", "worker-7c8d9e0f1a-%s" % SUFFIXES[i], node="node-%d" % (i % 3 + 1),
                  owner=("deployment", "worker"), containers=[app], yaml_status=False, mem_metrics=True)
        made.append(b.add_pod(pod))
        if i < 3:
            for k, t in enumerate(crash_times):
                b.node_event(t + offset + 1000, "OOMKilling", "Memory cgroup out of memory: Killed process %d "
                             "(python3) total-vm:1262412kB, anon-rss:523112kB, file-rss:0kB, shmem-rss:0kB, UID:1000 "
                             "pgtables:1204kB oom_score_adj:999" % (4242 + 10 * i + k), pod.node,
                             component="kernel-monitor")
                b.event(t + offset + 20000, "BackOff", "Back-off restarting failed container worker in pod %s_%s(%s)"
                        % (pod.name, pod.namespace, pod.uid), pod=pod)
    # another namespace's pod on node-1 fails at other times (exit code unknown): no OOM is blamed on it
    other = Pod("tools", "cron-helper-5a6b7c8d9e-%s" % SUFFIXES[9], node="node-1", owner=("deployment", "cron-helper"),
                containers=[Container("helper", command=["/bin/helper"], restarts=[(T("2026-11-20T07:39:00Z"), 1),
                                                                                   (T("2026-11-20T07:49:00Z"), 2)])],
                yaml_status=False)
    b.add_pod(other)
    pods(b, "tools", 4, workload="toolbox", template="2c3d4e5f6a", first=10)
    b.expect(expected(0, "ingest", "error", "oom"),
             why="no pod status: memory at the limit before each restart and node-problem-detector's OOMKilling "
                 "(python3) at the same second on the pod's node make it an OOM, not an application error")
    return b


def node_pressure():
    b = Builder("node-pressure-not-reboot", "node-3 flaps NotReady under MemoryPressure with SystemOOM kills; its 4 "
                "orders pods restart (twice once, twice three times); the node never reboots",
                ["2026-11-20T08:00:00Z"])
    for i in range(1, 5):
        b.node("node-%d" % i, internal_ip="10.0.0.%d" % i)
    events = [("07:38:00", "NodeHasInsufficientMemory", "Node node-3 status is now: NodeHasInsufficientMemory"),
              ("07:40:10", "SystemOOM", "System OOM encountered, victim process: java, pid: 23451"),
              ("07:41:00", "NodeNotReady", "Node node-3 status is now: NodeNotReady"),
              ("07:43:00", "NodeReady", "Node node-3 status is now: NodeReady"),
              ("07:47:30", "SystemOOM", "System OOM encountered, victim process: java, pid: 24012"),
              ("07:48:00", "NodeNotReady", "Node node-3 status is now: NodeNotReady"),
              ("07:50:00", "NodeReady", "Node node-3 status is now: NodeReady"),
              ("07:55:00", "NodeHasSufficientMemory", "Node node-3 status is now: NodeHasSufficientMemory")]
    for when, reason, message in events:
        b.node_event(T("2026-11-20T%sZ" % when), reason, message, "node-3",
                     type="Normal" if reason in ("NodeReady", "NodeHasSufficientMemory") else "Warning",
                     component="node-controller" if reason.startswith("NodeNot") or reason == "NodeReady" else "kubelet")
    once = [T("2026-11-20T07:41:00Z")]
    thrice = [T("2026-11-20T07:41:00Z"), T("2026-11-20T07:48:00Z"), T("2026-11-20T07:52:00Z")]
    for workload, template, first in (("orders", "3e4f5a6b7c", 0), ("billing-api", "9d8c7b6a5f", 8)):
        for i in range(first, first + 8):
            node = "node-%d" % (i % 4 + 1)
            times = (once if i in (2, 10) else thrice) if node == "node-3" else []
            reason = "OOMKilled" if i < 8 else "Error"
            app = Container("app", image="registry.example.com/%s:2.3.1" % workload, memory_limit="1Gi",
                            memory_request="512Mi", usage=300 * 2 ** 20,
                            restarts=[(t + 20000, n + 1) for n, t in enumerate(times)],
                            terminations=[(t + 10000, reason, 137) for t in times])
            b.add_pod(Pod("orders", "%s-%s-%s" % (workload, template, SUFFIXES[i]), node=node,
                          owner=("deployment", workload), containers=[app], mem_metrics=True))
    b.expect(expected(0, "orders", "error", "node_condition"),
             why="4 of 16 pods hit (25%): the node's MemoryPressure, NotReady and SystemOOM, not a reboot (no new boot "
                 "ID), so none is excluded; cause node condition")
    return b


def rollout_crash():
    b = Builder("rollout-crash-exit2", "a new ReplicaSet of api, created at 07:20, crash-loops with exit code 2 "
                "(image 1.5.0, a bad flag); the 5 pods of the previous revision (1.4.2) are healthy",
                ["2026-11-20T08:00:00Z"])
    nodes(b, 3)
    rolled = T("2026-11-20T07:20:00Z")
    for i in range(5):
        b.add_pod(Pod("shop", "api-6d5f7b9c8d-%s" % SUFFIXES[i], node="node-%d" % (i % 3 + 1),
                      owner=("deployment", "api"), created=T("2026-11-18T09:00:00Z"),
                      labels={"app": "api", "app.kubernetes.io/version": "1.4.2"},
                      containers=[Container("api", image="registry.example.com/shop/api:1.4.2",
                                            command=["/app/server", "--config=/etc/api/config.yaml"])]))
    for i in range(3):
        start = rolled + i * MINUTE
        made = crash(start + MINUTE, T("2026-11-20T08:00:00Z"), every=5, code=2)
        app = Container("api", image="registry.example.com/shop/api:1.5.0",
                        command=["/app/server", "--config=/etc/api/config.yaml", "--listen-metrics"],
                        restarts=made.restarts, terminations=made.terminations, waiting=made.waiting)
        pod = b.add_pod(Pod("shop", "api-79c4b8f6d5-%s" % SUFFIXES[10 + i], node="node-%d" % (i % 3 + 1),
                            owner=("deployment", "api"), start=start, created=start,
                            labels={"app": "api", "app.kubernetes.io/version": "1.5.0"}, containers=[app]))
        backoff_events(b, pod, T("2026-11-20T07:35:00Z"), T("2026-11-20T07:58:00Z"), container="api")
    b.event(rolled, "ScalingReplicaSet", "Scaled up replica set api-79c4b8f6d5 to 3", kind="Deployment",
            name="api", namespace="shop", type="Normal", cluster="c1")
    b.expect(expected(0, "shop", "error", "app_error"),
             why="3 of 8 (37.5%): an application error, the rollout named (ReplicaSet api-79c4b8f6d5 created 07:20, "
                 "image 1.4.2 -> 1.5.0, previous revision healthy) with kubectl rollout undo; exit 2 read as the "
                 "application's own code")
    return b


def ecs_spot_node():
    b = Builder("ecs-spot-node-reclaimed", "an ACK node on an ECS spot instance is reclaimed: Guance's ECS "
                "integration sees the Recycling lock at 07:36, the node goes NotReady and vanishes; its 4 feed pods are "
                "evicted by the taint manager and recreated", ["2026-11-20T08:00:00Z"])
    spot_node, other = "cn-hangzhou.10.0.2.11", "cn-hangzhou.10.0.2.12"
    b.node(spot_node, cluster="ack-prod", end=T("2026-11-20T07:45:00Z"), internal_ip="10.0.2.11",
           ready_from=[(T("2026-11-20T07:40:00Z"), "unknown")],
           taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}])
    b.node(other, cluster="ack-prod", internal_ip="10.0.2.12")
    b.ecs_instance("i-bp1spotnode01", "10.0.2.11", [T("2026-11-20T07:%02d:00Z" % m) for m in range(26, 40, 5)],
                   locks_from=T("2026-11-20T07:36:00Z"))
    b.ecs_instance("i-bp1paygnode02", "10.0.2.12", [T("2026-11-20T07:%02d:00Z" % m) for m in range(26, 60, 5)],
                   spot="NoSpot")
    lost = T("2026-11-20T07:41:00Z")
    b.node_event(lost, "NodeNotReady", "Node %s status is now: NodeNotReady" % spot_node, spot_node,
                 cluster="ack-prod", component="node-controller")
    for i in range(8):
        name = "feed-4d5e6f7a8b-%s" % SUFFIXES[i]
        if i < 4:
            pod = Pod("feed", name, cluster="ack-prod", node=spot_node, owner=("deployment", "feed"), end=lost)
            b.add_pod(pod)
            b.event(lost + 5 * MINUTE, "TaintManagerEviction", "Marking for deletion Pod feed/%s" % name, pod=pod,
                    type="Normal")
            b.add_pod(Pod("feed", "feed-4d5e6f7a8b-%s" % SUFFIXES[20 + i], cluster="ack-prod", node=other,
                          owner=("deployment", "feed"), start=lost + 6 * MINUTE))
        else:
            b.add_pod(Pod("feed", name, cluster="ack-prod", node=other, owner=("deployment", "feed")))
    b.expect(expected(0, "feed", "critical", "spot", cluster="ack-prod"),
             why="4/8 pods lost with a node that is an ECS spot instance being reclaimed (Recycling lock seen at 07:36): "
                 "critical, spot reclaim with the notice time, not a plain node loss")
    return b


SCENARIOS = [crash_loop, oom, liveness, liveness_no_status, eviction_storm, spot_reclaim, rollout, job_pods,
             node_reboot, small_namespace, flapping, data_gap, counter_reset, two_clusters, image_config, node_lost,
             exit_zero, baseline_rise, excluded_workloads, bad_data, escalate_recover, chronic_namespace, chronic_rises,
             oom_no_status, node_pressure, rollout_crash, ecs_spot_node]


def main():
    os.makedirs(OUT, exist_ok=True)
    for make in SCENARIOS:
        builder = make()
        path = os.path.join(OUT, builder.name + ".json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(builder.to_dict(), handle, ensure_ascii=False, separators=(",", ":"))
            handle.write("\n")
        print(path)


if __name__ == "__main__" and "--demo" not in sys.argv:
    main()


# -- the bundled demo's part ----------------------------------------------------------------------

DEMO = os.path.join(os.path.dirname(HERE), "guance_monitor_local", "data", "demo.json")
DEMO_RUNS = ["2026-11-20T08:00:00Z", "2026-11-20T08:30:00Z"]


def demo_fragment():
    """Cluster prod-ack: shop crash-loops (the 3 pods of cart's new revision, rolled out at 07:20, of 8), pay is
    OOMKilled (2 of 4), web is healthy."""
    b = k8s_scenario_builder.Builder("demo: Kubernetes pod restarts", "prod-ack: the new revision of the cart "
                                     "Deployment in shop crash-loops, payment in pay is OOMKilled, web is healthy",
                                     DEMO_RUNS)
    for i in range(1, 4):
        b.node("cn-hangzhou.10.0.1.%d" % i, cluster="prod-ack")
    until = T("2026-11-20T08:30:00Z")
    rolled = T("2026-11-20T07:20:00Z")
    for i in range(5):          # the previous revision of cart: healthy
        b.add_pod(Pod("shop", "cart-7d9f8c6b5a-%s" % SUFFIXES[3 + i], cluster="prod-ack",
                      node="cn-hangzhou.10.0.1.%d" % ((3 + i) % 3 + 1), owner=("deployment", "cart"),
                      labels={"app": "cart", "app.kubernetes.io/version": "3.1.0"},
                      containers=[Container("app", image="registry.example.com/shop/cart:3.1.0")]))
    for i in range(3):          # the new revision, rolled out at 07:20: crash-loops
        made = crash(T("2026-11-20T07:22:00Z") + i * MINUTE, until, every=5)
        pod = b.add_pod(Pod("shop", "cart-5c6d7e8f9a-%s" % SUFFIXES[i], cluster="prod-ack",
                            node="cn-hangzhou.10.0.1.%d" % (i % 3 + 1), owner=("deployment", "cart"),
                            start=rolled + i * MINUTE, created=rolled + i * MINUTE,
                            labels={"app": "cart", "app.kubernetes.io/version": "3.2.0"},
                            containers=[Container("app", image="registry.example.com/shop/cart:3.2.0",
                                                  restarts=made.restarts, terminations=made.terminations,
                                                  waiting=made.waiting)]))
        backoff_events(b, pod, T("2026-11-20T07:36:00Z"), until)
    b.event(rolled, "ScalingReplicaSet", "Scaled up replica set cart-5c6d7e8f9a to 3", kind="Deployment",
            name="cart", namespace="shop", type="Normal", cluster="prod-ack")

    def oom(i):
        if i >= 2:
            return [Container("app", memory_limit="1Gi", memory_request="512Mi", usage=610 * 2 ** 20)]
        restarts = [(T("2026-11-20T07:43:00Z") + i * MINUTE, 1), (T("2026-11-20T07:56:00Z") + i * MINUTE, 2),
                    (T("2026-11-20T08:12:00Z") + i * MINUTE, 3), (T("2026-11-20T08:24:00Z") + i * MINUTE, 4)]
        return [Container("app", memory_limit="1Gi", memory_request="512Mi", restarts=restarts,
                          usage=lambda at: (900 + (at // MINUTE) % 12 * 10) * 2 ** 20,
                          terminations=[(at - 3000, "OOMKilled", 137) for at, _ in restarts])]

    pods(b, "pay", 4, workload="payment", cluster="prod-ack", template="58f9c7d6b4",
         node_prefix="cn-hangzhou.10.0.1.", make=oom)
    pods(b, "web", 6, workload="frontend", cluster="prod-ack", template="6b7c8d9e0f",
         node_prefix="cn-hangzhou.10.0.1.")
    b.configs([{"cluster_name": "prod-ack", "namespace": ["shop", "pay", "web"]}])
    return b.to_dict()


def merge_demo(demo, fragment):
    """The bundled demo with the pod-restart part replaced by ``fragment`` (the other parts kept as they are)."""
    merged = json.loads(json.dumps(demo))
    merged["runs"] = sorted(set(merged.get("runs") or []) | set(fragment["runs"]))
    guance = merged.setdefault("guance", {})
    guance["studio"] = [s for s in guance.get("studio", []) if s.get("check") != "k8s-pod-restart"] + \
        list(fragment["guance"]["studio"])
    points = guance.setdefault("points", {})
    for key in ("metric", "object", "logging"):
        points[key] = fragment["guance"]["points"][key]
    return merged


def write_demo():
    """Put the pod-restart part this generator makes into the bundled demo."""
    with open(DEMO, encoding="utf-8") as handle:
        demo = json.load(handle)
    with open(DEMO, "w", encoding="utf-8") as handle:
        json.dump(merge_demo(demo, demo_fragment()), handle, ensure_ascii=False, indent=1)
        handle.write("\n")
    return DEMO


if __name__ == "__main__" and "--demo" in sys.argv:
    print(write_demo())
