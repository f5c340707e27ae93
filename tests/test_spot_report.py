"""The rendered reports, compared exactly with tests/golden/spot/*.md.

Regenerate deliberately with ``UPDATE_GOLDEN=1 pytest tests/test_spot_report.py`` and review the diff.
"""
import io
import math
import os
import re

import pytest

from guance_monitor_spot_alive import advice
from guance_monitor_spot_alive import prices
from guance_monitor_spot_alive import render
from guance_monitor_spot_alive import rules
from guance_monitor_spot_alive.records import GroupDecision
from guance_monitor_spot_alive.records import GroupMember
from guance_monitor_spot_alive.records import InstanceDecision

from conftest import HERE
from test_spot_rules import NOW, SETTINGS, instance, signals

GOLDEN = os.path.join(HERE, "golden", "spot")
HOUR = 3600 * 1000
DAY = 24 * HOUR


def check_golden(name, event):
    text = u"# %s\n\nstatus: %s\ndimension_tags: %s\n\n%s" % (
        event["title"], event["status"], sorted(event["dimension_tags"].items()), event["message"])
    path = os.path.join(GOLDEN, name)
    if os.environ.get("UPDATE_GOLDEN"):
        with io.open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    with io.open(path, encoding="utf-8") as handle:
        expected = handle.read()
    assert text == expected, "report %s changed; regenerate with UPDATE_GOLDEN=1 after review" % name


def history():
    points = []
    shapes = {"cn-hangzhou-h": (0.13, 0.25), "cn-hangzhou-i": (0.118, 0.2), "cn-hangzhou-j": (0.09, -0.05)}
    for zone, (base, drift) in sorted(shapes.items()):
        for hour in range(7 * 24):
            at = NOW - 7 * DAY + hour * HOUR
            price = base * (1 + drift * hour / 168.0) + 0.008 * math.sin(hour / 5.0)
            points.append([at, zone, round(price, 4), 0.6])
    return {"v": 1, "fetched_ms": NOW, "start_ms": NOW - 7 * DAY, "end_ms": NOW, "currency": "CNY",
            "points": points}


def market_view(instance_type="ecs.g7.large"):
    view = {
        "zones": prices.zone_figures(history(), 7 * DAY, NOW),
        "advice": {"cn-hangzhou-h": {"rate": 12.5, "desc": "10-100%", "discount": 24},
                   "cn-hangzhou-i": {"rate": 6.0, "desc": "5-10%", "discount": 21},
                   "cn-hangzhou-j": {"rate": 1.5, "desc": "0-3%", "discount": 15}},
        "stock": {"zones": {}, "types": {"cn-hangzhou-h": {instance_type: "WithoutStock"},
                                         "cn-hangzhou-i": {instance_type: "WithStock"},
                                         "cn-hangzhou-j": {instance_type: "ClosedWithStock"}}},
        "currency": "CNY", "days": 7, "region": "cn-hangzhou", "type": instance_type, "price_error": None,
    }
    return view


SAME_SPEC = [{"type": "ecs.g8i.large", "zone": "cn-hangzhou-j", "rate": 0.9, "desc": "0-3%", "discount": 16},
             {"type": "ecs.g6.large", "zone": "cn-hangzhou-j", "rate": 2.0, "desc": "0-3%", "discount": 14}]


def evaluated(inst, sig, settings=None, notes=(), same_spec=SAME_SPEC):
    """An Evaluation as the evaluate stage makes it: findings, market view, advice, notes."""
    view = market_view(inst["instance_type"])
    settings = dict(SETTINGS, **(settings or {}))
    evaluation = rules.evaluate(inst, view, sig, settings, NOW)
    view["rows"] = advice.zone_rows(inst, view)
    evaluation.view, evaluation.settings = view, settings
    evaluation.advice = advice.recommend(inst, evaluation, view, same_spec, settings) if evaluation.severity else []
    evaluation.notes = list(evaluation.missing) + list(notes)
    return evaluation


def firing_event(inst, sig, settings=None, notes=(), change="new"):
    evaluation = evaluated(inst, sig, settings, notes)
    decision = InstanceDecision(inst, evaluation, evaluation.severity, change, since_ms=NOW - 2 * 60 * 1000)
    return render.instance_event(decision, NOW), evaluation, evaluation.view


def critical_node():
    return instance(instance_id="i-bp1recycle01", instance_name="ack-node|web-01", zone_id="cn-hangzhou-h",
                    spot_price_limit=0.15, tags={"ack.aliyun.com": "c-demo", "env": "prod"},
                    private_ips=["10.0.1.23"], interruption_behavior="Terminate", source="describe_instances",
                    locks=[{"reason": "Recycling", "message": "being recycled"}])


def test_golden_critical_kubernetes_node():
    event, _, _ = firing_event(critical_node(), signals(live_lock=True, event={"time_ms": NOW - 90 * 1000},
                                                        lock_message="being recycled"),
                               settings={"discount": 0.25})
    assert event["status"] == "critical"
    assert event["dimension_tags"] == {"region_id": "cn-hangzhou", "zone_id": "cn-hangzhou-h",
                                       "instance_type": "ecs.g7.large", "instance_id": "i-bp1recycle01"}
    check_golden("critical_node.md", event)


