# -*- coding: utf-8 -*-
"""阿里云抢占式实例存活巡检 / Alibaba Cloud spot instance survival inspection.

    main.SpotAliveCheck(configs=configs, filters=[...], account=account)

Every run (``*/2 * * * *``, 60 s):

1. **collect** the spot instances (``CO::aliyun_ecs`` by default, or ECS DescribeInstances),
   the live release signals (``DescribeInstances(LockReason=Recycling)`` per region, CMS
   interruption events), a look-up of instances reported before that may be gone, and the
   market of every (region, type): price history in every zone, 30-day advice, stock;
2. **analyse** each instance with ``rules`` (critical / error / warning, what was missing),
   rank zones and advice with ``advice``;
3. **render** one event per instance (or one per (region, type) when more than
   ``group_threshold`` instances are hit) with ``render`` / ``templates``;
4. **report**: return the events to the Runner; alert state (``self.tracker``) decides what is
   new, changed, a reminder or recovered.

See ``docs/spot-alive.md`` for every rule, setting and design choice.
"""
import json

from guance_monitor import clock
from guance_monitor import dql
from guance_monitor import logs
from guance_monitor import redact
from guance_monitor.checker import Checker
from guance_monitor_spot_alive import advice
from guance_monitor_spot_alive import aliyun
from guance_monitor_spot_alive import collect
from guance_monitor_spot_alive import inventory
from guance_monitor_spot_alive import options
from guance_monitor_spot_alive import prices
from guance_monitor_spot_alive import render
from guance_monitor_spot_alive import rules

log = logs.get(__name__)

INSPECTION = {"name": "spot-alive", "enabled_by_default": True}

DAY_MS = 24 * 3600 * 1000
PROBLEM_LIMIT = 10          # instance IDs named per data problem in the problems event
# What the alert state keeps of a firing instance, to report it once it is gone.
STATE_FIELDS = ("region_id", "zone_id", "instance_type", "cpu", "memory_gib", "os_type", "spot_strategy",
                "spot_price_limit", "spot_duration", "creation_time", "interruption_behavior")


class SpotAliveCheck(Checker):
    name = "spot-alive"
    title = u"阿里云抢占式实例存活巡检"
    schema = options.SCHEMA
    reminder_seconds = 6 * 3600
    recover_after_runs = 1

    def __init__(self, configs=None, filters=None, account=None):
        Checker.__init__(self, configs, filters)
        self.raw_account = account
        if isinstance(account, dict):
            for key in ("aliyun_access_key_secret", "aliyun_security_token", "api_key", "api_key_id"):
                if isinstance(account.get(key), str):
                    redact.register_secret(account[key].strip())

    # -- the run -----------------------------------------------------------------------------

    def inspect(self, ctx):
        account = options.parse_account(self.raw_account)
        selection = options.Selection(self.entries)
        now_ms = clock.now_ms()
        cloud = aliyun.Cloud(account, ctx.work_deadline(), env=ctx.env)
        run = _Run(self, ctx, account, selection, cloud, now_ms)
        try:
            return run.execute()
        finally:
            cloud.close()
            self.stats = run.stats()
            log.info("spot-alive: %d spot instances, %d Alibaba Cloud calls (%d retries), %d DQL queries, "
                       "seconds %s", self.stats["instances"], sum(self.stats["aliyun_calls"].values()),
                       self.stats["aliyun_retries"], self.stats["dql_queries"],
                       json.dumps(self.stats["seconds"], sort_keys=True))


