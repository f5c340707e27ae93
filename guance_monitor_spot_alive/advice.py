"""What to do about a spot instance: zones ranked best first, and concrete advice. Pure functions.

Zones are ranked (the report's price table and the "move to zone" advice): zones where the type
can be bought first (not ``WithoutStock`` / ``ClosedWithoutStock``), then by the latest spot
price (the same type, so the same order as price per vCPU), then by the 30-day interruption
rate; zones without a price come last.

Advice items are ``{"code", "rank", **facts}``; the templates word them. Codes: ``drain``
(Kubernetes node), ``save_now`` (being released, not a node), ``act_now`` (the bid is below the
market past protection: what to do now about the running instance, whose bid and billing cannot
be changed), ``move_zone``, ``raise_limit``, ``as_price_go``, ``spread_types``, ``stop_behavior``,
``check_replacement`` (released).
"""
import math

from guance_monitor_spot_alive import inventory
from guance_monitor_spot_alive import prices

AVAILABLE_FIRST = {"WithStock": 0, "ClosedWithStock": 1, None: 2, "NotListed": 3, "WithoutStock": 4,
                   "ClosedWithoutStock": 4}
ALTERNATIVES = 5


def zone_rows(instance, market):
    """One row per zone of the region for the instance's type, best first."""
    zones = market.get("zones") or {}
    advice = market.get("advice") or {}
    stock = market.get("stock")
    names = set(zones) | set(advice)
    if stock:
        for zone, types in (stock.get("types") or {}).items():
            if instance.get("instance_type") in types:
                names.add(zone)
    cpu = instance.get("cpu")
    rows = []
    for zone in names:
        figures = zones.get(zone) or {}
        stats = advice.get(zone) or {}
        latest = figures.get("latest")
        origin = figures.get("origin")
        rows.append({
            "zone": zone, "current": zone == instance.get("zone_id"),
            "latest": latest, "origin": origin, "latest_ms": figures.get("latest_ms"),
            "share": latest / origin if latest is not None and origin else None,
            "per_vcpu": latest / cpu if latest is not None and cpu else None,
            "rate": stats.get("rate"), "desc": stats.get("desc"), "avg_discount": stats.get("discount"),
            "stock": prices.stock_of(stock, zone, instance.get("instance_type")) if stock else None,
            "figures": figures,
        })
    rows.sort(key=_zone_key)
    return rows


def _zone_key(row):
    return (0 if row["latest"] is not None else 1,
            AVAILABLE_FIRST.get(row["stock"], 2),
            row["latest"] if row["latest"] is not None else float("inf"),
            row["rate"] if row["rate"] is not None else float("inf"),
            row["zone"])


def buyable(category):
    return category not in ("WithoutStock", "ClosedWithoutStock", "NotListed")


def ceil_price(value, digits=3):
    """Round a price up to ``digits`` decimals (SpotPriceLimit takes at most 3)."""
    factor = 10 ** digits
    return math.ceil(round(value * factor, 6)) / float(factor)


def best_other_zone(instance, rows):
    """The best zone other than the instance's where the type can be bought, or None."""
    for row in rows:
        if not row["current"] and row["latest"] is not None and buyable(row["stock"]) \
                and not prices.top_bucket({"rate": row["rate"], "desc": row["desc"]}):
            return row
    return None


def alternatives(instance, same_spec):
    """Other types with the same vCPUs and memory: one row per type (its best zone), lowest risk first."""
    best = {}
    for row in same_spec or []:
        if row.get("type") == instance.get("instance_type"):
            continue
        key = row["type"]
        rank = (row.get("rate") if row.get("rate") is not None else float("inf"),
                row.get("discount") if row.get("discount") is not None else float("inf"), row.get("zone") or "")
        if key not in best or rank < best[key][0]:
            best[key] = (rank, row)
    ordered = sorted(best.values(), key=lambda item: (item[0], item[1]["type"]))
    return [row for _, row in ordered]


