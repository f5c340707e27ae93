"""Instances from both sources, price-history caching and per-zone figures (no I/O)."""
import json

import pytest

from guance_monitor import clock
from guance_monitor_spot_alive import inventory
from guance_monitor_spot_alive import prices

NOW = clock.to_ms(clock.parse_time("2026-11-20T08:00:00Z"))
HOUR = 3600 * 1000
DAY = 24 * HOUR


def api_instance(**overrides):
    base = {"InstanceId": "i-1", "InstanceName": "web-1", "RegionId": "cn-hangzhou", "ZoneId": "cn-hangzhou-h",
            "InstanceType": "ecs.g7.large", "Cpu": 2, "Memory": 8192, "Status": "Running",
            "InstanceChargeType": "PostPaid", "SpotStrategy": "SpotWithPriceLimit", "SpotPriceLimit": 0.15,
            "SpotDuration": 1, "CreationTime": "2026-11-19T00:00Z", "OSType": "linux",
            "OperationLocks": {"LockReason": [{"LockReason": "Recycling", "LockMsg": "reclaiming"}]},
            "VpcAttributes": {"PrivateIpAddress": {"IpAddress": ["10.0.0.7"]}},
            "Tags": {"Tag": [{"TagKey": "ack.aliyun.com", "TagValue": "c-1"}]}}
    base.update(overrides)
    return base


def test_instance_from_describe_instances():
    inst = inventory.from_api(api_instance())
    assert inst["instance_type_family"] == "ecs.g7" and inst["memory_gib"] == 8.0 and inst["cpu"] == 2
    assert inst["locks"] == [{"reason": "Recycling", "message": "reclaiming"}]
    assert inventory.is_recycling(inst["locks"]) and inventory.is_spot(inst)
    assert inst["tags"] == {"ack.aliyun.com": "c-1"} and inst["private_ips"] == ["10.0.0.7"]
    assert inventory.kubernetes_node(inst) == (True, "tag ack.aliyun.com=c-1")
    assert inventory.node_name(inst) == "cn-hangzhou.10.0.0.7"
    not_spot = inventory.from_api(api_instance(SpotStrategy="NoSpot", SpotPriceLimit=0.0))
    assert not inventory.is_spot(not_spot) and not_spot["spot_price_limit"] is None
    assert inventory.kubernetes_node(inventory.from_api(api_instance(Tags={}, InstanceName="db-1"))) == (False, None)


@pytest.mark.parametrize("value, locks", [
    (None, []), ("", []), ("[]", []), ([], []),
    ('[{"LockReason": "Recycling", "LockMsg": "x"}]', [{"reason": "Recycling", "message": "x"}]),
    ({"LockReason": [{"LockReason": "financial"}]}, [{"reason": "financial", "message": ""}]),
    ('{"LockReason": "Recycling"}', [{"reason": "Recycling", "message": ""}]),
    (["Recycling"], [{"reason": "Recycling", "message": ""}]),
])
def test_operation_locks_shapes(value, locks):
    assert inventory.parse_locks(value) == (locks, None)


@pytest.mark.parametrize("value, problem", [
    ("[{Recycling", "OperationLocks is not valid JSON ([{Recycling)"),
    ('{"Locks": []}', "OperationLocks has no LockReason list"),
    ("42", "OperationLocks is neither a list nor an object (42)"),
    ('[{"Reason": 1}]', "OperationLocks entry without a LockReason"),
])
def test_malformed_operation_locks_are_a_problem_not_a_crash(value, problem):
    locks, text = inventory.parse_locks(value)
    assert locks is None and text.startswith(problem)


def co_row(**overrides):
    api = api_instance(OperationLocks={"LockReason": []})
    row = {"name": "i-1", "InstanceId": "i-1", "RegionId": "cn-hangzhou", "ZoneId": "cn-hangzhou-h",
           "InstanceType": "ecs.g7.large", "Status": "Running", "InstanceChargeType": "PostPaid",
           "OperationLocks": '[{"LockReason": "Recycling", "LockMsg": "seen by the integration"}]',
           "message": json.dumps(api)}
    row.update(overrides)
    return row


def test_instance_from_the_integration_object_uses_its_lock_field():
    inst, problem = inventory.from_object_row(co_row())
    assert problem is None and inst["source"] == "guance"
    assert inst["locks"] == [{"reason": "Recycling", "message": "seen by the integration"}]
    assert inst["spot_strategy"] == "SpotWithPriceLimit" and inst["spot_price_limit"] == 0.15


def test_object_fields_fill_what_the_message_lacks():
    api = api_instance()
    for key in ("ZoneId", "Status", "CreationTime"):
        api.pop(key)
    inst, _ = inventory.from_object_row(co_row(message=json.dumps(api), OperationLocks=None,
                                               CreationTime="2026-11-18T00:00Z"))
    assert inst["zone_id"] == "cn-hangzhou-h" and inst["status"] == "Running"
    assert inst["creation_time"] == "2026-11-18T00:00Z"
    assert inst["locks"] == [{"reason": "Recycling", "message": "reclaiming"}]   # the message's own


