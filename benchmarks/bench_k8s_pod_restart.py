"""Benchmark of the Kubernetes pod-restart inspection at fleet scale (not a timed test).

    python benchmarks/bench_k8s_pod_restart.py [--pods 100000] [--clusters 50] [--namespaces 40]
                                               [--runs 2] [--latency-ms 0] [--healthy] [--json]

Generates ``--pods`` pods spread over ``--clusters`` clusters x ``--namespaces`` namespaces (5
Deployments per namespace, 20 nodes per cluster) with a 30-minute window at 60 s resolution: 30
``kube_pod`` points per pod (3 million for 100,000 pods), added with ``Scenario.add_frame`` from
pandas categorical tag columns. One namespace per cluster crash-loops (a third of its pods restart
every 5 minutes, with their ``kubelet_pod`` objects and ``BackOff`` events), so the detail queries
and the reports are part of the run.

The sandbox is served from a child process that builds the scenario itself (Guance is not in the
inspection's process in real life, and its CPU would compete for this process's GIL); with
``--latency-ms N`` it adds N ms to every Guance request (a sandbox fault), as a distant Guance
would. This process deploys the example startup script as the script market does and runs it
``--runs`` times through the local Func runtime, DQL going over HTTP, on a simulated clock set to
each run's time (``clock.Simulated``; the wall time measured is real; the sandbox is set to the
same run): the first run starts from an empty state (the inspection is registered, the workspace
looked up, the DQL server's page size not yet known); each later one two minutes on (the same
points, the window shifted): the steady state (registered, cached, the open alerts not sent again).

``--json`` prints exactly one JSON object:

- ``pods``, ``points`` (``kube_pod`` points generated), ``namespaces``;
- ``wall_s``: the first run as Func would time it (registration, queries, analysis, reports,
  delivery); ``dql_queries``: ``df/query_data_v1`` requests of the first run (every page counts);
  ``events``: events Guance received;
- ``guance_requests``: every Guance OpenAPI request of the first run; ``runs``: per run, its
  ``wall_s``, ``guance_requests``, ``dql_queries`` and ``by_path`` (requests per OpenAPI path);
- ``busiest_minute``: the most Guance requests the sandbox received in any 60 s of its running
  clock (the run times, advanced by real time; Guance allows 20 a minute per API key);
  ``latency_ms``: the latency added to each request;
- ``peak_rss_mb``: peak RSS (``ru_maxrss``) of this process, the inspection side;
  ``sandbox_peak_rss_mb``: the same for the sandbox process.

Targets: at most 10 Guance requests per run at 100,000 pods, whatever ``--namespaces`` is; under
30 s wall with ``--latency-ms 200``; under 1 GiB.
"""
import argparse
import json
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

RUN_TIME = "2026-11-20T08:00:00Z"
SAMPLES = 30
STEP_MS = 60 * 1000
DEPLOYMENTS_PER_NAMESPACE = 5
NODES_PER_CLUSTER = 20
DQL_PATH = "/api/v1/df/query_data_v1"
RERUN_AFTER_MS = 2 * 60 * 1000       # a later run: two minutes on (same points, window shifted)


