"""Kubernetes Pod 异常重启巡检 / Kubernetes Pod abnormal restart inspection: ``K8SPodRestartCheck``.

One run (cron ``*/30 * * * *``) over the last 30 minutes, stage by stage, each reading only
what the stages before it produced:

1. ``collect.gather`` — the DQL queries (the only I/O), aggregated on the server:
   facts (``facts.Observation``);
2. ``analyse.assess`` — per (cluster, namespace): pods categorised, causes, figures,
   baseline (``analyse.Namespace``); ``analyse.judge`` — its verdict;
3. ``decide.plan`` — verdicts and alert state in, the ``Plan`` out: alert decisions, the
   baseline history after the decision, no-data and incomplete-data decisions;
4. ``render.events`` — the events, from the plan.

State (alert tracker, no-data watch, history) is committed by the Runner once the events
are safe in the outbox.
"""
from guance_monitor import clock
from guance_monitor import logs
from guance_monitor.checker import Checker
from guance_monitor_k8s_pod_restart import alert_state
from guance_monitor_k8s_pod_restart import analyse
from guance_monitor_k8s_pod_restart import collect
from guance_monitor_k8s_pod_restart import decide
from guance_monitor_k8s_pod_restart import facts
from guance_monitor_k8s_pod_restart import render
from guance_monitor_k8s_pod_restart import scopes

log = logs.get(__name__)

INSPECTION = {"name": "k8s-pod-restart", "enabled_by_default": False}


class K8SPodRestartCheck(Checker):
    """Pods restarting abnormally, per Kubernetes cluster and namespace (configs: see ``scopes``)."""

    name = "k8s-pod-restart"
    title = u"Kubernetes Pod 异常重启巡检"
    schema = scopes.SCHEMA
    recover_after_runs = scopes.DEFAULTS["recover_after_runs"]

    def inspect(self, ctx):
        if ctx.api is None:
            raise RuntimeError("the pod-restart inspection queries Guance: run it inside @self_hosted_monitor(...)")
        scope_list = scopes.from_entries(self.entries)
        scope_of = scopes.matcher(scope_list, self.keep)
        window = facts.Window.ending(clock.now_ms())
        store = self.store(ctx)
        tracker = alert_state.tracker(self, ctx, scope_list)
        history = alert_state.history(store)
        open_state = tracker.state()
        open_keys = [pair for pair in map(analyse.split_key, open_state) if pair is not None]

        obs = collect.gather(ctx.api, store, scope_list, lambda c, n: scope_of(c, n) is not None, open_keys,
                             window, ctx.deadline)
        namespaces, problems = analyse.assess(obs, scope_of, history)
        verdicts = dict((key, analyse.judge(ns)) for key, ns in namespaces.items())
        plan = decide.plan(namespaces, verdicts, obs, scope_list, tracker, self.silence(ctx), history)
        events = render.events(plan, namespaces, obs)

        self.defer(store, alert_state.HISTORY_KEY, plan.history)
        for line in render.log_lines(plan, namespaces, problems, obs, scope_list, open_state):
            log.info("k8s-pod-restart: %s", line)
        firing = sum(1 for v in verdicts.values() if v.verdict == "fire")
        self.stats = {"dql_requests": obs.requests, "pods": len(obs.pods), "namespaces": len(namespaces),
                      "firing": firing, "events": len(events), "window": render.window_text(
                          window.start_ms, window.end_ms)}
        log.info("k8s-pod-restart: %d pods looked at in %d namespaces over %s; %d namespaces abnormal; %d events; "
                 "%d DQL requests", len(obs.pods), len(namespaces), self.stats["window"], firing, len(events),
                 obs.requests)
        return events
