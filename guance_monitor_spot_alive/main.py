"""阿里云抢占式实例存活巡检 / Alibaba Cloud spot instance survival inspection: one run, four stages.

    main.SpotAliveCheck(configs=configs, filters=[...], account=account)

gather (``collect``, all the I/O) -> evaluate (``rules``) -> decide (``decide``) -> render
(``render``), with the records of ``records`` between them. See ``docs/spot-alive.md``.
"""
import json

from guance_monitor import clock
from guance_monitor import dql
from guance_monitor import logs
from guance_monitor.checker import Checker
from guance_monitor_spot_alive import aliyun
from guance_monitor_spot_alive import collect
from guance_monitor_spot_alive import decide
from guance_monitor_spot_alive import options
from guance_monitor_spot_alive import render
from guance_monitor_spot_alive import rules

log = logs.get(__name__)
INSPECTION = {"name": "spot-alive", "enabled_by_default": True}


class SpotAliveCheck(Checker):
    name = "spot-alive"
    title = "阿里云抢占式实例存活巡检"
    schema = options.SCHEMA
    reminder_seconds = 6 * 3600

    def __init__(self, configs=None, filters=None, account=None):
        Checker.__init__(self, configs, filters)
        self.raw_account = options.register_secrets(account)

    def inspect(self, ctx):
        account, selection, store = options.parse_account(self.raw_account), options.Selection(self.entries), \
            self.store(ctx)
        trackers = decide.Trackers(self.tracker(ctx, "instances"), self.tracker(ctx, "groups"),
                                   self.tracker(ctx, "problems", reminder_seconds=24 * 3600), self.silence(ctx))
        client = dql.DQLClient(ctx.api, store=store.scoped("cache")) if ctx.api is not None else None
        cloud = aliyun.Cloud(account, ctx.deadline, env=ctx.env)
        started = clock.monotonic()
        try:
            observation = collect.gather(cloud, client, store, account, selection, self.keep,
                                         trackers.instances.state(), clock.now_ms(), ctx.deadline)
        finally:
            cloud.close()
        evaluations = rules.evaluate_all(observation, selection)
        plan = decide.plan(evaluations, observation, trackers, selection)
        for key, value in plan.remember.items():
            self.defer(store, key, value)
        events = render.events(plan, observation)
        self.stats = dict(observation.stats, seconds=dict(observation.stats["seconds"], total=round(
            clock.monotonic() - started, 3)))
        log.info("spot-alive: %d spot instances, %d Alibaba Cloud calls (%d retries), %d DQL queries, seconds %s",
                 self.stats["instances"], sum(self.stats["aliyun_calls"].values()), self.stats["aliyun_retries"],
                 self.stats["dql_queries"], json.dumps(self.stats["seconds"], sort_keys=True))
        return events