def test_golden_critical_without_notice_time():
    inst = instance(instance_id="i-bp1nonotice", instance_name="batch-9", zone_id="cn-hangzhou-j",
                    spot_strategy="SpotAsPriceGo", spot_price_limit=None, source="guance",
                    locks=[{"reason": "Recycling", "message": ""}])
    event, _, _ = firing_event(inst, signals(live_lock=None, object_lock=True, events_ok=False,
                                             first_seen_ms=NOW - 4 * 60 * 1000),
                               notes=["region cn-hangzhou degraded: Alibaba Cloud kept failing"])
    check_golden("critical_no_notice.md", event)


def test_golden_bid_below_market():
    inst = instance(instance_id="i-bp1bidlow02", instance_name="api-02", zone_id="cn-hangzhou-i",
                    spot_price_limit=0.12, tags={"env": "prod"}, source="guance")
    event, evaluation, _ = firing_event(inst, signals())
    assert [f["code"] for f in evaluation.findings] == ["price_below"]
    check_golden("bid_below.md", event)


def test_golden_released_and_recovered():
    gone = {"instance_id": "i-bp1recycle01", "instance_name": "web-01", "region_id": "cn-hangzhou",
            "zone_id": "cn-hangzhou-h", "instance_type": "ecs.g7.large", "cpu": 2, "memory_gib": 8.0,
            "spot_strategy": "SpotWithPriceLimit", "spot_price_limit": 0.15, "creation_time": "2026-11-19T00:00Z",
            "locks": None, "tags": {}, "source": "state"}
    view = market_view()
    view["rows"] = advice.zone_rows(gone, view)
    released = rules.Evaluation("i-bp1recycle01", view=view, released=True,
                                advice=advice.after_release(gone, view, SAME_SPEC))
    event = render.recovered_event(InstanceDecision(gone, released, "ok", "recovered", since_ms=NOW - 6 * 60 * 1000,
                                                    previous_status="critical",
                                                    previous_codes=["recycling", "out_of_stock"], released=True), NOW)
    assert event["status"] == "ok"
    check_golden("released.md", event)

    inst = instance(instance_id="i-bp1bidlow02", instance_name="api-02", zone_id="cn-hangzhou-i",
                    spot_price_limit=0.2)
    evaluation = evaluated(inst, signals())
    assert rules.recovered(evaluation, ["price_below"])
    event = render.recovered_event(InstanceDecision(inst, evaluation, "ok", "recovered", since_ms=NOW - 3 * HOUR,
                                                    previous_status="error", previous_codes=["price_below"]), NOW)
    check_golden("recovered.md", event)


def group_members(count):
    members = []
    for index in range(count):
        inst = instance(instance_id="i-bp1grp%03d" % index, instance_name="node-%d" % index,
                        zone_id="cn-hangzhou-h" if index % 3 else "cn-hangzhou-i", spot_price_limit=0.12)
        sig = signals(live_lock=index % 2 == 0, event={"time_ms": NOW - (index % 4) * 60 * 1000} if index % 2 == 0
                      else None)
        members.append(GroupMember(inst, evaluated(inst, sig), "new" if index < 3 else None))
    return sorted(members, key=lambda m: rules.urgency(m.evaluation, m.instance))


RECOVERED = [(instance(instance_id="i-bp1grpold", instance_name="node-old"), True),
             (instance(instance_id="i-bp1grpfix", instance_name="node-fix"), False)]


def test_golden_group_and_group_ok():
    members = group_members(7)
    rep = members[0]
    assert rep.instance["instance_id"] == "i-bp1grp002"          # critical, the earliest release
    event = render.group_event(GroupDecision("cn-hangzhou", "ecs.g7.large", "critical", "new", members=members,
                                             recovered=RECOVERED, representative=rep.evaluation), NOW)
    assert event["dimension_tags"] == {"region_id": "cn-hangzhou", "instance_type": "ecs.g7.large"}
    check_golden("group.md", event)
    event = render.group_ok_event(GroupDecision("cn-hangzhou", "ecs.g7.large", "ok", "recovered", since_ms=NOW - HOUR,
                                                recovered=RECOVERED, still_firing=2), NOW)
    check_golden("group_ok.md", event)


def test_golden_problems():
    event = render.problems_event([
        u"configs[1].regions: 地域 cn-hangzou 不存在 / unknown region cn-hangzou (DescribeInstances: "
        u"InvalidRegionId.NotFound: The specified RegionId does not exist.)",
        "i-bp1bad: OperationLocks is not valid JSON ([{Recycling)"], NOW)
    assert event["status"] == "warning" and event["dimension_tags"] == {"check": "spot-alive", "issue": "data"}
    check_golden("problems.md", event)


# -- escaping and long tables (what a user sees, beyond the golden files) -----------------------