def test_object_without_message_or_with_bad_message_is_named():
    inst, problem = inventory.from_object_row(co_row(message=None))
    assert inst is None and problem == ("CO::aliyun_ecs object i-1 has no `message` field (the DescribeInstances "
                                        "JSON): cannot tell whether it is a spot instance")
    inst, problem = inventory.from_object_row(co_row(message="{not json"))
    assert inst is None and problem.startswith("CO::aliyun_ecs object i-1: `message` is not valid JSON")


def test_malformed_lock_field_becomes_a_note():
    inst, problem = inventory.from_object_row(co_row(OperationLocks="[{Recycling"))
    assert problem is None and inst["locks"] is None
    assert inst["notes"] == ["OperationLocks is not valid JSON ([{Recycling)"]


def test_filters_get_a_copy_without_notes():
    inst = inventory.from_api(api_instance())
    copy = inventory.for_filters(inst)
    copy["tags"]["x"] = "y"
    assert "notes" not in copy and "x" not in inst["tags"]


# -- price history -------------------------------------------------------------------------------

def points(start, end, zones=("a", "b"), step=HOUR, price=0.1):
    out = []
    at = start
    while at <= end:
        for index, zone in enumerate(zones):
            out.append([at, zone, price + index / 100.0, 0.6])
        at += step
    return out


def test_plan_full_then_cached_then_incremental():
    window = 7 * DAY
    start, end, incremental = prices.plan(None, NOW, window, 10 * 60 * 1000)
    assert (end, start, incremental) == (NOW - 60 * 1000, NOW - 60 * 1000 - window, False)
    entry = prices.merge(None, points(start, end), "CNY", start, end, NOW, window, False)
    assert prices.plan(entry, NOW + 5 * 60 * 1000, window, 10 * 60 * 1000) is None
    later = NOW + 11 * 60 * 1000
    start2, end2, incremental2 = prices.plan(entry, later, window, 10 * 60 * 1000)
    assert incremental2 and start2 == end - 60 * 1000 and end2 == later - 60 * 1000
    longer = prices.plan(entry, later, 14 * DAY, 10 * 60 * 1000)
    assert longer[2] is False                              # a longer window than cached: full fetch
    assert prices.plan({"v": 0}, NOW, window, 1)[2] is False


def test_merge_dedupes_prunes_and_keeps_each_zones_latest_price():
    window = DAY
    first = points(NOW - 2 * DAY, NOW - HOUR, zones=("a",)) + [[NOW - 3 * DAY, "old-zone", 0.3, 0.6]]
    entry = prices.merge(None, first, "CNY", NOW - DAY, NOW - 60000, NOW, window, False)
    kept = entry["points"]
    assert [p for p in kept if p[1] == "old-zone"] == [[NOW - 3 * DAY, "old-zone", 0.3, 0.6]]
    assert min(p[0] for p in kept if p[1] == "a") == NOW - DAY
    more = [[NOW - HOUR, "a", 0.2, 0.6], [NOW, "a", 0.25, 0.6]]         # one overlapping, one new
    merged = prices.merge(entry, more, None, NOW - HOUR - 60000, NOW + 60000, NOW + 120000, window, True)
    at_hour = [p for p in merged["points"] if p[0] == NOW - HOUR and p[1] == "a"]
    assert at_hour == [[NOW - HOUR, "a", 0.2, 0.6]] and merged["points"][-1] == [NOW, "a", 0.25, 0.6]
    assert merged["currency"] == "CNY" and merged["fetched_ms"] == NOW + 120000


def test_zone_figures_and_trend():
    series = [[NOW - (10 - i) * HOUR, "a", 0.10 + i * 0.01, 0.6] for i in range(10)]
    series += [[NOW - 5 * HOUR, "b", 0.2, 0.6], [NOW - 2 * HOUR, "b", 0.201, None]]
    entry = {"v": 1, "fetched_ms": NOW, "start_ms": NOW - DAY, "end_ms": NOW, "currency": "CNY", "points": series}
    figures = prices.zone_figures(entry, DAY, NOW)
    a = figures["a"]
    assert a["latest"] == pytest.approx(0.19) and a["min"] == pytest.approx(0.10) and a["max"] == pytest.approx(0.19)
    assert a["avg"] == pytest.approx(0.145) and a["trend"] == "rising" and a["change"] == pytest.approx(0.9)
    assert figures["b"]["trend"] == "flat" and figures["b"]["origin"] == 0.6   # PAYG from an earlier point
    falling = dict(entry, points=[[NOW - 3 * HOUR, "c", 0.2, 0.6], [NOW - HOUR, "c", 0.1, 0.6]])
    assert prices.zone_figures(falling, DAY, NOW)["c"]["trend"] == "falling"
    assert prices.zone_figures(None, DAY, NOW) == {}


def test_price_points_from_the_api():
    good = {"ZoneId": "a", "SpotPrice": 0.1, "OriginPrice": 0.6, "Timestamp": "2026-11-20T07:00:00Z"}
    assert prices.point_from_api(good) == [NOW - HOUR, "a", 0.1, 0.6]
    assert prices.point_from_api(dict(good, SpotPrice="x")) is None
    assert prices.point_from_api(dict(good, Timestamp="yesterday")) is None
    assert prices.point_from_api(dict(good, OriginPrice=None))[3] is None
