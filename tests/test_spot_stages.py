"""The stages of a run on records built here (no sandbox, no I/O): evaluate, decide, render, collect's plan.

Each test feeds ``records.Observation`` values run after run through ``rules.evaluate_all`` ->
``decide.plan`` (with real alert trackers on a memory store) -> ``render.events``, and asserts
what the user would see.
"""
import copy

from guance_monitor import alerts
from guance_monitor import checker
from guance_monitor import state
from guance_monitor_spot_alive import collect
from guance_monitor_spot_alive import records
from guance_monitor_spot_alive import decide
from guance_monitor_spot_alive import options
from guance_monitor_spot_alive import render
from guance_monitor_spot_alive import rules
from guance_monitor_spot_alive.records import Action
from guance_monitor_spot_alive.records import ActionOutcome
from guance_monitor_spot_alive.records import Inventory
from guance_monitor_spot_alive.records import MarketData
from guance_monitor_spot_alive.records import Observation
from guance_monitor_spot_alive.records import Plan
from guance_monitor_spot_alive.records import Problem

from test_spot_rules import NOW, instance

MIN = 60 * 1000
HZ = "cn-hangzhou"
LOCK = [{"reason": "Recycling", "message": "being recycled"}]


def market(price=0.10, zones=("cn-hangzhou-h", "cn-hangzhou-i")):
    points = [[NOW - h * 3600 * 1000, zone, price + i / 100.0, 0.6] for h in range(3) for i, zone in enumerate(zones)]
    data = MarketData()
    data.history[(HZ, "ecs.g7.large", "linux")] = {"v": 1, "fetched_ms": NOW, "start_ms": NOW - 7 * 86400000,
                                                   "end_ms": NOW, "currency": "CNY", "points": points}
    data.advice[HZ] = {"ecs.g7.large": dict((z, {"rate": 1.0, "desc": "0-3%", "discount": 20}) for z in zones)}
    data.stock[HZ] = {"zones": {}, "types": dict((z, {"ecs.g7.large": "WithStock"}) for z in zones)}
    return data


def observe(instances=(), now=NOW, live=None, live_regions=(HZ,), events_complete=True, released=(), data=None,
            previous=None, problems=(), objects=None, complete=True, spot_seen_ms=None, source="guance"):
    """An Observation as ``collect.gather`` would make it."""
    instances = dict((i["instance_id"], i) for i in instances)
    return Observation(
        now_ms=now, source=source,
        inventory=Inventory(source, dict(instances), objects=len(instances) if objects is None else objects,
                            complete=complete, read_ms=now),
        instances=instances, live=dict((i["instance_id"], i) for i in (live or [])), live_regions=set(live_regions),
        live_missing={} if HZ in live_regions else {HZ: "listing incomplete: paging repeats itself"},
        events_complete=events_complete, released=dict((i["instance_id"], i) for i in released),
        previous=previous or {}, market=data or market(), problems=list(problems), spot_seen_ms=spot_seen_ms)


class Run(object):
    """The alert state of an inspection, kept across runs as the Runner commits it."""

    def __init__(self, configs=()):
        self.store = state.MemoryStore()
        self.selection = options.Selection(list(configs))

    def __call__(self, observation, action_rules=()):
        trackers = decide.Trackers(alerts.AlertTracker(self.store.scoped("instances"), reminder_seconds=6 * 3600),
                                   alerts.AlertTracker(self.store.scoped("groups"), reminder_seconds=6 * 3600),
                                   alerts.AlertTracker(self.store.scoped("problems"), reminder_seconds=24 * 3600),
                                   checker.SilenceWatch(self.store.scoped("silence")))
        observation.previous = trackers.instances.state()
        evaluations = rules.evaluate_all(observation, self.selection)
        plan = decide.plan(evaluations, observation, trackers, self.selection, action_rules=action_rules)
        for one in (trackers.instances, trackers.groups, trackers.problems, trackers.silence):
            one.commit()
        return plan, render.events(plan, observation)


def summary(events):
    return [(e["status"], e["dimension_tags"].get("instance_id") or e["dimension_tags"].get("source")
             or e["dimension_tags"].get("instance_type")) for e in events]


def recycling(instance_id="i-1", **overrides):
    return instance(instance_id=instance_id, locks=LOCK, **overrides)


# -- one instance through its life ----------------------------------------------------------------

