"""Zones ranked best first and concrete, ranked advice (no I/O)."""
import pytest

from guance_monitor_spot_alive import advice
from guance_monitor_spot_alive import rules

from test_spot_rules import NOW, instance, signals, SETTINGS


def zone(price, origin=0.6):
    return {"latest": price, "origin": origin, "latest_ms": NOW, "max": price * 1.1, "min": price * 0.9,
            "avg": price, "series": [price], "trend": "flat", "change": 0.0}


def three_zones(stock_h="WithStock", stock_j="WithStock"):
    return {
        "zones": {"h": zone(0.16), "i": zone(0.14), "j": zone(0.09)},
        "advice": {"h": {"rate": 12.0, "desc": "10-100%", "discount": 24}, "i": {"rate": 6.0, "desc": "5-10%"},
                   "j": {"rate": 1.5, "desc": "0-3%", "discount": 15}},
        "stock": {"zones": {}, "types": {"h": {"ecs.g7.large": stock_h}, "i": {"ecs.g7.large": "WithStock"},
                                         "j": {"ecs.g7.large": stock_j}, "k": {"ecs.g7.large": "WithStock"}}},
    }


def test_zones_best_first_buyable_before_cheap_sold_out():
    rows = advice.zone_rows(instance(zone_id="h"), three_zones(stock_j="WithoutStock"))
    assert [r["zone"] for r in rows] == ["i", "h", "j", "k"]       # j is cheapest but sold out; k has no price
    current = rows[1]
    assert current["current"] and current["share"] == pytest.approx(0.16 / 0.6)
    assert current["per_vcpu"] == pytest.approx(0.08) and current["rate"] == 12.0
    assert rows[3]["latest"] is None and rows[3]["stock"] == "WithStock"


def test_ceil_price_rounds_up_to_three_decimals():
    assert advice.ceil_price(0.1584) == 0.159 and advice.ceil_price(0.159) == 0.159
    assert advice.ceil_price(0.15400000001) == 0.154


def evaluate(inst, market, **sig):
    return rules.evaluate(inst, market, signals(**sig), SETTINGS, NOW)


def test_bid_below_market_advice_is_ranked_with_numbers():
    inst = instance(zone_id="i", spot_price_limit=0.12)
    market = three_zones()
    same_spec = [{"type": "ecs.g6.large", "zone": "j", "rate": 2.0, "desc": "0-3%", "discount": 14},
                 {"type": "ecs.g6.large", "zone": "h", "rate": 4.0, "desc": "3-5%", "discount": 20},
                 {"type": "ecs.g8i.large", "zone": "j", "rate": 0.9, "desc": "0-3%", "discount": 16},
                 {"type": "ecs.g7.large", "zone": "j", "rate": 1.5, "desc": "0-3%", "discount": 15}]
    items = advice.recommend(inst, evaluate(inst, market), market, same_spec, SETTINGS)
    # first what to do now about the running instance (its bid cannot be raised), then for its replacement
    assert [a["code"] for a in items] == ["act_now", "raise_limit", "as_price_go", "move_zone", "spread_types",
                                          "stop_behavior"]
    assert items[0] == {"code": "act_now", "rank": 0, "limit": 0.12, "price": 0.14, "at_least": 0.154, "node": None}
    items = items[1:]
    raise_limit = items[0]
    assert raise_limit["at_least"] == 0.154 and raise_limit["price"] == 0.14      # 0.14 * 1.1 rounded up
    assert raise_limit["safe"] == 0.17 and not raise_limit["over_payg"]          # 7-day max 0.154 * 1.1
    move = items[2]
    assert move["zone"] == "j" and move["saving"] == pytest.approx(1 - 0.09 / 0.14) and move["rate"] == 1.5
    assert [t["type"] for t in items[3]["types"]] == ["ecs.g8i.large", "ecs.g6.large"]
    assert items[3]["types"][1]["zone"] == "j"                                  # best zone per type


def test_recycling_kubernetes_node_is_drained_first():
    inst = instance(zone_id="h", tags={"kubernetes.io/cluster/c-1": "owned"}, private_ips=["10.0.0.9"],
                    interruption_behavior="Stop", spot_price_limit=0.5)
    market = three_zones(stock_h="WithoutStock")
    evaluation = evaluate(inst, market, event={"time_ms": NOW - 60 * 1000})
    items = advice.recommend(inst, evaluation, market, [], SETTINGS)
    assert items[0] == {"code": "drain", "rank": 0, "urgent": True, "node": "cn-hangzhou.10.0.0.9",
                        "why": "tag kubernetes.io/cluster/c-1=owned", "left_s": 240.0}
    assert [a["code"] for a in items] == ["drain", "move_zone", "as_price_go"]  # it already stops: no Stop advice
    assert items[1]["zone"] == "j" and items[2]["share"] == pytest.approx(0.16 / 0.6)


def test_recycling_plain_instance_saves_data_now():
    inst = instance(zone_id="j")
    market = three_zones()
    items = advice.recommend(inst, evaluate(inst, market, live_lock=True), market, [], SETTINGS)
    assert items[0]["code"] == "save_now" and items[0]["left_s"] == 300
    # j is already the best zone: the next best is i, more expensive, but worth it when j is reclaiming
    move = [a for a in items if a["code"] == "move_zone"][0]
    assert move["zone"] == "i" and move["saving"] < 0


def test_too_expensive_only_suggests_a_cheaper_zone():
    inst = instance(zone_id="h", spot_strategy="SpotAsPriceGo", spot_price_limit=None)
    market = three_zones()
    market["advice"]["h"] = {"rate": 2.0, "desc": "0-3%"}
    evaluation = rules.evaluate(inst, market, signals(), dict(SETTINGS, discount=0.2), NOW)
    assert [f["code"] for f in evaluation.findings] == ["too_expensive"]
    items = advice.recommend(inst, evaluation, market, [], SETTINGS)
    assert [a["code"] for a in items] == ["move_zone"] and items[0]["zone"] == "j"


def test_raising_above_pay_as_you_go_says_so():
    inst = instance(zone_id="j", spot_price_limit=0.5)
    market = three_zones()
    market["zones"]["j"] = zone(0.58)
    items = advice.recommend(inst, evaluate(inst, market), market, [], SETTINGS)
    raise_limit = [a for a in items if a["code"] == "raise_limit"][0]
    assert raise_limit["over_payg"] and raise_limit["at_least"] == 0.638


def test_after_release_points_at_the_best_zone():
    items = advice.after_release(instance(zone_id="h"), three_zones(), [])
    assert items == [{"code": "check_replacement", "rank": 0, "zone": "j", "price": 0.09, "stock": "WithStock",
                      "rate": 1.5, "desc": "0-3%", "share": pytest.approx(0.15)}]
    assert advice.after_release(instance(instance_type=None), {}, [])[0]["zone"] is None