class _Run(object):
    """One run of the inspection: collect -> analyse -> render; the stages are the methods below, in order."""

    def __init__(self, checker, ctx, account, selection, cloud, now_ms):
        self.checker = checker
        self.ctx = ctx
        self.account = account
        self.selection = selection
        self.cloud = cloud
        self.now_ms = now_ms
        self.store = checker.store(ctx)
        self.cache = self.store.scoped("cache")
        self.direct = account.instance_source == options.SOURCE_DIRECT
        self.problems = []              # (key, text) of this run's data problems
        self.instance_notes = []        # "id: what is wrong with its data"
        self.dql_queries = 0
        self.tracker = None
        self.previous = {}              # the alert state before this run: instance ID -> entry
        self.found = {}                 # every instance the source listed (before selection)
        self.listed_regions = set()     # direct mode: regions listed completely
        self.instances = {}             # the selected spot instances, by ID
        self.recycling = {}             # region -> instances of the live Recycling listing
        self.recycling_errors = {}
        self.events_by_id = {}          # instance ID -> its latest CMS interruption notice
        self.events_ok = False
        self.live = {}                  # instance ID -> instance from a live ECS answer this run
        self.gone = set()               # instance IDs confirmed released
        self.market = collect.Market()
        self.views = {}
        self.evaluations = {}
        self.firing = {}
        self.healthy = []
        self._figures = {}              # (pair, window) -> zone figures, computed once per run
        self._rows = {}                 # (pair, zone, cpu, window) -> ranked zone rows
        self.timings = {}
        self._mark = clock.monotonic()

    def lap(self, stage):
        now = clock.monotonic()
        self.timings[stage] = round(self.timings.get(stage, 0.0) + now - self._mark, 3)
        self._mark = now

    def stats(self):
        return {"instances": len(self.instances), "aliyun_calls": dict(self.cloud.calls),
                "aliyun_retries": self.cloud.retries, "dql_queries": self.dql_queries,
                "degraded_regions": sorted(self.cloud.failed_regions), "market_fetches": dict(self.market.fetched),
                "seconds": dict(self.timings)}

    def problem(self, key, text):
        if all(k != key for k, _ in self.problems):
            self.problems.append((key, redact.redact(text)))

    def in_scope(self, instance):
        return inventory.is_spot(instance) and self.selection.selects(instance) and \
            self.checker.keep(inventory.for_filters(instance))

    def execute(self):
        self.tracker = self.checker.tracker(self.ctx, "instances")
        self.previous = self.tracker.state()
        if self.cloud.unavailable:
            self.problem("cloud", u"阿里云接口不可用，价格、库存、建议和实时释放检查已跳过 / Alibaba Cloud APIs unavailable: "
                                  u"prices, stock, advice and live release checks skipped: %s" % self.cloud.unavailable)
        self.collect_instances()
        self.lap("instances")
        jobs = self.start_signals()
        self.fetch_market()                     # the market of what is known now, while the signals travel
        self.lap("market")
        self.finish_signals(jobs)
        self.look_up()
        self.lap("signals")
        self.analyse()
        self.lap("analyse")
        events = self.report()
        self.lap("render")
        return events

    # -- collect ----------------------------------------------------------------------------------

    def collect_instances(self):
        if self.direct:
            regions = self.selection.regions() or self.account.regions
            if not regions:
                raise options.AccountError(
                    "account.instance_source is %r but no region is named: set account['regions'] (e.g. "
                    "['cn-hangzhou']) or configs regions" % options.SOURCE_DIRECT)
            self.found, errors = collect.instances_from_ecs(self.cloud, regions)
            self.listed_regions = set(r for r in regions if r not in errors)
            for region, error in sorted(errors.items()):
                self.region_problem(region, error, "DescribeInstances")
        else:
            if self.ctx.api is None:
                found, row_problems, error = {}, [], "no Guance client in this run (debug run outside Func)"
            else:
                client = dql.DQLClient(self.ctx.api)
                found, row_problems, error = collect.instances_from_guance(
                    client, self.selection, self.now_ms, self.account.object_window_s)
                self.dql_queries = client.requests
            self.found = found
            if error:
                self.problem("inventory", error)
            if row_problems:
                self.problem("no-message", u"%d 个 CO::aliyun_ecs 对象数据不可用 / %d CO::aliyun_ecs objects unusable: %s"
                             % (len(row_problems), len(row_problems), _first(row_problems)))
        self.instances = dict((i, inst) for i, inst in self.found.items() if self.in_scope(inst))

    def start_signals(self):
        """Submit the live release checks for every region involved (they run while the market is fetched)."""
        scope = self.selection.regions()
        regions = set(inst["region_id"] for inst in self.instances.values() if inst.get("region_id"))
        regions |= set(scope or [])
        for entry in self.previous.values():
            region = (entry.get("info") or {}).get("region_id")
            if region and (scope is None or region in scope):
                regions.add(region)
        if self.cloud.unavailable:
            return None
        return collect.start_signals(self.cloud, sorted(regions), self.now_ms, with_recycling=not self.direct)

    def finish_signals(self, jobs):
        events = None
        if jobs is not None:
            self.recycling, self.recycling_errors, events, events_error = collect.finish_signals(jobs)
            if events_error is not None:
                self.problem("events", u"云监控中断事件查询失败 / CloudMonitor interruption events unavailable: %s"
                             % events_error.reason)
        for region, error in sorted(self.recycling_errors.items()):
            self.region_problem(region, error, "DescribeInstances(LockReason=Recycling)")
        self.events_ok = events is not None
        for event in events or []:
            known = self.events_by_id.get(event["instance_id"])
            if known is None or (event.get("time_ms") or 0) > (known.get("time_ms") or 0):
                self.events_by_id[event["instance_id"]] = event
        for apis in self.recycling.values():
            self.add_live(apis)

    def add_live(self, apis):
        present = set()
        for api in apis:
            instance = inventory.from_api(api)
            if instance.get("instance_id"):
                self.live[instance["instance_id"]] = instance
                present.add(instance["instance_id"])
        return present

    def look_up(self):
        """Which instances still exist, among those a release signal or the alert state points at."""
        candidates = {}
        scope = self.selection.regions()

        def candidate(region, instance_id):
            candidates.setdefault(region, set()).add(instance_id)

        for key, entry in self.previous.items():
            region = (entry.get("info") or {}).get("region_id")
            if not region or key in self.live:
                continue
            if self.direct:
                if region in self.listed_regions and key not in self.found:
                    self.gone.add(key)          # the direct listing is live and complete
            elif key not in self.instances or (entry.get("status") == "critical" and region in self.recycling):
                candidate(region, key)
        if not self.direct:
            # a release signal the live Recycling listing does not confirm (the integration lags behind)
            for instance_id, instance in self.instances.items():
                if instance.get("region_id") and instance_id not in self.live and (
                        inventory.is_recycling(instance.get("locks")) or instance_id in self.events_by_id):
                    candidate(instance["region_id"], instance_id)
        for instance_id, event in self.events_by_id.items():
            region = event.get("region_id")
            if instance_id in self.live or not region or (scope is not None and region not in scope):
                continue
            if self.direct:
                if region in self.listed_regions and instance_id not in self.found and instance_id in self.previous:
                    self.gone.add(instance_id)
            else:
                candidate(region, instance_id)
        if candidates and not self.cloud.unavailable:
            found, errors = collect.lookup(self.cloud, candidates)
            for region, error in sorted(errors.items()):
                self.region_problem(region, error, "DescribeInstances(InstanceIds)")
            for region, apis in found.items():
                self.gone |= candidates.get(region, set()) - self.add_live(apis)
        for instance_id, instance in self.live.items():
            if instance_id not in self.gone and self.in_scope(instance):
                self.instances[instance_id] = instance
        for instance_id in self.gone:
            self.instances.pop(instance_id, None)
        released = [self.last_known_info(k, self.previous) for k in sorted(self.gone) if k in self.previous]
        self.fetch_market(extra=[r for r in released if r.get("region_id") and r.get("instance_type")])

    # -- analyse ----------------------------------------------------------------------------------

    def signals(self, instance_id, instance):
        region = instance.get("region_id")
        if self.direct:
            live_lock = inventory.is_recycling(instance["locks"]) if instance.get("locks") is not None else None
            object_lock = None
        else:
            if instance_id in self.live:
                live_lock = inventory.is_recycling(self.live[instance_id].get("locks"))
            elif region in self.recycling:
                live_lock = False
            else:
                live_lock = None
            object_lock = inventory.is_recycling(instance["locks"]) if instance.get("locks") is not None else None
        before = (self.previous.get(instance_id) or {}).get("info") or {}
        lock_message = ""
        for lock in (self.live.get(instance_id) or instance).get("locks") or []:
            if lock.get("reason") == inventory.RECYCLING:
                lock_message = lock.get("message") or ""
        return {"live_lock": live_lock, "object_lock": object_lock, "event": self.events_by_id.get(instance_id),
                "events_ok": self.events_ok, "live_source": not self.cloud.unavailable,
                "first_seen_ms": before.get("recycling_since") if "recycling" in (before.get("codes") or []) else None,
                "lock_message": lock_message, "missing": self.live_missing(region)}

    def analyse(self):
        for instance_id, instance in sorted(self.instances.items()):
            settings = self.selection.settings(instance)
            view = self.market_view(instance, settings)
            self.views[instance_id] = view
            evaluation = rules.evaluate(instance, view, self.signals(instance_id, instance), settings, self.now_ms)
            evaluation["missing"] = list(instance.get("notes") or []) + evaluation["missing"]
            self.evaluations[instance_id] = evaluation
            if evaluation["severity"]:
                self.firing[instance_id] = evaluation["severity"]
            elif instance_id in self.previous and rules.recovered(
                    evaluation, (self.previous[instance_id].get("info") or {}).get("codes")):
                self.healthy.append(instance_id)
            for note in instance.get("notes") or []:
                self.instance_notes.append("%s: %s" % (instance_id, note))
        self.healthy.extend(sorted(k for k in self.gone if k in self.previous))
        if self.instance_notes:
            self.problem("notes", u"%d 个实例数据有问题 / %d instances with unusable data: %s" % (
                len(self.instance_notes), len(self.instance_notes), _first(self.instance_notes)))
        self.fetch_alternatives()
        self.note_cloud_errors()

    def fetch_alternatives(self):
        """Same-spec types: looked up for critical / error instances (most urgent first, a bounded number per
        run, cached); warnings show them when the cache has them."""
        specs, cached_only = [], []
        urgent = sorted(self.firing, key=lambda i: _urgency({"instance": self.instances[i],
                                                             "evaluation": self.evaluations[i]}))
        for instance_id in urgent:
            instance = self.instances[instance_id]
            if instance.get("cpu") and instance.get("memory_gib"):
                spec = (instance["region_id"], instance["cpu"], instance["memory_gib"])
                target = specs if self.firing[instance_id] in ("critical", "error") else cached_only
                if spec not in specs and spec not in target:
                    target.append(spec)
        pairs = set(self.pair_key(i) for i in self.instances.values() if i.get("region_id") and i.get("instance_type"))
        collect.fetch_same_spec(self.cloud, self.cache, self.market, specs, self.now_ms,
                                limit=collect.same_spec_budget(len(pairs)))
        collect.fetch_same_spec(self.cloud, self.cache, self.market, [s for s in cached_only if s not in specs],
                                self.now_ms, limit=0)

    # -- alert state, grouping, events ------------------------------------------------------------

    def report(self):
        """Alert decisions for instances and groups, then the events to send."""
        by_pair, thresholds = {}, {}
        for instance_id in self.firing:
            instance = self.instances[instance_id]
            pair = (instance.get("region_id"), instance.get("instance_type"))
            by_pair.setdefault(pair, []).append(instance_id)
            limit = self.selection.settings(instance)["group_threshold"]
            thresholds[pair] = min(thresholds.get(pair, limit), limit)
        grouped = set(pair for pair, ids in by_pair.items() if len(ids) > thresholds[pair])
        info = dict((i, self.alert_info(i, (self.instances[i].get("region_id"),
                                            self.instances[i].get("instance_type")) in grouped))
                    for i in self.firing)
        decisions = self.tracker.update(self.firing, self.healthy, info, now_ms=self.now_ms)

        group_tracker = self.checker.tracker(self.ctx, "groups")
        seen_pairs = set((inst.get("region_id"), inst.get("instance_type")) for inst in self.instances.values())
        for key in self.gone:
            old = (self.previous.get(key) or {}).get("info") or {}
            seen_pairs.add((old.get("region_id"), old.get("instance_type")))
        group_decisions = dict((d.key, d) for d in group_tracker.update(
            dict(("%s|%s" % pair, rules.worst(self.firing[i] for i in by_pair[pair])) for pair in grouped),
            ["%s|%s" % pair for pair in seen_pairs if pair not in grouped],
            dict(("%s|%s" % pair, {"region_id": pair[0], "instance_type": pair[1]}) for pair in grouped),
            now_ms=self.now_ms))

        member_decisions = {}
        for decision in decisions:
            instance = self.instances.get(decision.key) or self.last_known(decision)
            member_decisions.setdefault((instance.get("region_id"), instance.get("instance_type")), []).append(decision)
        events = []
        pairs = set(member_decisions) | set(tuple(k.split("|", 1)) for k in group_decisions)
        for pair in sorted(pairs, key=lambda p: (p[0] or "", p[1] or "")):
            events.extend(self.pair_events(pair, member_decisions.get(pair, []), group_decisions.get("%s|%s" % pair),
                                           pair in grouped, by_pair.get(pair, []), info))
        events.extend(self.problem_events())
        return events

    def alert_info(self, instance_id, grouped):
        """What the alert state keeps about a firing instance (enough to report it once it is gone)."""
        instance = self.instances[instance_id]
        findings = self.evaluations[instance_id]["findings"]
        before = (self.previous.get(instance_id) or {}).get("info") or {}
        recycling = next((f["facts"] for f in findings if f["code"] == "recycling"), None)
        info = {"name": instance.get("instance_name"), "codes": [f["code"] for f in findings], "grouped": grouped,
                "individual_open": bool(before.get("individual_open")),
                "recycling_since": recycling["first_seen_ms"] if recycling else None}
        for name in STATE_FIELDS:
            info[name] = instance.get(name)
        return info

    # -- helpers --------------------------------------------------------------------------------

    def region_problem(self, region, error, what):
        if collect.unknown_region(error):
            named = [i for i, r in self.selection.region_entries() if r == region]
            where = ("configs[%d].regions: " % named[0]) if named else ""
            self.problem("region:%s" % region, u"%s地域 %s 不存在 / unknown region %s (%s: %s)" % (
                where, region, region, what, error.reason))
        elif error.transient:
            self.problem("degraded:%s" % region, u"地域 %s 降级：阿里云接口持续失败，该地域的实时数据缺失 / region %s degraded: "
                         u"Alibaba Cloud kept failing (%s: %s)" % (region, region, what, error.reason))
        else:
            self.problem("error:%s:%s" % (region, what), u"地域 %s：%s 失败 / region %s: %s failed: %s" % (
                region, what, region, what, error.reason))

    def note_cloud_errors(self):
        for error in self.market.errors:
            if error.region:
                self.region_problem(error.region, error, error.action)
        for region, reason in sorted(self.cloud.failed_regions.items()):
            if region != "cms":
                self.problem("degraded:%s" % region, u"地域 %s 降级：阿里云接口持续失败，该地域的价格、库存或实时数据缺失 / region %s "
                             u"degraded: Alibaba Cloud kept failing (%s)" % (region, region, reason))

    def live_missing(self, region):
        if self.cloud.unavailable:
            return u"没有实时释放检查（阿里云接口不可用）/ no live release check (Alibaba Cloud unavailable)"
        error = self.recycling_errors.get(region)
        if error is not None:
            return u"没有实时释放检查：%s / no live release check: %s" % (error.reason, error.reason)
        return None

    def fetch_market(self, extra=()):
        pairs, windows, regions = {}, {}, set()
        for instance in list(self.instances.values()) + list(extra):
            if not instance.get("region_id") or not instance.get("instance_type"):
                continue
            pair = self.pair_key(instance)
            days = self.selection.settings(instance)["history_days"]
            windows[pair] = max(windows.get(pair, 0), days * DAY_MS)
            pairs[pair] = True
            regions.add(instance["region_id"])
        todo = [p for p in pairs if p not in self.market.history and p not in self.market.price_errors]
        new_regions = [r for r in regions if r not in self.market.stock and r not in self.market.stock_errors]
        no_advice = [p for p in pairs if p[1] not in self.market.advice.get(p[0], {})
                     and (p[0], p[1]) not in self.market.advice_errors]
        if todo or new_regions or no_advice:
            collect.fetch_market(self.cloud, self.cache, self.market, list(pairs), sorted(regions), windows,
                                 self.now_ms)

    @staticmethod
    def pair_key(instance):
        return (instance["region_id"], instance["instance_type"], instance.get("os_type") or "linux")

    def market_view(self, instance, settings):
        """What the rules and the report need about the instance's type, region and zones."""
        pair = self.pair_key(instance) if instance.get("region_id") and instance.get("instance_type") else None
        entry = self.market.history.get(pair) if pair else None
        window_ms = settings["history_days"] * DAY_MS
        zones = None
        if entry is not None:
            if (pair, window_ms) not in self._figures:
                self._figures[(pair, window_ms)] = prices.zone_figures(entry, window_ms, self.now_ms)
            zones = self._figures[(pair, window_ms)]
        region = instance.get("region_id")
        advice_by_type = self.market.advice.get(region)
        type_advice = None
        if advice_by_type is not None and instance.get("instance_type") in advice_by_type:
            type_advice = advice_by_type[instance["instance_type"]]
        view = {
            "zones": zones,
            "price_error": self.market.price_errors.get(pair) if pair else "instance type or region unknown",
            "advice": type_advice,
            "advice_error": self.market.advice_errors.get((region, instance.get("instance_type"))),
            "stock": self.market.stock.get(region),
            "stock_error": self.market.stock_errors.get(region),
            "currency": (entry or {}).get("currency") or "CNY",
            "days": settings["history_days"], "region": region, "type": instance.get("instance_type"),
        }
        key = (pair, instance.get("zone_id"), instance.get("cpu"), window_ms)
        if key not in self._rows:
            self._rows[key] = advice.zone_rows(instance, view)
        view["rows"] = self._rows[key]
        return view

    def same_spec(self, instance):
        if not instance.get("cpu") or not instance.get("memory_gib"):
            return []
        return self.market.same_spec.get((instance.get("region_id"), instance["cpu"], instance["memory_gib"])) or []

    def notes_for(self, instance_id, instance):
        notes = list((self.evaluations.get(instance_id) or {}).get("missing") or [])
        region = (instance or {}).get("region_id")
        for key, text in self.problems:
            if key in ("degraded:%s" % region, "cloud", "events", "region:%s" % region):
                if text not in notes:
                    notes.append(text)
        return notes

    # -- events of one (region, type) ---------------------------------------------------------

    def pair_events(self, pair, decisions, group_decision, is_grouped, firing_ids, info):
        """The events of one (region, type): one per instance, or one for the group (see docs/spot-alive.md)."""
        region, instance_type = pair
        gone, views, previous = self.gone, self.views, self.previous
        events = []
        firing_decisions = [d for d in decisions if d.status != "ok"]
        recovered_decisions = [d for d in decisions if d.status == "ok"]

        def recovered_item(decision):
            return {"instance": self.last_known(decision), "gone": decision.key in gone, "change": decision.reason}

        if is_grouped:
            if firing_decisions or recovered_decisions or group_decision is not None:
                changes = dict((d.key, d.reason) for d in firing_decisions)
                members = [{"instance": self.instances[i], "evaluation": self.evaluations[i], "change": changes.get(i)}
                           for i in firing_ids]
                status = rules.worst(self.evaluations[i]["severity"] for i in firing_ids)
                representative = sorted(members, key=_urgency)[0]
                inst = representative["instance"]
                settings = self.selection.settings(inst)
                items = advice.recommend(inst, representative["evaluation"], views[inst["instance_id"]],
                                         self.same_spec(inst), settings)
                notes = self.notes_for(inst["instance_id"], inst)
                events.append(render.group_event(region, instance_type, status, members,
                                                 [recovered_item(d) for d in recovered_decisions],
                                                 views[inst["instance_id"]], items, notes, self.now_ms))
            for decision in recovered_decisions:
                if self.individually_open(decision):
                    events.append(self.recovered_event(decision))
            return events

        forced = []
        if group_decision is not None and group_decision.status == "ok":
            group_members = [d for d in recovered_decisions if ((d.previous or {}).get("info") or {}).get("grouped")]
            events.append(render.group_ok_event(region, instance_type, len(firing_ids),
                                                [recovered_item(d) for d in group_members],
                                                [], self.now_ms, group_decision.since_ms))
            forced = [i for i in firing_ids if not info[i]["individual_open"]]
        changes = dict((d.key, d) for d in firing_decisions)
        for instance_id in sorted(set(changes) | set(forced)):
            decision = changes.get(instance_id)
            instance = self.instances[instance_id]
            evaluation = self.evaluations[instance_id]
            settings = self.selection.settings(instance)
            items = advice.recommend(instance, evaluation, views[instance_id], self.same_spec(instance), settings)
            since = decision.since_ms if decision is not None else (previous.get(instance_id) or {}).get("since_ms")
            events.append(render.instance_event(instance, evaluation, decision.reason if decision else "ungrouped",
                                                since, views[instance_id], items,
                                                self.notes_for(instance_id, instance), self.now_ms))
            # Kept with the alert state (the tracker holds this dict until the runner commits it).
            info[instance_id]["individual_open"] = True
        for decision in recovered_decisions:
            if self.individually_open(decision) or group_decision is None:
                events.append(self.recovered_event(decision))
        return events

    @staticmethod
    def individually_open(decision):
        old = (decision.previous or {}).get("info") or {}
        if "individual_open" in old:
            return bool(old["individual_open"])
        return not old.get("grouped")

    def last_known(self, decision):
        instance = self.instances.get(decision.key)
        if instance is not None:
            return instance
        return self.last_known_info(decision.key, {decision.key: decision.previous or {}})

    @staticmethod
    def last_known_info(key, previous):
        """An instance dict rebuilt from the alert state (for an instance that is gone)."""
        old = (previous.get(key) or {}).get("info") or {}
        out = {"instance_id": key, "instance_name": old.get("name"), "locks": None, "tags": {}, "source": "state"}
        for name in STATE_FIELDS:
            out[name] = old.get(name)
        return out

    def recovered_event(self, decision):
        instance = self.last_known(decision)
        is_gone = decision.key in self.gone
        old = (decision.previous or {}).get("info") or {}
        previous = {"status": (decision.previous or {}).get("status"), "codes": old.get("codes") or []}
        cleared = [render.SHORT.get(c, c) for c in previous["codes"]]
        view = self.views.get(decision.key)
        if view is None and instance.get("region_id") and instance.get("instance_type"):
            settings = options.Selection([]).settings(instance)
            view = self.market_view(instance, settings)
        items = advice.after_release(instance, view or {}, self.same_spec(instance)) if is_gone else []
        return render.recovered_event(instance, previous, is_gone, cleared, decision.since_ms,
                                      self.evaluations.get(decision.key), view or {}, items,
                                      self.notes_for(decision.key, instance) if not is_gone else [], self.now_ms)

    def problem_events(self):
        tracker = self.checker.tracker(self.ctx, "problems", reminder_seconds=24 * 3600)
        before = tracker.state().get("problems") or {}
        texts = [text for _, text in sorted(self.problems)]
        signature = sorted(key for key, _ in self.problems)
        firing = {"problems": "warning"} if self.problems else {}
        decisions = tracker.update(firing, [] if self.problems else ["problems"],
                                   {"problems": {"keys": signature}}, now_ms=self.now_ms)
        out = []
        for decision in decisions:
            if decision.status == "ok":
                out.append(render.problems_ok_event(self.now_ms))
            else:
                out.append(render.problems_event(texts, self.now_ms))
        if not decisions and self.problems and (before.get("info") or {}).get("keys") != signature:
            out.append(render.problems_event(texts, self.now_ms))
        return out


def _urgency(member):
    """Most urgent first: the worst severity, then the earliest release deadline."""
    evaluation = member["evaluation"]
    deadline = min([f["facts"]["deadline_ms"] for f in evaluation["findings"] if f["code"] == "recycling"] or
                   [float("inf")])
    return -rules.SEVERITY[evaluation["severity"]], deadline, member["instance"]["instance_id"]


def _first(texts, limit=PROBLEM_LIMIT):
    return "; ".join(texts[:limit]) + ("; ..." if len(texts) > limit else "")