def test_being_released_then_unchanged_then_released():
    run = Run()
    one = recycling()
    plan, events = run(observe([one], live=[one]))
    assert [(d.status, d.reason) for d in plan.instances] == [("critical", "new")]
    assert summary(events) == [("critical", "i-1")]
    assert events[0]["title"].endswith(u"— 最迟释放 / released by 2026-11-20 16:05:00 (UTC+8)")
    assert plan.actions == [] and isinstance(plan, Plan)                    # the response half: nothing due yet
    _, events = run(observe([one], live=[one], now=NOW + 2 * MIN))
    assert events == []
    gone = records.last_known("i-1", run.store.scoped("instances").get("alerts")["i-1"])
    plan, events = run(observe([], released=[gone], now=NOW + 6 * MIN))
    assert [(d.status, d.released) for d in plan.instances] == [("ok", True)]
    assert events[0]["title"] == u"抢占式实例已释放 / Spot instance released: web-1 (i-1)"
    assert u"DescribeInstances no longer finds it" in events[0]["message"]


def test_an_incomplete_live_view_recovers_nothing():
    run = Run()
    one = recycling()
    run(observe([one], live=[one]))
    unlocked = instance()
    # the Recycling listing of the region was cut short: the instance's live lock state is unknown
    plan, events = run(observe([unlocked], live_regions=(), now=NOW + 2 * MIN))
    assert plan.instances == [] and events == []
    # the listing is complete again but CloudMonitor's notices were not all read: still unknown
    plan, events = run(observe([unlocked], events_complete=False, now=NOW + 4 * MIN))
    assert events == []
    # everything read: the release condition cleared
    plan, events = run(observe([unlocked], now=NOW + 6 * MIN))
    assert summary(events) == [("ok", "i-1")] and not plan.instances[0].released
    assert u"抢占式实例风险已解除" in events[0]["title"]


def test_no_price_data_keeps_a_bid_alert_open_until_prices_say_it_cleared():
    run = Run()
    low = instance(spot_price_limit=0.09)
    plan, events = run(observe([low]))
    assert summary(events) == [("error", "i-1")]
    assert [a["code"] for a in plan.instances[0].evaluation.advice][0] == "act_now"
    no_prices = MarketData()
    no_prices.price_errors[(HZ, "ecs.g7.large", "linux")] = u"价格历史不完整 / price history incomplete: paging repeats"
    plan, events = run(observe([instance(spot_price_limit=0.5)], data=no_prices, now=NOW + 2 * MIN))
    assert events == []
    _, events = run(observe([instance(spot_price_limit=0.5)], now=NOW + 4 * MIN))
    assert summary(events) == [("ok", "i-1")]


def test_data_problems_make_one_event_named_then_ok():
    run = Run()
    problem = Problem("inventory-incomplete", "the instance listing is incomplete (the answer has more than 100 pages)")
    plan, events = run(observe([instance()], problems=[problem]))
    assert summary(events) == [("warning", None)]
    assert events[0]["dimension_tags"] == {"check": "spot-alive", "issue": "data"}
    assert "the answer has more than 100 pages" in events[0]["message"]
    _, events = run(observe([instance()], problems=[problem], now=NOW + 2 * MIN))
    assert events == []                                                       # the same list: not repeated
    _, events = run(observe([instance()], now=NOW + 4 * MIN))
    assert [(e["status"], e["dimension_tags"]) for e in events] == [("ok", {"check": "spot-alive", "issue": "data"})]


# -- groups ---------------------------------------------------------------------------------------

def test_many_of_one_type_make_one_group_that_dissolves_into_single_reports():
    run = Run()
    fleet = [recycling("i-%d" % n) for n in range(7)] + [instance(instance_id="i-low", spot_price_limit=0.09)]
    plan, events = run(observe(fleet, live=fleet[:7]))
    assert [(g.status, len(g.members)) for g in plan.groups] == [("critical", 8)] and plan.instances == []
    assert summary(events) == [("critical", "ecs.g7.large")]
    assert events[0]["title"].startswith(u"8 个 ecs.g7.large 抢占式实例正在被回收释放")
    gone = [records.last_known("i-%d" % n, run.store.scoped("instances").get("alerts")["i-%d" % n]) for n in range(7)]
    plan, events = run(observe(fleet[7:], released=gone, now=NOW + 6 * MIN))
    assert [(g.status, g.still_firing, len(g.recovered)) for g in plan.groups] == [("ok", 1, 7)]
    assert [(d.status, d.reason) for d in plan.instances] == [("error", "ungrouped")]
    assert summary(events) == [("ok", "ecs.g7.large"), ("error", "i-low")]
    assert u"改为单独上报 reported alone again" in events[1]["message"]


# -- never blind ------------------------------------------------------------------------------------

def test_no_objects_for_n_runs_is_one_warning_then_ok_when_data_returns():
    run = Run(configs=[{"no_data_runs": 2}])
    assert run(observe([], objects=0))[1] == []
    _, events = run(observe([], objects=0, now=NOW + 2 * MIN))
    assert [(e["status"], e["dimension_tags"]) for e in events] == [
        ("warning", {"check": "spot-alive", "issue": "no-data", "source": "objects"})]
    assert "CO::aliyun\\_ecs" in events[0]["message"] and "2 runs in a row" in events[0]["message"]
    assert run(observe([], objects=0, now=NOW + 4 * MIN))[1] == []             # said once
    assert run(observe([], objects=None, complete=False, now=NOW + 6 * MIN))[1] == []   # unknown is not silence
    _, events = run(observe([instance()], now=NOW + 8 * MIN))
    assert [(e["status"], e["dimension_tags"]["source"]) for e in events] == [("ok", "objects")]


