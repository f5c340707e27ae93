"""Each detection rule over synthetic instances, prices, stock and advice (no I/O)."""
import pytest

from guance_monitor import clock
from guance_monitor_spot_alive import rules

NOW = clock.to_ms(clock.parse_time("2026-11-20T08:00:00Z"))
MIN = 60 * 1000


def instance(**overrides):
    base = {"instance_id": "i-1", "instance_name": "web-1", "region_id": "cn-hangzhou", "zone_id": "cn-hangzhou-h",
            "instance_type": "ecs.g7.large", "cpu": 2, "memory_gib": 8.0, "status": "Running",
            "spot_strategy": "SpotWithPriceLimit", "spot_price_limit": 0.15, "spot_duration": 1,
            "creation_time": "2026-11-19T00:00Z", "locks": [], "tags": {}, "notes": []}
    base.update(overrides)
    return base


def market(price=0.10, origin=0.6, category="WithStock", rate=1.5, desc="0-3%", zone="cn-hangzhou-h"):
    zones = {zone: {"latest": price, "origin": origin, "latest_ms": NOW - 60 * MIN, "max": price * 1.2,
                    "min": price * 0.8, "avg": price, "series": [price], "trend": "flat", "change": 0.0}}
    return {"zones": zones, "advice": {zone: {"rate": rate, "desc": desc, "discount": 20}},
            "stock": {"zones": {zone: "WithStock"}, "types": {zone: {"ecs.g7.large": category}}}}


def signals(**overrides):
    base = {"live_lock": False, "object_lock": False, "event": None, "events_ok": True, "live_source": True,
            "first_seen_ms": None, "lock_message": ""}
    base.update(overrides)
    return base


SETTINGS = {"discount": None, "price_margin": 0.1, "history_days": 7, "group_threshold": 5}


def evaluate(inst=None, mkt=None, sig=None, settings=None, now=NOW):
    return rules.evaluate(inst or instance(), mkt or market(), sig or signals(), dict(SETTINGS, **(settings or {})),
                          now)


def codes(result):
    return [f["code"] for f in result.findings]


def test_healthy_instance_fires_nothing_and_is_fully_checked():
    result = evaluate()
    assert result.severity is None and result.findings == [] and result.missing == []
    assert result.checked == set(rules.FAMILIES)
    assert rules.recovered(result, ["price_below", "recycling", "out_of_stock"])


# -- critical: being released ------------------------------------------------------------------

def test_live_recycling_lock_is_critical_with_a_bounded_deadline_when_no_notice_is_known():
    result = evaluate(sig=signals(live_lock=True, first_seen_ms=NOW - 2 * MIN, lock_message="being recycled"))
    assert result.severity == "critical" and codes(result)[0] == "recycling"
    facts = result.findings[0]["facts"]
    assert facts["sources"] == ["live"] and facts["deadline_kind"] == "first_seen"
    assert facts["deadline_ms"] == NOW + 3 * MIN and facts["left_s"] == 180


def test_interruption_event_gives_the_deadline_notice_plus_five_minutes():
    result = evaluate(sig=signals(event={"time_ms": NOW - 90 * 1000}))
    facts = result.findings[0]["facts"]
    assert result.severity == "critical" and facts["sources"] == ["event"]
    assert facts["deadline_kind"] == "notice" and facts["deadline_ms"] == NOW + 210 * 1000
    assert facts["left_s"] == 210


def test_overdue_release_has_negative_time_left():
    facts = evaluate(sig=signals(event={"time_ms": NOW - 7 * MIN})).findings[0]["facts"]
    assert facts["left_s"] == -120


def test_integration_lock_counts_only_without_a_live_answer():
    stale = evaluate(sig=signals(live_lock=False, object_lock=True))
    assert stale.severity is None          # live DescribeInstances says no lock: the object is stale
    only_object = evaluate(sig=signals(live_lock=None, object_lock=True))
    assert only_object.severity == "critical"
    assert only_object.findings[0]["facts"]["sources"] == ["guance"]


def test_no_live_answer_means_release_state_unknown_and_no_recovery():
    result = evaluate(sig=signals(live_lock=None, object_lock=None, missing="no live release check: region down"))
    assert result.severity is None
    assert "recycling" not in result.checked
    assert "no live release check: region down" in result.missing
    assert not rules.recovered(result, ["recycling"])
    assert rules.recovered(result, ["price_below"])


def test_without_any_cloud_access_the_integration_lock_decides():
    result = evaluate(sig=signals(live_lock=None, object_lock=False, live_source=False))
    assert "recycling" in result.checked


# -- error / warning: at risk ------------------------------------------------------------------

def test_bid_below_market_after_protection_is_an_error():
    result = evaluate(instance(spot_price_limit=0.09), market(price=0.10))
    assert result.severity == "error" and codes(result) == ["price_below"]
    facts = result.findings[0]["facts"]
    assert facts["limit"] == 0.09 and facts["price"] == 0.10 and facts["gap"] == pytest.approx(0.1)


def test_bid_within_the_margin_is_a_warning_and_the_margin_is_configurable():
    result = evaluate(instance(spot_price_limit=0.105), market(price=0.10))
    assert result.severity == "warning" and codes(result) == ["price_near"]
    assert result.findings[0]["facts"]["headroom"] == pytest.approx(0.05)
    assert evaluate(instance(spot_price_limit=0.105), market(price=0.10), settings={"price_margin": 0.04}).severity is None


