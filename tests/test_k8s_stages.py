"""The decide stage and the state between runs, on records built here (no sandbox): plan, history, upgrade."""
import json

from guance_monitor import alerts
from guance_monitor import checker as checkers
from guance_monitor import clock
from guance_monitor import context
from guance_monitor import state
from guance_monitor_k8s_pod_restart import alert_state
from guance_monitor_k8s_pod_restart import analyse
from guance_monitor_k8s_pod_restart import decide
from guance_monitor_k8s_pod_restart import facts
from guance_monitor_k8s_pod_restart import main
from guance_monitor_k8s_pod_restart import render
from guance_monitor_k8s_pod_restart import scopes

from k8s_scenario_builder import Builder, Container, Pod, SandboxAPI

END = 1795161600000
MIN = 60000
WINDOW = facts.Window(END - 30 * MIN, END)
SCOPES = scopes.from_entries([])


def namespace(name, ratio, abnormal, population=10, runs=2):
    scope = scopes.Scope(thresholds={"recover_after_runs": runs})
    return analyse.Namespace("c1", name, scope, figures=analyse.Figures(
        pods=population, population=population, abnormal=abnormal, restarted=abnormal, restarts=abnormal * 3,
        ratio=ratio))


def observation(changes=(), gaps=None):
    obs = facts.Observation(window=WINDOW, cluster_minutes={"c1": {END: 10}})
    obs.changes = {(c, n): facts.ScopeChange(c, n, 1, 1) for c, n in changes}
    obs.sources = [facts.Source(name, list(texts)) for name, texts in (gaps or {}).items()]
    return obs


def plan_for(namespaces, verdicts, obs, store, history=None):
    tracker = alerts.AlertTracker(store.scoped("alerts"), recover_after_runs=2)
    watch = checkers.SilenceWatch(store.scoped("silence"))
    keyed = {ns.key: ns for ns in namespaces}
    out = decide.plan(keyed, {ns.key: verdicts[ns.namespace] for ns in namespaces}, obs, SCOPES, tracker,
                      watch, history or {})
    tracker.commit()
    watch.commit()
    return out


def test_history_learns_after_the_decision_never_from_a_firing_window():
    store = state.MemoryStore()
    shop, web = namespace("shop", 0.5, 5), namespace("web", 0.05, 1)
    verdicts = {"shop": analyse.Verdict("fire", "critical", 0.1, True), "web": analyse.Verdict("clean")}
    quiet = alert_state.alert_key("c1", "quiet")
    plan = plan_for([shop, web], verdicts, observation(changes=[("c1", "shop"), ("c1", "web")]), store,
                    history={quiet: [[END - 30 * MIN, 0.2]]})
    assert [(d.key, d.status, d.reason) for d in plan.alerts] == [(shop.key, "critical", "new")]
    assert shop.key not in plan.history and plan.history[web.key] == [[END, 0.05]]
    # a namespace with history whose counters did not move this window is remembered at 0
    assert plan.history[quiet] == [[END - 30 * MIN, 0.2], [END, 0.0]]
    assert plan.data is None and plan.gaps == []


def test_no_zero_is_remembered_when_the_view_of_changes_was_not_whole():
    quiet = alert_state.alert_key("c1", "quiet")
    plan = plan_for([], {}, observation(gaps={"changes": ["the query failed"]}), state.MemoryStore(),
                    history={quiet: [[END - 30 * MIN, 0.2]]})
    assert plan.history[quiet] == [[END - 30 * MIN, 0.2]]
    assert plan.data.status == "warning" and plan.gaps == [
        "重启计数变化的命名空间 / namespaces whose restart counters changed: the query failed"]


def test_each_alert_recovers_after_its_own_k_kept_from_when_it_fired():
    store = state.MemoryStore()
    shop = namespace("shop", 0.5, 5, runs=3)
    plan_for([shop], {"shop": analyse.Verdict("fire", "critical")}, observation(), store)
    clean = {"shop": analyse.Verdict("clean")}
    shop_now = namespace("shop", 0.0, 0, runs=1)            # configs changed K to 1 meanwhile
    statuses = [[d.status for d in plan_for([shop_now], clean, observation(), store).alerts] for _ in range(3)]
    assert statuses == [[], [], ["ok"]]                      # the K of the incident: 3


