"""Kubernetes Pod 异常重启巡检 / Kubernetes Pod abnormal restart inspection: ``K8SPodRestartCheck``.

One run (cron ``*/30 * * * *``, the last 30 minutes), each stage reading only what came before:
``collect.gather`` (the DQL queries, the only I/O) -> ``facts.Observation`` -> ``analyse.assess``
(per namespace: pods, causes, rollouts, node conditions, figures, baseline) and ``analyse.judge`` (its verdict) ->
``decide.plan`` (alert decisions, history after the decision, no-data and incomplete-data) ->
``render.events``. The Runner commits the state once the events are safe in the outbox.
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
    title = "Kubernetes Pod 异常重启巡检"   # the Studio title (Func shows it); event titles are bilingual
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
        open_keys = [pair for pair in map(alert_state.split_key, open_state) if pair is not None]

        obs = collect.gather(ctx.api, store, scope_list, scope_of, open_keys, window, ctx.deadline, history)
        namespaces, problems = analyse.assess(obs, scope_of, history, open_state)
        verdicts = {key: analyse.judge(ns) for key, ns in namespaces.items()}
        plan = decide.plan(namespaces, verdicts, obs, scope_list, tracker, self.silence(ctx), history)
        events = render.events(plan, namespaces, obs, render.console_url(ctx.guance_node))

        self.defer(store, alert_state.HISTORY_KEY, plan.history)
        for line in render.log_lines(plan, namespaces, problems, obs, scope_list, open_state):
            log.info("k8s-pod-restart: %s", line)
        self.stats = render.stats(obs, namespaces, verdicts, events)
        log.info("k8s-pod-restart: %(pods)d pods looked at in %(namespaces)d namespaces over %(window)s; "
                 "%(firing)d namespaces abnormal; %(events)d events; %(dql_requests)d DQL requests", self.stats)
        return events
