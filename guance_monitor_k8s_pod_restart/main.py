"""Kubernetes Pod 异常重启巡检 / Kubernetes Pod abnormal restart inspection: ``K8SPodRestartCheck``.

Every run (cron ``*/30 * * * *``), over the last 30 minutes:

1. **collect** the restart counters of every pod in scope (two paged ``kube_pod``
   queries grouped by pod uid), the disruption / node / rollout events, the
   nodes and the failed pods — a fixed number of queries whatever the number
   of namespaces (``collect``);
2. **analyse** each (cluster, namespace): the restarted-pod ratio against its
   baseline and thresholds (``analyse``); for the namespaces that may fire,
   fetch the pod YAML, the pod events and the containers' memory, find the
   cause per container (``causes``) and decide again;
3. **render** one report per namespace whose alert state changed (``render``);
4. hand the events to the Runner: one event per (cluster, namespace) with the
   dimension tags ``{cluster_name_k8s, namespace}``, re-reported only when the
   severity changes or the reminder interval passed, ``ok`` after
   ``recover_after_runs`` clean runs. No data never fires and never recovers.
"""
import json

from guance_monitor import clock
from guance_monitor import logs
from guance_monitor import redact
from guance_monitor.checker import Checker
from guance_monitor_k8s_pod_restart import analyse
from guance_monitor_k8s_pod_restart import causes
from guance_monitor_k8s_pod_restart import collect
from guance_monitor_k8s_pod_restart import render
from guance_monitor_k8s_pod_restart import scopes

log = logs.get(__name__)

INSPECTION = {"name": "k8s-pod-restart", "enabled_by_default": False}

MINUTE_MS = 60 * 1000
DETAIL_RESERVE_SECONDS = 30     # skip the detail queries when less than this is left of the budget
HISTORY_KEY = "baseline"
TRACKERS_KEY = "trackers"