def test_names_cannot_break_tables_or_markdown():
    inst = critical_node()
    inst["instance_name"] = "evil | name *bold* [link](x)\n# heading"
    inst["tags"] = {"a|b": "<script>", "team": "`x`"}
    event, _, _ = firing_event(inst, signals(live_lock=True))
    name_rows = [line for line in event["message"].splitlines() if line.startswith(u"| 实例名称 Name")]
    # the brackets are escaped, so "(x)" can no longer make a link and stays readable
    assert name_rows == [u"| 实例名称 Name | evil \\| name \\*bold\\* \\[link\\](x) \\# heading |"]
    tag_rows = [line for line in event["message"].splitlines() if line.startswith(u"| 标签 Tags")]
    assert tag_rows == [u"| 标签 Tags | a\\|b=\\<script\\>, team=\\`x\\` |"]
    for line in event["message"].splitlines():
        if "evil" in line and line.startswith("|"):
            assert len(re.findall(r"(?<!\\)\|", line)) == 3, line    # two cells, whatever the name holds
    # titles are shown as markdown too (the demo's reports, notification bots): the name escaped the same way
    assert event["title"] == (u"抢占式实例正在被回收释放 / Spot instance being released: evil \\| name \\*bold\\* "
                              u"\\[link\\](x) \\# heading (i-bp1recycle01) — 最迟释放 / released by "
                              u"2026-11-20 16:05:00 (UTC+8)（另有 3 个原因 / +3 more reasons）")
    assert len(event["title"]) <= 256


def test_long_member_tables_are_cut_with_a_count():
    members = group_members(57)
    event = render.group_event(GroupDecision("cn-hangzhou", "ecs.g7.large", "critical", "new", members=members,
                                             representative=members[0].evaluation), NOW)
    lines = event["message"].splitlines()
    member_lines = [line for line in lines if line.startswith("| i-bp1grp")]
    assert len(member_lines) == render.MEMBER_LIMIT
    assert u"另有 7 行未显示 / 7 more rows not shown" in event["message"]
    assert event["title"] == (u"57 个 ecs.g7.large 抢占式实例正在被回收释放 / 57 ecs.g7.large spot instances being "
                              u"released in cn-hangzhou — 最早释放 / first release at 2026-11-20 16:03:00 (UTC+8)")


@pytest.mark.parametrize("name", sorted(os.listdir(GOLDEN)) if os.path.isdir(GOLDEN) else [])
def test_golden_files_have_the_documented_sections(name):
    with io.open(os.path.join(GOLDEN, name), encoding="utf-8") as handle:
        text = handle.read()
    assert u"## 事件概览 (Overview)" in text
    if name in ("critical_node.md", "critical_no_notice.md", "bid_below.md", "group.md"):
        for heading in (u"## 抢占式实例类型价格", u"## 抢占式实例类型历史价格", u"## 温馨建议 (Advice)"):
            assert heading in text
        assert name == "group.md" or u"## 抢占式实例详情 (Instance details)" in text


# -- what a user meets (issue 9) ------------------------------------------------------------------

def bid_below_event():
    inst = instance(instance_id="i-bp1bidlow02", instance_name="api-02", zone_id="cn-hangzhou-i",
                    spot_price_limit=0.12, source="guance")
    event, _, _ = firing_event(inst, signals())
    return event


def test_same_spec_types_nest_under_their_advice_in_commonmark_and_python_markdown():
    import markdown
    from markdown_it import MarkdownIt
    message = bid_below_event()["message"]
    for html in (MarkdownIt("commonmark").render(message), markdown.markdown(message)):
        segment = html.split(u"分散到相同规格")[1]                  # the 5th advice: spread across same-spec types
        assert "</li>" not in segment.split("<ul>")[0]             # the list is inside that advice's item ...
        nested = segment.split("<ul>")[1].split("</ul>")[0]
        assert segment.split("</ul>")[1].lstrip().startswith("</li>")   # ... and ends with it
        assert nested.count("<li>") == 2 and "<code>ecs.g8i.large</code>" in nested
        assert "<code>ecs.g6.large</code>" in nested


def test_the_history_table_lists_zones_in_the_price_tables_order():
    message = bid_below_event()["message"]

    def zones(section):
        return [line.split(" | ")[0][2:] for line in message.split(section)[1].split("\n## ")[0].splitlines()
                if line.startswith("| cn-hangzhou")]
    assert zones(u"## 抢占式实例类型价格") == zones(u"## 抢占式实例类型历史价格")
    assert zones(u"## 抢占式实例类型价格") == [u"cn-hangzhou-i（当前 current）", "cn-hangzhou-j", "cn-hangzhou-h"]


def test_a_bid_below_the_market_first_says_what_to_do_now_about_the_running_instance():
    event = bid_below_event()
    first = event["message"].split(u"## 温馨建议 (Advice)")[1].strip().splitlines()[0]
    assert first.startswith(u"1. **现在就处理这台正在运行的实例**")
    assert u"Save its data and move traffic off it now" in first
    assert u"a running instance's bid and billing cannot be changed" in first
    assert u"pay-as-you-go, or spot bidding at least **0.164**" in first
    assert event["title"] == u"抢占式实例出价低于市场价 / Spot bid below the market price: api-02 (i-bp1bidlow02)"
