"""The market's figures: price history (what to fetch, how cached history is merged, per-zone
figures), a type's stock category in a zone, the top interruption bucket. Pure functions.

The history of one (region, instance type, OS) is fetched with one ``DescribeSpotPriceHistory``
chain for every zone at once and kept in the state store as::

    {"v": 1, "fetched_ms": <when>, "start_ms": <window start covered>, "end_ms": <EndTime of the last fetch>,
     "currency": "CNY", "points": [[timestamp_ms, zone, spot_price, origin_price], ...]}   # by time

``plan`` decides, each run, between using the cache as it is (younger than the TTL), an
incremental fetch (only the part since the last fetch, with a minute of overlap) and a full
fetch (nothing cached, or a longer window wanted). ``merge`` adds fetched points without
duplicates and drops what fell out of the window, keeping each zone's latest price.
"""
from guance_monitor import clock

HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS
MINUTE_MS = 60 * 1000
API_MAX_SPAN_MS = 30 * DAY_MS       # DescribeSpotPriceHistory: StartTime at most 30 days before EndTime
END_LAG_MS = MINUTE_MS              # EndTime = now - 1 minute (an EndTime at or after now may be refused)
OVERLAP_MS = MINUTE_MS
TREND_THRESHOLD = 0.05              # latest vs first price of the window: +-5 % is rising / falling
CACHE_VERSION = 1


def end_time_ms(now_ms):
    """EndTime for a fetch at ``now_ms``: one minute earlier, whole seconds."""
    return (now_ms - END_LAG_MS) // 1000 * 1000


def plan(cached, now_ms, window_ms, ttl_ms):
    """None (the cache is fresh), or ``(start_ms, end_ms, incremental)`` to fetch."""
    end_ms = end_time_ms(now_ms)
    window_start = end_ms - min(window_ms, API_MAX_SPAN_MS)
    if not valid(cached) or cached["start_ms"] > window_start + HOUR_MS:
        return window_start, end_ms, False
    if now_ms - cached["fetched_ms"] < ttl_ms and cached["end_ms"] <= end_ms:
        return None
    start_ms = cached["end_ms"] - OVERLAP_MS
    if end_ms - start_ms > API_MAX_SPAN_MS or start_ms >= end_ms:
        return window_start, end_ms, False
    return start_ms, end_ms, True


def valid(cached):
    return (isinstance(cached, dict) and cached.get("v") == CACHE_VERSION
            and isinstance(cached.get("points"), list)
            and all(isinstance(cached.get(k), (int, float)) for k in ("fetched_ms", "start_ms", "end_ms")))


def merge(cached, fetched_points, currency, start_ms, end_ms, now_ms, window_ms, incremental):
    """The new cache entry: ``fetched_points`` added to ``cached`` (when incremental), pruned to the window."""
    window_start = end_ms - min(window_ms, API_MAX_SPAN_MS)
    points = {}
    if incremental and valid(cached):
        for point in cached["points"]:
            points[(point[0], point[1])] = point
    for point in fetched_points:
        points[(point[0], point[1])] = point
    ordered = sorted(points.values(), key=lambda p: (p[0], p[1]))
    latest = {}
    for point in ordered:
        latest[point[1]] = point
    kept = [p for p in ordered if p[0] >= window_start or latest.get(p[1]) is p]
    return {"v": CACHE_VERSION, "fetched_ms": now_ms,
            "start_ms": window_start if not (incremental and valid(cached)) else min(cached["start_ms"], window_start),
            "end_ms": end_ms, "currency": currency or (cached or {}).get("currency") or "CNY", "points": kept}


_TIMESTAMPS = {}


def timestamp_ms(text):
    """Epoch ms of a price ``Timestamp`` (memoised: every chain of a run repeats the same hours)."""
    value = _TIMESTAMPS.get(text)
    if value is None:
        value = clock.to_ms(clock.parse_time(text))
        if len(_TIMESTAMPS) > 100000:
            _TIMESTAMPS.clear()
        _TIMESTAMPS[text] = value
    return value


def point_from_api(item):
    """``[timestamp_ms, zone, spot, origin]`` from a ``SpotPriceType`` dict; None when unusable."""
    try:
        ts = timestamp_ms(item.get("Timestamp"))
        spot = float(item.get("SpotPrice"))
    except (TypeError, ValueError):
        return None
    origin = item.get("OriginPrice")
    try:
        origin = float(origin) if origin not in (None, "") else None
    except (TypeError, ValueError):
        origin = None
    zone = item.get("ZoneId")
    if not zone or spot != spot or spot < 0:
        return None
    return [ts, zone, spot, origin]


def zone_figures(entry, window_ms, now_ms):
    """{zone: {latest, latest_ms, origin, min, avg, max, first, change, trend, series}} over the window."""
    if not valid(entry):
        return {}
    window_start = end_time_ms(now_ms) - min(window_ms, API_MAX_SPAN_MS)
    by_zone = {}
    for ts, zone, spot, origin in entry["points"]:
        by_zone.setdefault(zone, []).append((ts, spot, origin))
    out = {}
    for zone, rows in by_zone.items():
        rows.sort(key=lambda r: r[0])
        latest_ts, latest, origin = rows[-1]
        if origin is None:
            origin = next((o for _, _, o in reversed(rows) if o), None)
        in_window = [r for r in rows if r[0] >= window_start] or [rows[-1]]
        series = [r[1] for r in in_window]
        first = series[0]
        change = (latest - first) / first if first else None
        if change is None or abs(change) < TREND_THRESHOLD:
            trend = "flat"
        else:
            trend = "rising" if change > 0 else "falling"
        out[zone] = {
            "latest": latest, "latest_ms": latest_ts, "origin": origin,
            "min": min(series), "max": max(series), "avg": sum(series) / len(series),
            "first": first, "change": change, "trend": trend, "series": series, "points": len(series),
        }
    return out


def fresh(entry, now_ms, ttl_ms):
    """True when a cached ``{"fetched_ms": ...}`` entry is younger than ``ttl_ms``."""
    return isinstance(entry, dict) and isinstance(entry.get("fetched_ms"), (int, float)) \
        and 0 <= now_ms - entry["fetched_ms"] < ttl_ms


# -- stock and interruption -----------------------------------------------------------------------

TOP_BUCKET = "10-100%"
TOP_BUCKET_RATE = 10.0
SOLD_OUT = ("WithoutStock", "ClosedWithoutStock")
LOW_STOCK = ("ClosedWithStock",)


def stock_of(stock, zone, instance_type):
    """The stock category of a type in a zone: a StatusCategory, ``NotListed``, or None (unknown)."""
    if not stock:
        return None
    types = (stock.get("types") or {}).get(zone)
    if types is None:
        return "NotListed" if stock.get("zones") is not None else None
    if instance_type in types:
        return types[instance_type]
    if not types:                           # a sold-out zone can come back with an empty list
        return (stock.get("zones") or {}).get(zone) or "NotListed"
    return "NotListed"


def top_bucket(figures):
    if not figures:
        return False
    if figures.get("desc") == TOP_BUCKET:
        return True
    rate = figures.get("rate")
    return rate is not None and rate >= TOP_BUCKET_RATE