class K8SPodRestartCheck(Checker):
    """Pods restarting abnormally, per Kubernetes cluster and namespace (configs: see ``scopes``)."""

    name = "k8s-pod-restart"
    title = u"Kubernetes Pod 异常重启巡检"
    schema = scopes.SCHEMA
    recover_after_runs = scopes.DEFAULTS["recover_after_runs"]

    def __init__(self, configs=None, filters=None):
        Checker.__init__(self, configs=configs, filters=filters)

    # -- the run -------------------------------------------------------------------------

    def inspect(self, ctx):
        if ctx.api is None:
            raise RuntimeError("the pod-restart inspection queries Guance: run it inside @self_hosted_monitor(...)")
        scope_list = scopes.from_entries(self.entries)
        end_ms = (clock.now_ms() // MINUTE_MS) * MINUTE_MS
        start_ms = end_ms - analyse.WINDOW_MS
        deadline = ctx.work_deadline()
        client = collect.client(ctx.api)

        pods = collect.pod_counters(client, scope_list, start_ms, end_ms)
        events = collect.scope_events(client, scope_list, start_ms, end_ms)
        nodes = collect.nodes(client, scope_list, start_ms, end_ms)
        failed = collect.failed_pods(client, scope_list, start_ms, end_ms)

        kept = {}

        def scope_of(cluster, namespace):
            key = (cluster, namespace)
            if key not in kept:
                scope = scopes.match(scope_list, cluster, namespace)
                kept[key] = scope if scope is not None and \
                    self.keep({"cluster_name": cluster, "namespace": namespace}) else None
            return kept[key]

        assessed, problems = analyse.assess(pods, events, failed, nodes, scope_of, start_ms, end_ms)
        self._log_problems(problems)
        self._log_node_reboots(assessed)
        failed_by_uid = dict((f["uid"], f) for f in failed if f.get("uid"))
        for ns in assessed.values():
            for pod in ns.pods:
                if pod["uid"] in failed_by_uid:
                    pod["object_status"] = failed_by_uid[pod["uid"]].get("status")

        store = self.store(ctx)
        history = store.get(HISTORY_KEY) or {}
        history = history if isinstance(history, dict) else {}
        trackers, owner, open_status = self._alert_trackers(ctx, store, assessed, scope_list)

        for ns in assessed.values():
            ns.baseline, ns.baseline_windows = analyse.baseline(history.get(ns.key), end_ms)
            ns.verdict = analyse.evaluate(ns.figures, ns.scope.thresholds, ns.baseline)

        candidates = [ns for ns in assessed.values() if ns.data == "ok" and (
            ns.verdict["verdict"] == "fire" or (ns.key in open_status and ns.figures["abnormal"] > 0))]
        details = self._details(client, candidates, start_ms, end_ms, deadline)
        for ns in candidates:
            ns.verdict = analyse.evaluate(ns.figures, ns.scope.thresholds, ns.baseline)

        events_out = self._decide(trackers, owner, open_status, assessed, details, history, start_ms, end_ms)
        self._say_no_data(scope_list, assessed, open_status, start_ms, end_ms)
        self.defer(store, HISTORY_KEY, self._trim_history(history, end_ms))

        firing = sum(1 for ns in assessed.values() if ns.verdict["verdict"] == "fire")
        self.stats = {"dql_requests": client.requests, "pods": len(pods), "namespaces": len(assessed),
                      "firing": firing, "events": len(events_out), "window": render.window_text(start_ms, end_ms)}
        log.info("k8s-pod-restart: %d pods in %d namespaces over %s; %d namespaces abnormal; %d events; "
                   "%d DQL requests", len(pods), len(assessed), self.stats["window"], firing, len(events_out),
                   client.requests)
        return events_out

    # -- alert state ---------------------------------------------------------------------

    def _alert_trackers(self, ctx, store, assessed, scope_list):
        """One tracker per ``recover_after_runs`` value in use; which tracker owns each open alert."""
        used = store.get(TRACKERS_KEY) or []
        used = [k for k in used if isinstance(k, int) and k > 0] if isinstance(used, list) else []
        wanted = set(used)
        wanted.update(s.thresholds["recover_after_runs"] for s in scope_list)
        wanted.update(ns.scope.thresholds["recover_after_runs"] for ns in assessed.values())
        trackers = {}
        owner = {}
        open_status = {}
        for runs in sorted(wanted):
            tracker = self.tracker(ctx, name="alerts-k%d" % runs, recover_after_runs=runs)
            trackers[runs] = tracker
            for key, entry in tracker.state().items():
                owner[key] = runs
                open_status[key] = entry.get("status")
        self.defer(store, TRACKERS_KEY, sorted(k for k in trackers if trackers[k].state() or k in
                                               [s.thresholds["recover_after_runs"] for s in scope_list]))
        return trackers, owner, open_status

    def _decide(self, trackers, owner, open_status, assessed, details, history, start_ms, end_ms):
        firing = dict((runs, {}) for runs in trackers)
        healthy = dict((runs, []) for runs in trackers)
        for ns in assessed.values():
            runs = owner.get(ns.key, ns.scope.thresholds["recover_after_runs"])
            verdict = ns.verdict["verdict"]
            if ns.data != "ok" or verdict == "nodata":
                continue
            if verdict == "fire":
                firing[runs][ns.key] = ns.verdict["status"]
            elif verdict == "between" and ns.key in open_status:
                firing[runs][ns.key] = open_status[ns.key]      # hysteresis: still open, the clean count restarts
            elif verdict == "clean":
                healthy[runs].append(ns.key)
            if verdict == "clean" or (verdict == "between" and ns.key not in open_status):
                # the baseline learns from the windows that did not fire outside an open alert
                history[ns.key] = analyse.remember(history.get(ns.key), end_ms, ns.figures["ratio"])
        out = []
        for runs, tracker in sorted(trackers.items()):
            info = dict((key, {"ratio": assessed[key].figures["ratio"]}) for key in firing[runs])
            for decision in tracker.update(firing[runs], healthy[runs], info=info, now_ms=end_ms):
                ns = assessed.get(decision.key)
                if decision.status == "ok":
                    cluster, namespace = _split_key(decision.key)
                    out.append(render.recovered_event(cluster, namespace, decision, runs, ns, start_ms, end_ms))
                else:
                    memory, pod_events = details.get(decision.key, ({}, []))
                    out.append(render.firing_event(ns, decision, start_ms, end_ms, memory, pod_events))
        return out

    # -- details for the namespaces that may fire ----------------------------------------

    def _details(self, client, candidates, start_ms, end_ms, deadline):
        """key -> (container memory, pod events); applies the causes to the candidates' pods."""
        out = {}
        if not candidates:
            return out
        remaining = deadline.remaining()
        if remaining is not None and remaining < DETAIL_RESERVE_SECONDS:
            for ns in candidates:
                ns.notes.append(u"时间预算不足，未查询 Pod YAML 与事件 / too little time left to query the pod YAML "
                                u"and events: causes are unknown")
            return out
        uids = [p["uid"] for ns in candidates for p in ns.abnormal()]
        objects = collect.pod_objects(client, uids, start_ms, end_ms)
        pod_events = collect.pod_events(client, uids, start_ms, end_ms)
        memory = collect.container_memory(client, uids, start_ms, end_ms)
        events_by_uid = {}
        for event in pod_events:
            events_by_uid.setdefault(event.get("uid"), []).append(event)
        for ns in candidates:
            found = {}
            for pod in ns.abnormal():
                obj = objects.get(pod["uid"])
                if obj is not None and obj.get("status"):
                    pod["object_status"] = obj.get("status")
                evs = events_by_uid.get(pod["uid"], [])
                if pod["category"] == "restarted":
                    found[pod["uid"]] = causes.explain_pod(pod, obj, evs, start_ms, end_ms)
                else:
                    found[pod["uid"]] = self._disruption_detail(pod, obj, evs)
            analyse.apply_details(ns, found)
            ns_uids = set(p["uid"] for p in ns.pods)
            out[ns.key] = (dict((k, v) for k, v in memory.items() if k[0] in ns_uids),
                           [e for e in pod_events if e.get("uid") in ns_uids])
        return out

    @staticmethod
    def _disruption_detail(pod, obj, events):
        spec, _ = causes.pod_from_message((obj or {}).get("message"))
        reason, message = causes.pod_level_status(spec)
        cause = causes.WAITING_CAUSES.get(reason)
        if cause is None:
            for event in events:
                found = causes.classify_event(event)
                if found and found[0] in ("eviction", "node_spot"):
                    cause = found[0]
                    break
        text = ("%s: %s" % (reason, message)).strip(": ") if reason else ""
        return {"cause": cause, "reason": text or None, "containers": causes.containers(spec) if spec else [],
                "yaml": "status" if causes.has_status(spec) else ("spec" if spec else "none")}

    # -- saying what is missing ----------------------------------------------------------

    def _log_problems(self, problems):
        if not problems:
            return
        log.info("k8s-pod-restart: %d kube_pod series skipped (bad data): %s%s", len(problems),
                   "; ".join("%s/%s: %s" % (c or "-", n or "-", p) for c, n, p in problems[:5]),
                   " ..." if len(problems) > 5 else "")

    def _log_node_reboots(self, assessed):
        by_node = {}
        for ns in assessed.values():
            for pod in ns.pods:
                if pod.get("exclusion") == "node_reboot":
                    by_node.setdefault((ns.cluster, pod["node"]), []).append(pod)
        for (cluster, node), members in sorted(by_node.items()):
            log.info("k8s-pod-restart: %d pod restarts attributed to the reboot of node %s/%s, not to the "
                       "applications: %s", len(members), cluster, node, (members[0].get("evidence") or [""])[-1])

    def _say_no_data(self, scope_list, assessed, open_status, start_ms, end_ms):
        window = render.window_text(start_ms, end_ms)
        if not assessed:
            log.info("k8s-pod-restart: no data: no kube_pod points for %s in %s; nothing fires and nothing "
                       "recovers (check DataKit's container input)", "; ".join(s.describe() for s in scope_list),
                       window)
        seen = set((ns.cluster, ns.namespace) for ns in assessed.values())
        for cluster, namespace in scopes.explicit_namespaces(scope_list):
            if not any(n == namespace and (cluster is None or c == cluster) for c, n in seen):
                log.info("k8s-pod-restart: no data for namespace %s%s in %s", namespace,
                           " of cluster %s" % cluster if cluster else "", window)
        for ns in assessed.values():
            if ns.data == "stale":
                log.info("k8s-pod-restart: no data: %s/%s stopped reporting at %s; its state is kept", ns.cluster,
                           ns.namespace, clock.iso(clock.from_ms(ns.latest_ms)) if ns.latest_ms else "?")
        for key in sorted(open_status):
            if key not in assessed:
                cluster, namespace = _split_key(key)
                log.info("k8s-pod-restart: no data for %s/%s (%s still open) in %s: nothing fires and nothing "
                           "recovers", cluster, namespace, open_status[key], window)

    @staticmethod
    def _trim_history(history, end_ms):
        return dict((key, value) for key, value in history.items() if analyse.baseline(value, end_ms)[1])


def _split_key(key):
    try:
        cluster, namespace = json.loads(key)
    except (ValueError, TypeError):
        return "", key
    return cluster, namespace