def test_no_spot_instances_where_some_were_seen_before():
    run = Run(configs=[{"no_data_runs": 1}])
    plan, _ = run(observe([instance()]))
    assert plan.remember == {records.SPOT_SEEN_KEY: NOW}                     # written when the run commits
    _, events = run(observe([], objects=12, spot_seen_ms=NOW, now=NOW + 2 * MIN))
    assert [(e["status"], e["dimension_tags"]["source"]) for e in events] == [("warning", "spot")]
    quiet = Run(configs=[{"no_data_runs": 1}])
    assert quiet(observe([], objects=12))[1] == []                          # never seen: nothing went silent
    off = Run(configs=[{"no_data_runs": 0}])
    assert off(observe([], objects=0))[1] == []


# -- actions due: the record the response half plugs into -----------------------------------------

def test_action_rules_plug_in_and_render_shows_their_outcome():
    def drain(decision, observation):
        if decision.status == "critical":
            return [Action("drain_node", decision.instance["instance_id"], due_by_ms=NOW + 5 * MIN,
                           reason="recycling", params={"node": "cn-hangzhou.10.0.0.7"},
                           outcome=ActionOutcome("done", "drained", NOW))]
        return []

    one = recycling()
    plan, events = Run()(observe([one], live=[one]), action_rules=[drain])
    assert [(a.kind, a.instance_id) for a in plan.actions] == [("drain_node", "i-1")]
    assert u"## 自动处置 (Actions)" in events[0]["message"] and "| drain\\_node |" in events[0]["message"]
    assert "done: drained" in events[0]["message"]


# -- collect's declared second phase ----------------------------------------------------------------

def test_follow_ups_look_up_what_the_signals_and_the_state_point_at():
    previous = {"i-old": {"status": "critical", "info": {"region_id": HZ}},
                "i-quiet": {"status": "warning", "info": {"region_id": HZ}}}
    locked_in_objects = recycling("i-lag")
    obs = observe([locked_in_objects, instance(instance_id="i-quiet")], previous=previous)
    obs.events = {"i-notice": {"instance_id": "i-notice", "region_id": HZ}}
    candidates, released = collect.follow_ups(obs)
    assert candidates == {HZ: {"i-old", "i-lag", "i-notice"}} and released == set()


def test_a_direct_listing_releases_only_where_it_was_complete():
    previous = {"i-gone": {"status": "error", "info": {"region_id": HZ}}}
    complete = observe([], previous=previous, source="describe_instances")
    complete.inventory.listed_regions = {HZ}
    assert collect.follow_ups(complete) == ({}, {"i-gone"})
    capped = copy.deepcopy(complete)
    capped.inventory.listed_regions = set()                 # the listing stopped at its page cap
    assert collect.follow_ups(capped) == ({}, set())


# -- the records behave in Func's exec'd scripts as in a package ------------------------------------

def test_records_work_in_a_script_run_by_exec_outside_sys_modules(make_runtime):
    import sys
    runtime = make_runtime()
    _, scope = runtime.load("guance_monitor_spot_alive__records")
    assert scope["__name__"] not in sys.modules
    evaluation = scope["Evaluation"]("i-1", severity="error")
    assert evaluation == scope["Evaluation"]("i-1", severity="error") and evaluation.findings == []
    plan = scope["Plan"](now_ms=NOW)
    assert plan.actions == [] and plan.instances == [] and "Plan(now_ms=" in repr(plan)
    action = scope["Action"]("drain_node", "i-1")
    assert scope["dataclasses"].replace(action, reason="recycling").reason == "recycling"


def test_gather_without_cloud_or_guance_says_what_is_missing_and_keeps_to_its_budget():
    from guance_monitor import retry

    class NoCloud(object):
        unavailable = "no Alibaba Cloud credentials"
        calls, retries, failed_regions = {}, 0, {}

    observation = collect.gather(NoCloud(), None, state.MemoryStore(), options.parse_account({}),
                                 options.Selection([]), lambda instance: True, {}, NOW, retry.Deadline(1.0))
    texts = dict((p.key, p.text) for p in observation.problems)
    assert "no Alibaba Cloud credentials" in texts["cloud"] and "no Guance client" in texts["inventory"]
    assert "same-spec alternatives were not looked up this run" in texts["budget"]
    assert observation.inventory.objects is None and observation.instances == {}