def test_an_unknown_view_or_no_data_leaves_an_open_alert_alone():
    store = state.MemoryStore()
    shop = namespace("shop", 0.5, 5, runs=1)
    plan_for([shop], {"shop": analyse.Verdict("fire", "critical")}, observation(), store)
    for verdict in ("unknown", "nodata"):
        plan = plan_for([shop], {"shop": analyse.Verdict(verdict)}, observation(), store)
        assert plan.alerts == []
    assert plan_for([], {}, observation(), store).alerts == []          # not even looked at
    assert [d.status for d in plan_for([shop], {"shop": analyse.Verdict("clean")}, observation(),
                                       store).alerts] == ["ok"]


def test_the_incomplete_data_event_is_repeated_only_when_what_is_missing_changes():
    store = state.MemoryStore()
    first = plan_for([], {}, observation(gaps={"events": ["page 2 failed"]}), store)
    same = plan_for([], {}, observation(gaps={"events": ["page 2 failed"]}), store)
    other = plan_for([], {}, observation(gaps={"nodes": ["the query failed"]}), store)
    whole = plan_for([], {}, observation(), store)
    assert [p.data and p.data.status for p in (first, same, other, whole)] == ["warning", None, "warning", "ok"]
    events = render.events(other, {}, observation())
    assert [e["dimension_tags"] for e in events] == [{"check": "k8s-pod-restart", "issue": "data"}]
    assert "node objects (kubernetes\\_nodes): the query failed" in events[0]["message"]


# -- the upgrade from the released trackers ---------------------------------------------------------

def crash_loop(run):
    b = Builder("upgrade", "shop crash-loops", [run])
    start = END - 30 * MIN
    for i in range(4):
        restarts = [(start + m * MIN, n + 1) for n, m in enumerate(range(2, 30, 6))] if i < 2 else []
        b.add_pod(Pod("shop", "svc-5d6e7f8a9b-%02d" % i, owner=("deployment", "svc"),
                      containers=[Container("app", restarts=restarts,
                                            terminations=[(t - 5000, "Error", 1) for t, _ in restarts])]))
    return b.to_dict()


def test_open_alerts_of_the_released_trackers_neither_repeat_nor_vanish():
    store = state.MemoryStore()
    checker = main.K8SPodRestartCheck()
    ctx = context.RunContext(api=SandboxAPI(crash_loop("2026-11-20T08:00:00Z")), store=store)
    mine = checker.store(ctx)
    key = alert_state.alert_key("c1", "shop")
    since = END - 6 * 3600 * 1000
    legacy = {key: {"status": "critical", "since_ms": since, "reported_ms": END - 30 * MIN, "seen_ms": END - 30 * MIN,
                    "clear_runs": 0, "info": {"ratio": 0.5}},
              alert_state.alert_key("c9", "gone"): {"status": "error", "since_ms": since, "reported_ms": since,
                                                  "seen_ms": END - 30 * MIN, "clear_runs": 1, "info": {}}}
    mine.scoped("alerts-k3").set("alerts", legacy)
    mine.set("trackers", [3])
    with clock.frozen("2026-11-20T08:00:00Z"):
        events = checker.run(ctx)
    assert [e for e in events if e["dimension_tags"].get("namespace") == "shop"] == []     # still open: no repeat
    checker.commit()
    adopted = mine.scoped("alerts").get("alerts")
    assert adopted[key]["since_ms"] == since and adopted[key]["info"]["recover_after"] == 3
    assert adopted[alert_state.alert_key("c9", "gone")]["status"] == "error"                 # no data: kept
    assert mine.scoped("alerts-k3").get("alerts") == {} and mine.get("trackers") == []
    # once adopted, the released keys are not read again
    mine.scoped("alerts-k3").set("alerts", {alert_state.alert_key("c1", "web"): dict(legacy[key])})
    tracker = alert_state.tracker(main.K8SPodRestartCheck(), ctx, SCOPES)
    assert alert_state.alert_key("c1", "web") not in tracker.state()


def test_a_debug_run_adopts_nothing_for_good():
    store = state.MemoryStore()
    checker = main.K8SPodRestartCheck()
    ctx = context.RunContext(api=SandboxAPI(crash_loop("2026-11-20T08:00:00Z")), store=store)
    key = alert_state.alert_key("c1", "shop")
    entry = {"status": "critical", "since_ms": END - 3600 * 1000, "reported_ms": END - 30 * MIN,
             "seen_ms": END - 30 * MIN, "clear_runs": 0, "info": {}}
    checker.store(ctx).scoped("alerts-k2").set("alerts", {key: entry})
    with clock.frozen("2026-11-20T08:00:00Z"):
        checker.run(ctx)                                    # not committed, as in a debug run
    assert checker.store(ctx).scoped("alerts-k2").get("alerts") == {key: entry}
    assert json.dumps(checker.store(ctx).scoped("alerts").get("alerts")) == "null"