def recommend(instance, evaluation, market, same_spec, settings):
    """Ranked advice items for a firing instance."""
    codes = set(f["code"] for f in evaluation.findings)
    facts = dict((f["code"], f["facts"]) for f in evaluation.findings)
    rows = zone_rows(instance, market)
    current = next((r for r in rows if r["current"]), None)
    items = []
    is_node, why_node = inventory.kubernetes_node(instance)

    if "recycling" in codes:
        left = facts["recycling"].get("left_s")
        if is_node:
            items.append({"code": "drain", "rank": 0, "urgent": True, "node": inventory.node_name(instance),
                          "why": why_node, "left_s": left})
        else:
            items.append({"code": "save_now", "rank": 0, "left_s": left})
    elif is_node and evaluation.severity in ("error", "warning") and codes & {
            "price_below", "out_of_stock", "price_near", "low_stock", "interruption_high"}:
        items.append({"code": "drain", "rank": 6, "urgent": False, "node": inventory.node_name(instance),
                      "why": why_node, "left_s": None})

    if codes & {"price_below", "price_near"}:
        price_facts = facts.get("price_below") or facts.get("price_near")
        margin = settings.get("price_margin", 0.1)
        at_least = ceil_price(price_facts["price"] * (1.0 + margin))
        if "price_below" in codes and "recycling" not in codes:
            items.append({"code": "act_now", "rank": 0, "limit": price_facts["limit"], "price": price_facts["price"],
                          "at_least": at_least, "node": inventory.node_name(instance) if is_node else None})
        week_max = price_facts.get("week_max")
        safe = ceil_price(week_max * (1.0 + margin)) if week_max else None
        origin = price_facts.get("origin")
        items.append({"code": "raise_limit", "rank": 1 if "price_below" in codes else 2,
                      "limit": price_facts["limit"], "price": price_facts["price"], "at_least": at_least,
                      "margin": margin, "safe": safe if safe and safe > at_least else None,
                      "days": settings.get("history_days"), "origin": origin,
                      "over_payg": bool(origin and at_least >= origin)})
    if instance.get("spot_strategy") == "SpotWithPriceLimit" and codes & {"price_below", "price_near", "recycling"}:
        if current and current.get("latest") is not None and current.get("origin"):
            items.append({"code": "as_price_go", "rank": 3 if "recycling" not in codes else 4,
                          "price": current["latest"], "origin": current["origin"], "share": current["share"]})

    other = best_other_zone(instance, rows)
    if other is not None and codes & {"recycling", "price_below", "price_near", "out_of_stock", "low_stock",
                                      "interruption_high", "too_expensive"}:
        saving = None
        if current and current.get("latest") and other.get("latest") is not None:
            saving = (current["latest"] - other["latest"]) / current["latest"]
        better = (saving is not None and saving > 0) or codes & {"recycling", "out_of_stock", "low_stock",
                                                                 "interruption_high"}
        if better:
            items.append({"code": "move_zone", "rank": 2 if codes & {"recycling", "out_of_stock"} else 4,
                          "zone": other["zone"], "price": other["latest"], "saving": saving,
                          "stock": other["stock"], "rate": other["rate"], "desc": other["desc"],
                          "share": other["share"], "current_price": current["latest"] if current else None})

    alts = alternatives(instance, same_spec)[:ALTERNATIVES]
    if alts:
        items.append({"code": "spread_types", "rank": 5, "cpu": instance.get("cpu"),
                      "memory": instance.get("memory_gib"), "types": alts})

    if (instance.get("interruption_behavior") or "Terminate") != "Stop" and evaluation.severity in (
            "critical", "error"):
        items.append({"code": "stop_behavior", "rank": 7, "behavior": instance.get("interruption_behavior")})

    items.sort(key=lambda item: item["rank"])
    return items


def after_release(instance, market, same_spec):
    """Advice for an ok event about a released instance: where a replacement would go."""
    rows = zone_rows(instance, market) if instance.get("instance_type") else []
    best = next((r for r in rows if r["latest"] is not None and buyable(r["stock"])), None)
    items = [{"code": "check_replacement", "rank": 0, "zone": best["zone"] if best else None,
              "price": best["latest"] if best else None, "stock": best["stock"] if best else None,
              "rate": best["rate"] if best else None, "desc": best["desc"] if best else None,
              "share": best["share"] if best else None}]
    alts = alternatives(instance, same_spec)[:ALTERNATIVES]
    if alts:
        items.append({"code": "spread_types", "rank": 1, "cpu": instance.get("cpu"),
                      "memory": instance.get("memory_gib"), "types": alts})
    return items
