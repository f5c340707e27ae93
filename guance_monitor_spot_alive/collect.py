"""Collect: the instances, the release signals and the market data of one run. I/O only.

Instances come from one paged DQL query of ``CO::aliyun_ecs`` (the default) or from ECS
``DescribeInstances`` per region (``account["instance_source"] = "describe_instances"``).
Release signals: one ``DescribeInstances(LockReason=Recycling)`` per region involved
(integration mode only: the direct listing is live already) and one CMS
``DescribeSystemEventAttribute`` chain per run. Market data per (region, type, OS): one
``DescribeSpotPriceHistory`` chain for every zone; per region: ``DescribeSpotAdvice`` for up to
10 types per call and one ``DescribeAvailableResource``. Everything market-related is cached in
the state store with a TTL (``PRICE_TTL_MS``, ``ADVICE_TTL_MS``, ``STOCK_TTL_MS``,
``SAME_SPEC_TTL_MS``); price history is refreshed incrementally. Calls run concurrently on
``cloud.pool``; only this thread reads and writes the store.
"""
from concurrent import futures

from guance_monitor import dql
from guance_monitor import redact
from guance_monitor_spot_alive import aliyun
from guance_monitor_spot_alive import inventory
from guance_monitor_spot_alive import options
from guance_monitor_spot_alive import prices

MEASUREMENT = "aliyun_ecs"
COLUMNS = ("name", "InstanceId", "InstanceName", "RegionId", "ZoneId", "InstanceType", "Status",
           "InstanceChargeType", "OperationLocks", "message", "CreationTime", "Cpu", "Memory")
MINUTE_MS = 60 * 1000
PRICE_TTL_MS = 10 * MINUTE_MS
ADVICE_TTL_MS = 60 * MINUTE_MS
STOCK_TTL_MS = 5 * MINUTE_MS
SAME_SPEC_TTL_MS = 60 * MINUTE_MS
EVENT_LOOKBACK_MS = 15 * MINUTE_MS
CACHE_EXPIRES_S = 2 * 24 * 3600            # cache entries nobody reads any more vanish after two days
SAME_SPEC_PER_PAIRS = 10                   # new same-spec look-ups per run: one per 10 (region, type) pairs
SAME_SPEC_MIN = 3                          # ... and at least this many (the rest: later runs, from the cache)