def generate(pods=100000, clusters=50, namespaces=40, healthy=False, latency_ms=0, runs=1):
    """The scenario, with its ``kube_pod`` frame; returns (scenario, points)."""
    import numpy as np
    import pandas as pd

    from guance_monitor import clock
    from guance_monitor_local import scenario as scenarios

    end = clock.to_ms(clock.parse_time(RUN_TIME))
    index = np.arange(pods)
    cluster = index % clusters
    namespace = (index // clusters) % namespaces
    slot = index // (clusters * namespaces)                      # position of the pod in its namespace
    deployment = slot % DEPLOYMENTS_PER_NAMESPACE
    node = (index // 7) % NODES_PER_CLUSTER
    cluster_names = np.array(["cluster-%02d" % c for c in range(clusters)], dtype=object)
    namespace_names = np.array(["team-%02d" % n for n in range(namespaces)], dtype=object)
    uids = np.array(["%08x-0000-4000-8000-%012x" % (i, i) for i in range(pods)], dtype=object)
    names = np.array(["app%d-6d5f7b9c8d-%05x" % (d, i) for i, d in zip(range(pods), deployment)], dtype=object)
    # one crash-looping namespace per cluster: team-00; a third of its pods restart every 5 minutes
    crashing = (namespace == 0) & (slot % 3 == 0) & (not healthy)

    times = end - (SAMPLES - 1 - np.arange(SAMPLES)) * STEP_MS
    minutes = np.arange(SAMPLES)
    restarts = np.where(crashing[:, None], 10 + minutes[None, :] // 5, 0).astype(np.int64)

    def categorical(codes, labels):
        return pd.Categorical.from_codes(np.repeat(codes, SAMPLES), categories=labels)

    frame = pd.DataFrame({
        "time_ms": np.tile(times, pods).astype(np.int64),
        "cluster_name_k8s": categorical(cluster, cluster_names),
        "namespace": categorical(namespace, namespace_names),
        "uid": categorical(index, uids),
        "pod_name": categorical(index, names),
        "node_name": categorical(node, np.array(["node-%02d" % n for n in range(NODES_PER_CLUSTER)], dtype=object)),
        "deployment": categorical(deployment, np.array(["app%d" % d for d in range(DEPLOYMENTS_PER_NAMESPACE)],
                                                       dtype=object)),
        "restarts": restarts.reshape(-1),
        "ready": np.ones(pods * SAMPLES, dtype=np.int64),
    })
    objects, logs = [], []
    for i in np.flatnonzero(crashing).tolist():
        tags = {"name": uids[i], "uid": uids[i], "pod_name": names[i], "namespace": namespace_names[namespace[i]],
                "node_name": "node-%02d" % node[i], "cluster_name_k8s": cluster_names[cluster[i]],
                "phase": "Running", "status": "CrashLoopBackOff", "deployment": "app%d" % deployment[i]}
        pod = {"spec": {"containers": [{"name": "app", "resources": {"limits": {"memory": "512Mi"}}}]},
               "status": {"phase": "Running", "containerStatuses": [{
                   "name": "app", "restartCount": 15, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                   "lastState": {"terminated": {"reason": "Error", "exitCode": 1,
                                                "finishedAt": clock.iso(clock.from_ms(end - 2 * STEP_MS))}}}]}}
        message = json.dumps(dict(tags, yaml=json.dumps(pod)))
        objects.append({"measurement": "kubelet_pod", "tags": tags, "fields": {"restarts": 15, "message": message},
                        "time": end - STEP_MS})
        logs.append({"measurement": "kubernetes_events", "tags": {"type": "Warning", "reason": "BackOff"},
                     "fields": {"involved_kind": "Pod", "involved_uid": uids[i], "involved_name": names[i],
                                "involved_namespace": namespace_names[namespace[i]],
                                "message": "Back-off restarting failed container app in pod %s" % names[i]},
                     "time": end - 3 * STEP_MS})
    data = {"name": "bench-k8s", "runs": [clock.iso(clock.from_ms(end + i * RERUN_AFTER_MS)) for i in range(runs)],
            "guance": {"studio": [{"check": "k8s-pod-restart", "callKwargs": {}, "disabled": False}],
                       "points": {"object": objects, "logging": logs}}}
    if latency_ms:
        data["sandbox"] = {"faults": [{"service": "guance", "action": "*", "latency_ms": latency_ms}]}
    scenario = scenarios.from_dict(data)
    scenario.add_frame("M", "kube_pod", frame,
                       ["cluster_name_k8s", "namespace", "uid", "pod_name", "node_name", "deployment"])
    return scenario, pods * SAMPLES


def _serve(conn, options):
    """The sandbox process: build the scenario, serve it until told to stop, report what it served."""
    from guance_monitor_local.sandbox import Sandbox

    scenario, points = generate(options["pods"], options["clusters"], options["namespaces"], options["healthy"],
                                options["latency_ms"], options["runs"])
    with Sandbox(scenario) as sandbox:
        arrivals = _timed_calls(sandbox)
        settings = scenario.sandbox
        conn.send({"url": sandbox.url, "key_id": settings["guance_api_key_id"], "key": settings["guance_api_key"],
                   "points": points})
        message = conn.recv()
        while message != "stop":
            if message == "count":
                conn.send([dict(c) for c in sandbox.calls_of("guance")])
            else:
                sandbox.set_run(message)           # the sandbox's clock (and its rate window) at that run
                conn.send(message)
            message = conn.recv()
        conn.send({"events": len(sandbox.events), "busiest_minute": busiest_minute(arrivals),
                   "statuses": sorted(set(str(c["status"]) for c in sandbox.calls)),
                   "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)})


def _timed_calls(sandbox):
    """The sandbox's running clock (s) at each Guance request it logs (the benchmark's own instrumentation)."""
    arrivals = []
    record = sandbox._record

    def timed(service, *args):
        if service == "guance":
            arrivals.append(sandbox.running_ms() / 1000.0)
        return record(service, *args)

    sandbox._record = timed
    return arrivals


def busiest_minute(times, window_s=60.0):
    """The most of ``times`` (seconds) that fall in any ``window_s`` interval."""
    times = sorted(times)
    best, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= window_s:
            first += 1
        best = max(best, last - first + 1)
    return best


def measure(pods=100000, clusters=50, namespaces=40, healthy=False, progress=None, runs=2, latency_ms=0):
    progress = progress or (lambda message: None)
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=_serve, args=(child, {"pods": pods, "clusters": clusters,
                                                          "namespaces": namespaces, "healthy": healthy,
                                                          "latency_ms": latency_ms, "runs": max(1, runs)}))
    started = time.time()
    server.start()
    per_run = []
    try:
        ready = parent.recv()
        progress("sandbox ready with %d kube_pod points (%.1f s)" % (ready["points"], time.time() - started))

        from guance_monitor import clock
        from guance_monitor_local import demo

        values = {"Guance API Key ID": ready["key_id"], "Guance API Key": ready["key"], "Guance Node": ready["url"]}
        state_dir = tempfile.mkdtemp(prefix="bench-k8s-")
        os.environ["GUANCE_MONITOR_STATE_DIR"] = os.path.join(state_dir, "state")
        os.environ.setdefault("GUANCE_MONITOR_FUNC_SECRET", "bench-func-secret")
        lines = []
        seen = 0
        try:
            runtime = demo.deployed_runtime(["k8s-pod-restart"], values, state_dir, echo=lines.append)
            simulated = clock.Simulated(RUN_TIME).install()     # runs minutes apart, as cron would start them
            for index in range(max(1, runs)):
                parent.send(index)
                parent.recv()
                simulated.set(clock.from_ms(clock.to_ms(clock.parse_time(RUN_TIME)) + index * RERUN_AFTER_MS))
                begun = time.time()
                result = runtime.run(demo.startup_func("k8s-pod-restart"))
                wall = time.time() - begun
                if not result.ok:
                    raise SystemExit("the inspection failed: %s\n%s" % (result.error, "\n".join(lines)))
                parent.send("count")
                calls = parent.recv()
                mine, seen = calls[seen:], len(calls)
                by_path = {}
                for call in mine:
                    by_path[call["action"]] = by_path.get(call["action"], 0) + 1
                per_run.append({"wall_s": round(wall, 2), "guance_requests": len(mine),
                                "dql_queries": by_path.get(DQL_PATH, 0), "by_path": by_path})
                progress("run %d: %.2f s, %d Guance requests" % (index + 1, wall, len(mine)))
        finally:
            clock.Simulated.uninstall()
            shutil.rmtree(state_dir, ignore_errors=True)
        parent.send("stop")
        served = parent.recv()
    finally:
        server.join(30)
        if server.is_alive():
            server.terminate()
    first = per_run[0]
    return {
        "pods": pods, "points": ready["points"], "namespaces": clusters * namespaces,
        "wall_s": first["wall_s"], "dql_queries": first["dql_queries"], "guance_requests": first["guance_requests"],
        "runs": per_run, "busiest_minute": served["busiest_minute"], "latency_ms": latency_ms,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "sandbox_peak_rss_mb": served["peak_rss_mb"], "events": served["events"],
        "log": [line for line in lines if "k8s-pod-restart" in line],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description="Benchmark the Kubernetes pod-restart inspection.")
    parser.add_argument("--pods", type=int, default=100000, help="pods to generate (default 100000)")
    parser.add_argument("--clusters", type=int, default=50, help="clusters (default 50)")
    parser.add_argument("--namespaces", type=int, default=40, help="namespaces per cluster (default 40)")
    parser.add_argument("--healthy", action="store_true", help="no crash-looping namespace")
    parser.add_argument("--runs", type=int, default=2, help="runs: the first from an empty state (default 2)")
    parser.add_argument("--latency-ms", type=int, default=0, help="ms added to every Guance request (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.pods < args.clusters * args.namespaces:
        parser.error("--pods must be at least --clusters x --namespaces")
    if args.runs < 1 or args.latency_ms < 0:
        parser.error("--runs must be at least 1 and --latency-ms at least 0")
    progress = (lambda message: None) if args.json else (lambda message: print(message, file=sys.stderr))
    result = measure(args.pods, args.clusters, args.namespaces, args.healthy, progress, args.runs, args.latency_ms)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "log"}, sort_keys=True))
        return 0
    print("pods              %d in %d namespaces (%d clusters x %d)" % (
        result["pods"], result["namespaces"], args.clusters, args.namespaces))
    print("kube_pod points   %d" % result["points"])
    print("latency added     %d ms per Guance request" % result["latency_ms"])
    for index, run in enumerate(result["runs"]):
        print("run %d             %.2f s wall, %d Guance requests (%d DQL): %s" % (
            index + 1, run["wall_s"], run["guance_requests"], run["dql_queries"],
            ", ".join("%s %d" % (path.rsplit("/api/v1/", 1)[-1], n) for path, n in sorted(run["by_path"].items()))))
    print("busiest minute    %d Guance requests (limit 20 per API key)" % result["busiest_minute"])
    print("targets           <= 10 requests per run, flat in namespaces; < 30 s with --latency-ms 200")
    print("peak RSS          %.1f MiB inspection side (target < 1024), %.1f MiB sandbox" % (
        result["peak_rss_mb"], result["sandbox_peak_rss_mb"]))
    print("events            %d" % result["events"])
    for line in result["log"]:
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
