"""Collect: everything one run reads, in two declared phases. With ``aliyun``, all of the inspection's I/O.

    observation = gather(cloud, client, store, account, selection, keep, previous, now_ms, deadline)

**Phase 1 -- what is there.**

1. the **inventory**: ``CO::aliyun_ecs`` from Guance (one DQL query; raw rows paged with
   ``search_after``), kept in the state store and read again every ``account["inventory_refresh"]``
   (30 minutes), at once when the last answer was empty or incomplete or the configs changed the
   query -- or, in direct mode, ECS ``DescribeInstances(InstanceChargeType=PostPaid)`` per region,
   every run;
2. the **live release signals**, every run: ``DescribeInstances(LockReason=Recycling)`` per region
   involved (integration mode; the direct listing is live already) and one CloudMonitor
   ``DescribeSystemEventAttribute`` chain, submitted first and read while ...
3. ... the **market** of every (region, type, OS) of the selected instances is fetched: one
   ``DescribeSpotPriceHistory`` chain for every zone, ``DescribeSpotAdvice`` for up to 10 types per
   call and one ``DescribeAvailableResource`` per region, cached with a TTL (``PRICE_TTL_MS``,
   ``ADVICE_TTL_MS``, ``STOCK_TTL_MS``); price history is refreshed incrementally.

**Phase 2 -- what the first answers reveal** (``follow_ups``, a pure function of phase 1 and the
alert state before the run):

1. **look-ups** ``DescribeInstances(InstanceIds)`` of the instances a release signal or the alert
   state points at (a release the live listing does not confirm, instances reported before that the
   inventory no longer shows, instances a notice names): found -> their live data; absent from a
   complete answer -> **released**;
2. the market of what the look-ups added and of the released instances;
3. **same-spec alternatives** (``DescribeSpotAdvice(Cores, Memory)``) for the instances the rules
   rate critical or error on what was read (``rules.evaluate_all``), most urgent first, at most
   ``same_spec_budget`` new look-ups per run, cached ``SAME_SPEC_TTL_MS``; warnings use the cache.

**Complete or said so.** Every listing says whether it is complete (``Inventory.complete``, the
Recycling listing per region, the CloudMonitor events, each price history, each look-up); what is
cut short or malformed becomes a ``Problem`` naming what is missing, and an incomplete view
decides nothing: an instance absent from it is not released, a region whose Recycling listing is
incomplete has no live release state, incomplete price history is no price. Calls run concurrently
on ``cloud.pool``; only this thread reads and writes the store.
"""
import hashlib
from concurrent import futures

from guance_monitor import clock
from guance_monitor import dql
from guance_monitor import redact
from guance_monitor_spot_alive import aliyun
from guance_monitor_spot_alive import inventory
from guance_monitor_spot_alive import options
from guance_monitor_spot_alive import prices
from guance_monitor_spot_alive import rules
from guance_monitor_spot_alive.records import Inventory
from guance_monitor_spot_alive.records import MarketData
from guance_monitor_spot_alive.records import Observation
from guance_monitor_spot_alive.records import Problem
from guance_monitor_spot_alive.records import SPOT_SEEN_KEY
from guance_monitor_spot_alive.records import last_known
from guance_monitor_spot_alive.records import market_key

MEASUREMENT = "aliyun_ecs"
COLUMNS = ("name", "InstanceId", "InstanceName", "RegionId", "ZoneId", "InstanceType", "Status",
           "InstanceChargeType", "OperationLocks", "message", "CreationTime", "Cpu", "Memory")
MINUTE_MS = 60 * 1000
DAY_MS = 24 * 60 * MINUTE_MS
PRICE_TTL_MS = 10 * MINUTE_MS
ADVICE_TTL_MS = 60 * MINUTE_MS
STOCK_TTL_MS = 5 * MINUTE_MS
SAME_SPEC_TTL_MS = 60 * MINUTE_MS
EVENT_LOOKBACK_MS = 15 * MINUTE_MS
CACHE_EXPIRES_S = 2 * 24 * 3600            # cache entries nobody reads any more vanish after two days
INVENTORY_VERSION = 1
SAME_SPEC_PER_PAIRS = 10                   # new same-spec look-ups per run: one per 10 markets
SAME_SPEC_MIN = 3                          # ... and at least this many (the rest: later runs, from the cache)
PROBLEM_LIMIT = 10                         # instance IDs named per data problem
SPARE_S = 5.0                              # phase 2's optional look-ups need this much of the budget left
REGION_CODES = ("InvalidRegionId.NotFound", "InvalidParams.RegionId", "Invalid.RegionId", "InvalidRegionId")