def same_spec_budget(pairs):
    """How many new same-spec look-ups a run may make: extra calls stay within 10 % of the price chains."""
    return max(SAME_SPEC_MIN, pairs // SAME_SPEC_PER_PAIRS)
REGION_CODES = ("InvalidRegionId.NotFound", "InvalidParams.RegionId", "Invalid.RegionId", "InvalidRegionId")


def unknown_region(error):
    return isinstance(error, aliyun.CloudError) and (error.code in REGION_CODES or (
        not error.transient and "RegionId" in str(error.code or "")))


# -- instances --------------------------------------------------------------------------------

def object_query(selection):
    """The DQL of the ``CO::aliyun_ecs`` objects that can hold the selected spot instances."""
    filters = [dql.eq("InstanceChargeType", "PostPaid")]
    regions = selection.regions()
    if regions:
        filters.append(dql.in_list("RegionId", regions))
    patterns = selection.type_patterns()
    if patterns:
        if any("*" in p for p in patterns):
            filters.append(dql.regex("InstanceType", options.type_regex(patterns)))
        else:
            filters.append(dql.in_list("InstanceType", patterns))
    return "CO::%s:(%s) %s" % (dql.ident(MEASUREMENT), ", ".join(dql.ident(c) for c in COLUMNS),
                               dql.conditions(*filters))


def instances_from_guance(client, selection, now_ms, window_s):
    """(instances by ID, problems, error text or None) from ``CO::aliyun_ecs``."""
    query = object_query(selection)
    try:
        rows = client.rows(query, now_ms - int(window_s * 1000), now_ms, paging="rows")
    except dql.DQLError as exc:
        return {}, [], redact.redact("cannot read CO::aliyun_ecs: %s" % exc)
    found = {}
    problems = []
    for row in rows:
        instance, problem = inventory.from_object_row(row)
        if problem:
            problems.append(problem)
            continue
        if instance is None or not instance.get("instance_id"):
            continue
        found[instance["instance_id"]] = instance
    return found, problems, None


def instances_from_ecs(cloud, regions):
    """(instances by ID, {region: CloudError}) from DescribeInstances(InstanceChargeType=PostPaid) per region."""
    jobs = dict((region, cloud.submit(cloud.postpaid_instances, region)) for region in regions)
    found = {}
    errors = {}
    for region, job in jobs.items():
        try:
            for api in job.result():
                instance = inventory.from_api(api)
                if instance.get("instance_id"):
                    instance["region_id"] = instance.get("region_id") or region
                    found[instance["instance_id"]] = instance
        except aliyun.CloudError as exc:
            errors[region] = exc
    return found, errors


# -- release signals ----------------------------------------------------------------------------

def start_signals(cloud, regions, now_ms, with_recycling):
    """Submit the Recycling listings (per region) and the CMS query; returns the futures."""
    jobs = {"recycling": {}, "events": None}
    if with_recycling:
        for region in regions:
            jobs["recycling"][region] = cloud.submit(cloud.recycling_instances, region)
    jobs["events"] = cloud.submit(cloud.interruption_events, now_ms - EVENT_LOOKBACK_MS, now_ms)
    return jobs


def finish_signals(jobs):
    """({region: [api instances]}, {region: CloudError}, [events] or None, CloudError or None)."""
    recycling, errors = {}, {}
    for region, job in jobs["recycling"].items():
        try:
            recycling[region] = job.result()
        except aliyun.CloudError as exc:
            errors[region] = exc
    events, events_error = None, None
    try:
        events = jobs["events"].result()
    except aliyun.CloudError as exc:
        events_error = exc
    return recycling, errors, events, events_error


def lookup(cloud, ids_by_region):
    """({region: [api instances that exist]}, {region: CloudError}) for the given instance IDs."""
    jobs = dict((region, cloud.submit(cloud.instances_by_id, region, sorted(ids)))
                for region, ids in ids_by_region.items() if ids)
    found, errors = {}, {}
    for region, job in jobs.items():
        try:
            found[region] = job.result()
        except aliyun.CloudError as exc:
            errors[region] = exc
    return found, errors


# -- market data --------------------------------------------------------------------------------

class Market(object):
    """Prices, advice and stock of the run, fetched or from the cache; errors per key."""

    def __init__(self):
        self.history = {}        # (region, type, os) -> cache entry
        self.price_errors = {}   # (region, type, os) -> reason
        self.advice = {}         # region -> {type: {zone: figures}}
        self.advice_errors = {}  # (region, type) -> reason
        self.stock = {}          # region -> {"zones", "types"}
        self.stock_errors = {}   # region -> reason
        self.same_spec = {}      # (region, cores, memory) -> [rows]
        self.same_spec_errors = {}
        self.errors = []         # every CloudError seen (for degraded / unknown region notes)
        self.fetched = {"price": 0, "price_cached": 0, "advice": 0, "stock": 0, "same_spec": 0}


def fetch_market(cloud, store, market, pairs, regions, windows, now_ms):
    """Fill ``market`` for ``pairs`` ((region, type, os) -> needed) and ``regions``.

    ``windows``: (region, type, os) -> history window in ms.
    """
    jobs = []
    plans = {}
    if cloud.unavailable:
        for pair in pairs:
            market.price_errors[pair] = cloud.unavailable
        for region in regions:
            market.stock_errors[region] = cloud.unavailable
            for pair in pairs:
                if pair[0] == region:
                    market.advice_errors[(region, pair[1])] = cloud.unavailable
        return
    for pair in pairs:
        if pair in market.history or pair in market.price_errors:
            continue
        cached = store.get(price_key(pair))
        step = prices.plan(cached, now_ms, windows[pair], PRICE_TTL_MS)
        if step is None:
            market.history[pair] = cached
            market.fetched["price_cached"] += 1
            continue
        plans[pair] = (cached, step)
        jobs.append(("price", pair, cloud.submit(cloud.price_history, pair[0], pair[1], pair[2], step[0], step[1])))

    types_by_region = {}
    for region, instance_type, _ in pairs:
        types_by_region.setdefault(region, set()).add(instance_type)
    advice_cache = {}
    for region in regions:
        if region not in market.advice:
            entry = store.get(advice_key(region))
            entry = entry if isinstance(entry, dict) else {}
            advice_cache[region] = entry
            market.advice[region] = {}
            for instance_type, item in (entry.get("types") or {}).items():
                if prices.fresh(item, now_ms, ADVICE_TTL_MS):
                    market.advice[region][instance_type] = item.get("zones") or {}
        wanted = sorted(t for t in types_by_region.get(region, ())
                        if t not in market.advice[region] and (region, t) not in market.advice_errors)
        for start in range(0, len(wanted), aliyun.ADVICE_BATCH):
            batch = wanted[start:start + aliyun.ADVICE_BATCH]
            jobs.append(("advice", (region, tuple(batch)), cloud.submit(cloud.spot_advice, region, batch)))
        if region not in market.stock and region not in market.stock_errors:
            cached = store.get(stock_key(region))
            if prices.fresh(cached, now_ms, STOCK_TTL_MS) and isinstance(cached.get("stock"), dict):
                market.stock[region] = cached["stock"]
            else:
                jobs.append(("stock", region, cloud.submit(cloud.stock, region)))

    futures.wait([job for _, _, job in jobs])
    advice_updates = {}
    for kind, key, job in jobs:
        try:
            result = job.result()
        except aliyun.CloudError as exc:
            market.errors.append(exc)
            if kind == "price":
                market.price_errors[key] = exc.reason
            elif kind == "advice":
                for instance_type in key[1]:
                    market.advice_errors[(key[0], instance_type)] = exc.reason
            else:
                market.stock_errors[key] = exc.reason
            continue
        if kind == "price":
            cached, (start_ms, end_ms, incremental) = plans[key]
            currency, points = result
            entry = prices.merge(cached, points, currency, start_ms, end_ms, now_ms, windows[key], incremental)
            market.history[key] = entry
            market.fetched["price"] += 1
            store.set(price_key(key), entry, expires=CACHE_EXPIRES_S)
        elif kind == "advice":
            region = key[0]
            market.advice.setdefault(region, {}).update(result)
            advice_updates.setdefault(region, {}).update(result)
            market.fetched["advice"] += 1
        else:
            market.stock[key] = result
            market.fetched["stock"] += 1
            store.set(stock_key(key), {"fetched_ms": now_ms, "stock": result}, expires=CACHE_EXPIRES_S)
    for region, update in advice_updates.items():
        entry = advice_cache.get(region) or store.get(advice_key(region)) or {}
        types = dict((t, item) for t, item in (entry.get("types") or {}).items()
                     if prices.fresh(item, now_ms, CACHE_EXPIRES_S * 1000))
        for instance_type, zones in update.items():
            types[instance_type] = {"fetched_ms": now_ms, "zones": zones}
        store.set(advice_key(region), {"types": types}, expires=CACHE_EXPIRES_S)


def fetch_same_spec(cloud, store, market, specs, now_ms, limit=SAME_SPEC_MIN):
    """Same-vCPU-and-memory types for each (region, cores, memory_gib) of ``specs``, in order.

    Cached for ``SAME_SPEC_TTL_MS``; at most ``limit`` are looked up (0: the cache only).
    """
    jobs = []
    for spec in specs:
        if spec in market.same_spec or spec in market.same_spec_errors:
            continue
        cached = store.get(spec_key(spec))
        if prices.fresh(cached, now_ms, SAME_SPEC_TTL_MS) and isinstance(cached.get("rows"), list):
            market.same_spec[spec] = cached["rows"]
            continue
        if cloud.unavailable or len(jobs) >= limit:
            continue
        jobs.append((spec, cloud.submit(cloud.same_spec, spec[0], spec[1], spec[2])))
    futures.wait([job for _, job in jobs])
    for spec, job in jobs:
        try:
            rows = job.result()
        except aliyun.CloudError as exc:
            market.errors.append(exc)
            market.same_spec_errors[spec] = exc.reason
            continue
        market.same_spec[spec] = rows
        market.fetched["same_spec"] += 1
        store.set(spec_key(spec), {"fetched_ms": now_ms, "rows": rows}, expires=CACHE_EXPIRES_S)


def price_key(pair):
    return "price:%s:%s:%s" % pair


def advice_key(region):
    return "advice:%s" % region


def stock_key(region):
    return "stock:%s" % region


def spec_key(spec):
    return "spec:%s:%s:%s" % (spec[0], spec[1], spec[2])