def test_protection_period_suppresses_at_risk_rules():
    young = instance(spot_price_limit=0.05, creation_time="2026-11-20T07:30Z")
    result = evaluate(young, market(price=0.10, category="WithoutStock", desc="10-100%", rate=20))
    assert result.severity is None and result.in_protection
    assert result.protection_end_ms == NOW + 30 * MIN
    longer = instance(spot_price_limit=0.05, creation_time="2026-11-20T05:30Z", spot_duration=3)
    assert evaluate(longer, market(price=0.10)).severity is None
    none = instance(spot_price_limit=0.05, creation_time="2026-11-20T07:59Z", spot_duration=0)
    assert evaluate(none, market(price=0.10)).severity == "error"


def test_unknown_creation_time_is_missing_data_not_a_finding():
    result = evaluate(instance(spot_price_limit=0.05, creation_time=None), market(price=0.10))
    assert result.severity is None
    assert any("CreationTime unknown" in m for m in result.missing)
    assert not rules.recovered(result, ["price_below"])


def test_price_as_you_go_instances_have_no_price_risk():
    result = evaluate(instance(spot_strategy="SpotAsPriceGo", spot_price_limit=None), market(price=0.5))
    assert result.severity is None and "price_limit" in result.checked


def test_out_of_stock_is_an_error_and_closed_with_stock_a_warning():
    assert codes(evaluate(mkt=market(category="WithoutStock"))) == ["out_of_stock"]
    assert evaluate(mkt=market(category="ClosedWithoutStock")).severity == "error"
    low = evaluate(mkt=market(category="ClosedWithStock"))
    assert low.severity == "warning" and codes(low) == ["low_stock"]


def test_sold_out_zone_with_an_empty_list_uses_the_zone_status():
    mkt = market()
    mkt["stock"] = {"zones": {"cn-hangzhou-h": "WithoutStock"}, "types": {"cn-hangzhou-h": {}}}
    assert codes(evaluate(mkt=mkt)) == ["out_of_stock"]


def test_type_not_listed_for_spot_is_missing_data():
    mkt = market()
    mkt["stock"]["types"]["cn-hangzhou-h"] = {"ecs.c7.large": "WithStock"}
    result = evaluate(mkt=mkt)
    assert result.severity is None and "stock" not in result.checked
    assert any("not listed for spot purchase" in m for m in result.missing)


def test_top_interruption_bucket_is_a_warning():
    assert codes(evaluate(mkt=market(rate=12.0, desc="10-100%"))) == ["interruption_high"]
    assert codes(evaluate(mkt=market(rate=10.0, desc=None))) == ["interruption_high"]
    assert evaluate(mkt=market(rate=9.9, desc="5-10%")).severity is None


# -- warning: too expensive --------------------------------------------------------------------

def test_price_above_the_accepted_discount_is_a_warning_whatever_the_protection():
    young = instance(creation_time="2026-11-20T07:50Z", spot_strategy="SpotAsPriceGo", spot_price_limit=None)
    result = evaluate(young, market(price=0.20, origin=0.6), settings={"discount": 0.3})
    assert result.severity == "warning" and codes(result) == ["too_expensive"]
    facts = result.findings[0]["facts"]
    assert facts["share"] == pytest.approx(1 / 3.0) and facts["accepted"] == 0.3
    assert evaluate(young, market(price=0.17, origin=0.6), settings={"discount": 0.3}).severity is None


def test_discount_rule_needs_the_pay_as_you_go_price():
    result = evaluate(mkt=market(price=0.12, origin=None), settings={"discount": 0.1})
    assert result.severity is None and "discount" not in result.checked
    assert any("no pay-as-you-go price" in m for m in result.missing)


# -- several findings, missing data, stopped instances ------------------------------------------

def test_findings_are_ordered_by_severity_and_the_worst_wins():
    result = evaluate(instance(spot_price_limit=0.105), market(price=0.10, category="WithoutStock", rate=15,
                                                                desc="10-100%"),
                      sig=signals(live_lock=True), settings={"discount": 0.1})
    assert result.severity == "critical"
    assert codes(result)[0] == "recycling" and codes(result)[1] == "out_of_stock"
    assert set(codes(result)) == {"recycling", "out_of_stock", "price_near", "interruption_high", "too_expensive"}


def test_missing_market_data_is_named_and_fires_nothing():
    mkt = {"zones": None, "price_error": "DescribeSpotPriceHistory (cn-hangzhou) failed: Throttling.User",
           "advice": None, "advice_error": "region degraded", "stock": None, "stock_error": None}
    result = evaluate(instance(spot_price_limit=0.01), mkt, settings={"discount": 0.1})
    assert result.severity is None
    assert result.missing == ["no spot prices: DescribeSpotPriceHistory (cn-hangzhou) failed: Throttling.User",
                                 "no stock data", "no spot advice: region degraded"]
    assert result.checked == {"recycling"}
    no_zone = market(zone="cn-hangzhou-j")
    result = evaluate(instance(spot_price_limit=0.01), no_zone)
    assert "no spot price of ecs.g7.large in zone cn-hangzhou-h" in result.missing


def test_stopped_instances_skip_price_and_stock_rules():
    result = evaluate(instance(status="Stopped", spot_price_limit=0.01), market(category="WithoutStock"),
                      settings={"discount": 0.01})
    assert result.severity is None and result.checked == set(rules.FAMILIES)
    stopped_recycling = evaluate(instance(status="Stopped"), sig=signals(live_lock=True))
    assert stopped_recycling.severity == "critical"


def test_recovery_needs_the_families_that_fired_before():
    result = evaluate(mkt={"zones": {}, "advice": {}, "stock": None}, settings={})
    assert rules.recovered(result, ["recycling"])
    assert not rules.recovered(result, ["out_of_stock"])
    assert not rules.recovered(evaluate(instance(spot_price_limit=0.01)), ["price_below"])