def same_spec_budget(markets):
    """How many new same-spec look-ups a run may make: extra calls stay within 10 % of the price chains."""
    return max(SAME_SPEC_MIN, markets // SAME_SPEC_PER_PAIRS)


def unknown_region(error):
    return isinstance(error, aliyun.CloudError) and (error.code in REGION_CODES or (
        not error.transient and "RegionId" in str(error.code or "")))


# -- the stage ------------------------------------------------------------------------------------

def gather(cloud, client, store, account, selection, keep, previous, now_ms, deadline=None):
    """The run's ``Observation``: phase 1, then the declared phase 2 (see the module docstring).

    ``client``: a ``dql.DQLClient`` (None outside Func); ``store``: the checker's store (caches
    under ``cache:``); ``keep(instance)``: the configs and filter functions; ``previous``: the
    instances' alert state before this run.
    """
    run = _Gathering(cloud, client, store, account, selection, keep, previous, now_ms, deadline)
    run.inventory()
    jobs = run.start_signals()
    run.market()                    # the market of what is known now, while the signals travel
    run.finish_signals(jobs)
    run.lap("signals")
    run.look_up(follow_ups(run.observation, selection.regions()))
    run.market()                    # what the look-ups added, and the released instances
    if deadline is not None and deadline.remaining() is not None and deadline.remaining() < SPARE_S:
        run.problem("budget", u"运行时间预算将尽，本次未查询同规格备选 / the run's time budget is nearly spent: same-spec "
                              u"alternatives were not looked up this run")
    else:
        run.alternatives()
    return run.finish()


def follow_ups(observation, scope=None):
    """{region: {instance IDs}} to look up, and {IDs released} that need no look-up (a complete direct listing).

    Pure: from phase 1's answers and the alert state before the run.
    """
    direct = observation.source == options.SOURCE_DIRECT
    listed = observation.inventory.listed_regions
    candidates, released = {}, set()

    def candidate(region, instance_id):
        candidates.setdefault(region, set()).add(instance_id)

    for key, entry in observation.previous.items():
        region = (entry.get("info") or {}).get("region_id")
        if not region or key in observation.live:
            continue
        if direct:
            if region in listed and key not in observation.inventory.instances:
                released.add(key)           # the direct listing is live and complete there
        elif key not in observation.instances or (entry.get("status") == "critical" and
                                                  region in observation.live_regions):
            candidate(region, key)
    if not direct:
        # a release signal the live Recycling listing does not confirm (the integration lags behind)
        for instance_id, instance in observation.instances.items():
            if instance.get("region_id") and instance_id not in observation.live and (
                    inventory.is_recycling(instance.get("locks")) or instance_id in observation.events):
                candidate(instance["region_id"], instance_id)
    for instance_id, event in observation.events.items():
        region = event.get("region_id")
        if instance_id in observation.live or not region or (scope is not None and region not in scope):
            continue
        if direct:
            if region in listed and instance_id not in observation.inventory.instances and \
                    instance_id in observation.previous:
                released.add(instance_id)
        else:
            candidate(region, instance_id)
    return candidates, released


class _Gathering(object):
    """The steps of ``gather``; every answer goes into ``self.observation``, problems into its list."""

    def __init__(self, cloud, client, store, account, selection, keep, previous, now_ms, deadline):
        self.cloud, self.client, self.account, self.selection = cloud, client, account, selection
        self.store, self.cache = store, store.scoped("cache")
        self.keep, self.deadline = keep, deadline
        self.direct = account.instance_source == options.SOURCE_DIRECT
        self.errors = []            # CloudErrors of the market calls (degraded / unknown region notes)
        self.timings = {}
        self._mark = clock.monotonic()
        seen = store.get(SPOT_SEEN_KEY)
        self.observation = Observation(
            now_ms=now_ms, source=account.instance_source, inventory=Inventory(account.instance_source),
            previous=dict(previous or {}), cloud_unavailable=cloud.unavailable,
            spot_seen_ms=seen if isinstance(seen, int) and not isinstance(seen, bool) else None)
        if cloud.unavailable:
            self.problem("cloud", u"阿里云接口不可用，价格、库存、建议和实时释放检查已跳过 / Alibaba Cloud APIs unavailable: "
                                  u"prices, stock, advice and live release checks skipped: %s" % cloud.unavailable)

    def lap(self, stage):
        now = clock.monotonic()
        self.timings[stage] = round(self.timings.get(stage, 0.0) + now - self._mark, 3)
        self._mark = now

    def problem(self, key, text):
        if all(p.key != key for p in self.observation.problems):
            self.observation.problems.append(Problem(key, redact.redact(text)))

    def selects(self, instance):
        return inventory.is_spot(instance) and self.selection.selects(instance) and \
            self.keep(inventory.for_filters(instance))

    # -- phase 1 ---------------------------------------------------------------------------------

    def inventory(self):
        listing = self._direct_inventory() if self.direct else self._guance_inventory()
        self.observation.inventory = listing
        if listing.objects is not None and not listing.complete:
            self.problem("inventory-incomplete", u"实例列表不完整，未列出的实例不会被判定为已释放 / the instance listing is "
                                                 u"incomplete (%s): instances missing from it are not taken as released"
                         % "; ".join(listing.gaps))
        self.observation.instances = dict((i, inst) for i, inst in listing.instances.items() if self.selects(inst))
        self.lap("instances")

    def _direct_inventory(self):
        regions = self.selection.regions() or self.account.regions
        if not regions:
            raise options.AccountError(
                "account.instance_source is %r but no region is named: set account['regions'] (e.g. "
                "['cn-hangzhou']) or configs regions" % options.SOURCE_DIRECT)
        listing = Inventory(options.SOURCE_DIRECT, objects=0, complete=True, read_ms=self.observation.now_ms)
        jobs = dict((region, self.cloud.submit(self.cloud.postpaid_instances, region)) for region in regions)
        for region, job in sorted(jobs.items()):
            try:
                found = job.result()
            except aliyun.CloudError as exc:
                self.region_problem(region, exc, "DescribeInstances")
                listing.complete = False
                continue
            listing.objects += len(found)
            if found.complete:
                listing.listed_regions.add(region)
            else:
                listing.complete = False
                listing.gaps.extend("%s: %s" % (region, gap) for gap in found.gaps)
            for api in found:
                instance = inventory.from_api(api)
                if instance.get("instance_id") and inventory.is_spot(instance):
                    instance["region_id"] = instance.get("region_id") or region
                    listing.instances[instance["instance_id"]] = instance
        return listing

    def _guance_inventory(self):
        now_ms = self.observation.now_ms
        if self.client is None:
            self.problem("inventory", "no Guance client in this run (debug run outside Func)")
            return Inventory(options.SOURCE_GUANCE)
        query = object_query(self.selection)
        key = "inventory:%s" % hashlib.md5(query.encode("utf-8")).hexdigest()[:16]
        refresh_ms = int(self.account.inventory_refresh_s * 1000)
        cached = self.cache.get(key)
        if _usable(cached, now_ms, refresh_ms):
            rows_problems = cached["problems"]
            listing = Inventory(options.SOURCE_GUANCE, dict((i["instance_id"], i) for i in cached["instances"]),
                                objects=cached["objects"], complete=True, read_ms=cached["read_ms"], cached=True)
        else:
            try:
                rows = self.client.rows(query, now_ms - int(self.account.object_window_s * 1000), now_ms,
                                        paging="rows", deadline=self.deadline)
            except dql.DQLError as exc:
                self.problem("inventory", redact.redact("cannot read CO::aliyun_ecs: %s" % exc))
                return Inventory(options.SOURCE_GUANCE)
            found, rows_problems = {}, []
            for row in rows:
                instance, problem = inventory.from_object_row(row)
                if problem:
                    rows_problems.append(problem)
                elif instance is not None and instance.get("instance_id") and inventory.is_spot(instance):
                    found[instance["instance_id"]] = instance
            listing = Inventory(options.SOURCE_GUANCE, found, objects=len(rows), complete=rows.complete,
                                gaps=list(rows.gaps), read_ms=now_ms)
            if rows.complete and rows and refresh_ms > 0:
                self.cache.set(key, {"v": INVENTORY_VERSION, "read_ms": now_ms, "objects": len(rows),
                                     "instances": list(found.values()), "problems": rows_problems},
                               expires=int(refresh_ms / 1000) + 3600)
        if rows_problems:
            self.problem("no-message", u"%d 个 CO::aliyun_ecs 对象数据不可用 / %d CO::aliyun_ecs objects unusable: %s"
                         % (len(rows_problems), len(rows_problems), _first(rows_problems)))
        return listing

    def start_signals(self):
        """Submit the live release checks of every region involved (they run while the market is fetched)."""
        scope = self.selection.regions()
        regions = set(inst["region_id"] for inst in self.observation.instances.values() if inst.get("region_id"))
        regions |= set(scope or [])
        for entry in self.observation.previous.values():
            region = (entry.get("info") or {}).get("region_id")
            if region and (scope is None or region in scope):
                regions.add(region)
        if self.cloud.unavailable:
            return None
        jobs = {"recycling": {}, "events": None}
        if not self.direct:
            for region in sorted(regions):
                jobs["recycling"][region] = self.cloud.submit(self.cloud.recycling_instances, region)
        now_ms = self.observation.now_ms
        jobs["events"] = self.cloud.submit(self.cloud.interruption_events, now_ms - EVENT_LOOKBACK_MS, now_ms)
        return jobs

    def finish_signals(self, jobs):
        observation = self.observation
        if jobs is None:
            return
        for region, job in sorted(jobs["recycling"].items()):
            what = "DescribeInstances(LockReason=Recycling)"
            try:
                listing = job.result()
            except aliyun.CloudError as exc:
                self.region_problem(region, exc, what)
                observation.live_missing[region] = exc.reason
                continue
            self.add_live(listing)
            if listing.complete:
                observation.live_regions.add(region)
            else:
                reason = u"%s 列表不完整 / listing incomplete: %s" % (what, "; ".join(listing.gaps))
                observation.live_missing[region] = reason
                self.problem("live-incomplete:%s" % region, u"地域 %s：%s" % (region, reason))
        try:
            events = jobs["events"].result()
        except aliyun.CloudError as exc:
            self.problem("events", u"云监控中断事件查询失败 / CloudMonitor interruption events unavailable: %s" % exc.reason)
            return
        observation.events_complete = events.complete
        if not events.complete:
            self.problem("events", u"云监控中断事件不完整 / CloudMonitor interruption events incomplete: %s"
                         % "; ".join(events.gaps))
        for event in events:
            known = observation.events.get(event["instance_id"])
            if known is None or (event.get("time_ms") or 0) > (known.get("time_ms") or 0):
                observation.events[event["instance_id"]] = event

    def add_live(self, apis):
        present = set()
        for api in apis:
            instance = inventory.from_api(api)
            if instance.get("instance_id"):
                self.observation.live[instance["instance_id"]] = instance
                present.add(instance["instance_id"])
        return present

    def market(self):
        observation = self.observation
        known = list(observation.instances.values()) + list(observation.released.values())
        markets, windows, regions = {}, {}, set()
        for instance in known:
            key = market_key(instance)
            if key is None:
                continue
            days = self.selection.settings(instance)["history_days"] if instance.get("source") != "state" \
                else options.DEFAULT_HISTORY_DAYS
            windows[key] = max(windows.get(key, 0), days * DAY_MS)
            markets[key] = True
            regions.add(instance["region_id"])
        data = observation.market
        todo = [m for m in markets if m not in data.history and m not in data.price_errors]
        new_regions = [r for r in regions if r not in data.stock and r not in data.stock_errors]
        no_advice = [m for m in markets if m[1] not in data.advice.get(m[0], {})
                     and (m[0], m[1]) not in data.advice_errors]
        if todo or new_regions or no_advice:
            fetch_market(self.cloud, self.cache, data, list(markets), sorted(regions), windows, observation.now_ms,
                         self.errors, self.problem)
        self.lap("market")

    # -- phase 2 ---------------------------------------------------------------------------------

    def look_up(self, follow):
        candidates, released = follow
        observation = self.observation
        gone = set(released)
        if candidates and not self.cloud.unavailable:
            jobs = dict((region, self.cloud.submit(self.cloud.instances_by_id, region, sorted(ids)))
                        for region, ids in candidates.items() if ids)
            for region, job in sorted(jobs.items()):
                try:
                    listing = job.result()
                except aliyun.CloudError as exc:
                    self.region_problem(region, exc, "DescribeInstances(InstanceIds)")
                    continue
                present = self.add_live(listing)
                if listing.complete:
                    gone |= candidates[region] - present
                else:
                    self.problem("lookup-incomplete:%s" % region, u"地域 %s：DescribeInstances(InstanceIds) 不完整，"
                                 u"无法确认实例是否已释放 / region %s: the look-up of instances was incomplete (%s): "
                                 u"none is taken as released" % (region, region, "; ".join(listing.gaps)))
        for instance_id, instance in observation.live.items():
            if instance_id not in gone and self.selects(instance):
                observation.instances[instance_id] = instance
        for instance_id in gone:
            observation.instances.pop(instance_id, None)
        observation.released = dict((k, last_known(k, observation.previous[k])) for k in sorted(gone)
                                    if k in observation.previous)
        self.lap("look-ups")

    def alternatives(self):
        """Same-spec types: looked up for critical / error instances (most urgent first, a bounded number per
        run, cached); warnings show them when the cache has them."""
        observation = self.observation
        evaluations = rules.evaluate_all(observation, self.selection, with_advice=False)
        instances = observation.instances
        firing = [i for i in instances if evaluations[i].severity]
        specs, cached_only = [], []
        for instance_id in sorted(firing, key=lambda i: rules.urgency(evaluations[i], instances[i])):
            instance = instances[instance_id]
            if instance.get("cpu") and instance.get("memory_gib"):
                spec = (instance["region_id"], instance["cpu"], instance["memory_gib"])
                target = specs if evaluations[instance_id].severity in ("critical", "error") else cached_only
                if spec not in specs and spec not in target:
                    target.append(spec)
        markets = set(market_key(i) for i in instances.values() if market_key(i))
        fetch_same_spec(self.cloud, self.cache, observation.market, specs, observation.now_ms, self.errors,
                        limit=same_spec_budget(len(markets)))
        fetch_same_spec(self.cloud, self.cache, observation.market, [s for s in cached_only if s not in specs],
                        observation.now_ms, self.errors, limit=0)
        self.lap("alternatives")

    def finish(self):
        observation = self.observation
        notes = ["%s: %s" % (i, note) for i, inst in sorted(observation.instances.items())
                 for note in inst.get("notes") or []]
        if notes:
            self.problem("notes", u"%d 个实例数据有问题 / %d instances with unusable data: %s" % (
                len(notes), len(notes), _first(notes)))
        for error in self.errors:
            if error.region:
                self.region_problem(error.region, error, error.action)
        for region, reason in sorted(self.cloud.failed_regions.items()):
            if region != "cms":
                self.problem("degraded:%s" % region, u"地域 %s 降级：阿里云接口持续失败，该地域的价格、库存或实时数据缺失 / region %s "
                             u"degraded: Alibaba Cloud kept failing (%s)" % (region, region, reason))
        observation.stats = {
            "instances": len(observation.instances), "aliyun_calls": dict(self.cloud.calls),
            "aliyun_retries": self.cloud.retries, "dql_queries": self.client.requests if self.client else 0,
            "inventory_cached": observation.inventory.cached, "degraded_regions": sorted(self.cloud.failed_regions),
            "market_fetches": dict(observation.market.fetched), "seconds": dict(self.timings)}
        return observation

    def region_problem(self, region, error, what):
        if unknown_region(error):
            named = [i for i, r in self.selection.region_entries() if r == region]
            where = ("configs[%d].regions: " % named[0]) if named else ""
            self.problem("region:%s" % region, u"%s地域 %s 不存在 / unknown region %s (%s: %s)" % (
                where, region, region, what, error.reason))
        elif error.transient and error.code != aliyun.MALFORMED:
            self.problem("degraded:%s" % region, u"地域 %s 降级：阿里云接口持续失败，该地域的实时数据缺失 / region %s degraded: "
                         u"Alibaba Cloud kept failing (%s: %s)" % (region, region, what, error.reason))
        else:
            self.problem("error:%s:%s" % (region, what), u"地域 %s：%s 失败 / region %s: %s failed: %s" % (
                region, what, region, what, error.reason))


def _usable(cached, now_ms, refresh_ms):
    """True for a cached inventory of this format that is younger than ``refresh_ms``."""
    return (isinstance(cached, dict) and cached.get("v") == INVENTORY_VERSION and refresh_ms > 0
            and isinstance(cached.get("read_ms"), int) and 0 <= now_ms - cached["read_ms"] < refresh_ms
            and isinstance(cached.get("instances"), list) and isinstance(cached.get("problems"), list)
            and isinstance(cached.get("objects"), int)
            and all(isinstance(i, dict) and i.get("instance_id") for i in cached["instances"]))


def _first(texts, limit=PROBLEM_LIMIT):
    return "; ".join(texts[:limit]) + ("; ..." if len(texts) > limit else "")


def object_query(selection):
    """The DQL of the ``CO::aliyun_ecs`` objects that can hold the selected spot instances.

    Narrowed on the server as far as documented forms allow: pay-as-you-go (every spot instance
    is), the configured regions and types (``IN`` lists, or a ``re`...``` regex for wildcards).
    ``SpotStrategy`` is only inside ``message`` (the DescribeInstances JSON), which DQL's documented
    JSON field access does not reach on objects: spot instances are picked here, in the client.
    """
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


# -- market data --------------------------------------------------------------------------------

def fetch_market(cloud, store, market, markets, regions, windows, now_ms, errors, problem):
    """Fill ``market`` (``MarketData``) for ``markets`` ((region, type, OS)) and ``regions``.

    ``windows``: market -> history window in ms; failed calls go to ``errors``; an incomplete
    price history is no price, and ``problem(key, text)`` names it.
    """
    jobs = []
    plans = {}
    if cloud.unavailable:
        for key in markets:
            market.price_errors[key] = cloud.unavailable
        for region in regions:
            market.stock_errors[region] = cloud.unavailable
            for key in markets:
                if key[0] == region:
                    market.advice_errors[(region, key[1])] = cloud.unavailable
        return
    for key in markets:
        if key in market.history or key in market.price_errors:
            continue
        cached = store.get(price_key(key))
        step = prices.plan(cached, now_ms, windows[key], PRICE_TTL_MS)
        if step is None:
            market.history[key] = cached
            market.fetched["price_cached"] += 1
            continue
        plans[key] = (cached, step)
        jobs.append(("price", key, cloud.submit(cloud.price_history, key[0], key[1], key[2], step[0], step[1])))

    types_by_region = {}
    for region, instance_type, _ in markets:
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
            errors.append(exc)
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
            if not points.complete:
                market.price_errors[key] = u"价格历史不完整 / price history incomplete: %s" % "; ".join(points.gaps)
                problem("prices:%s:%s:%s" % key, u"%s 在 %s 的价格历史不完整（%s）/ price history of %s in %s (%s) "
                        u"incomplete: %s" % (key[1], key[0], key[2], key[1], key[0], key[2], "; ".join(points.gaps)))
                continue
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


def fetch_same_spec(cloud, store, market, specs, now_ms, errors, limit=SAME_SPEC_MIN):
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
            errors.append(exc)
            market.same_spec_errors[spec] = exc.reason
            continue
        market.same_spec[spec] = rows
        market.fetched["same_spec"] += 1
        store.set(spec_key(spec), {"fetched_ms": now_ms, "rows": rows}, expires=CACHE_EXPIRES_S)


def price_key(market):
    return "price:%s:%s:%s" % market


def advice_key(region):
    return "advice:%s" % region


def stock_key(region):
    return "stock:%s" % region


def spec_key(spec):
    return "spec:%s:%s:%s" % (spec[0], spec[1], spec[2])
