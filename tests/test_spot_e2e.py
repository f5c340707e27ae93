"""End to end: the deployed startup script, run by the local Func runtime against the sandbox.

The startup script is the example deployed as the script market does
(``market.deploy(example, sandbox_values(sandbox))``), run at each scenario time with the clock frozen there.
"""
import copy
import io
import json
import os

import pytest

from guance_monitor import clock
from guance_monitor_local import demo
from guance_monitor_local import func_runtime
from guance_monitor_local import market

from conftest import HERE

SCENARIOS = os.path.join(HERE, "scenarios", "spot")
ROOT = os.path.dirname(HERE)
EXAMPLE = os.path.join(ROOT, "guance_monitor_spot_alive", "example.py")
STARTUP_ID = "startup__guance_monitor_spot_alive"
HZ = "cn-hangzhou"
RECYCLED, BID_LOW, HEALTHY, PRICEY, PAYG = ("i-bp1recycle01", "i-bp1bidlow02", "i-bp1healthy3", "i-bp1pricey04",
                                            "i-bp1paygo05")


def scenario(name="hangzhou.json"):
    with io.open(os.path.join(SCENARIOS, name), encoding="utf-8") as handle:
        return json.load(handle)


def example_source():
    with io.open(EXAMPLE, encoding="utf-8") as handle:
        return handle.read()


def startup_source(sandbox, account_extra=None, filters=None, prelude=""):
    source = market.deploy(example_source(), demo.sandbox_values(sandbox))
    if account_extra:
        marker = '    "aliyun_endpoint": '
        extra = "".join("    %s: %s,\n" % (json.dumps(k), json.dumps(v)) for k, v in account_extra.items())
        source = source.replace(marker, extra + marker, 1)
    if filters:
        source = source.replace("filters=[]", "filters=[%s]" % filters)
    if prelude:
        source = source.replace("\n@self_hosted_monitor", "\n" + prelude + "\n\n@self_hosted_monitor", 1)
    return source


class SpotRun(object):
    """A sandbox + a local Func runtime with the deployed spot startup script."""

    def __init__(self, sandbox, tmp_path, source=None, env=None):
        self.sandbox = sandbox
        self.lines = []
        library = func_runtime.OverlayLibrary(func_runtime.PackageLibrary(),
                                              {STARTUP_ID: (source or startup_source(sandbox), "<startup>")})
        self.runtime = func_runtime.FuncRuntime(library=library, env=env, state_dir=str(tmp_path / "func"),
                                                echo=self.lines.append)
        self.results = []

    def run(self, index):
        self.sandbox.set_run(index)
        with clock.frozen(self.sandbox.scenario.runs[index]):
            result = self.runtime.run(STARTUP_ID + ".run")
        self.results.append(result)
        return result

    def runs(self, *indexes):
        for index in indexes:
            result = self.run(index)
            assert result.ok, result.error
        return self

    def events(self, run=None):
        return [e for e in self.sandbox.events if run is None or e["run"] == run]

    def spot_events(self, run=None):
        return [e for e in self.events(run) if e["dimension_tags"].get("check") != "spot-alive"]

    def by_instance(self, run=None):
        return dict((e["dimension_tags"].get("instance_id"), e) for e in self.spot_events(run))

    def calls(self, action, run=None):
        return [c for c in self.sandbox.calls if c["action"] == action and (run is None or c["run"] == run)]


@pytest.fixture
def spot(make_sandbox, tmp_path):
    """spot(data=None) -> a SpotRun with its own sandbox and its own Func state."""
    made = []

    def make(data=None, **kwargs):
        made.append(1)
        state = tmp_path / ("spot-%d" % len(made))
        return SpotRun(make_sandbox(data if data is not None else scenario()), state, **kwargs)
    return make


def test_startup_script_is_the_example_as_the_market_deploys_it():
    with io.open(os.path.join(ROOT, "startup", "guance_monitor_spot_alive.py"), encoding="utf-8") as handle:
        assert handle.read() == market.deploy(example_source(), {})
    assert market.placeholders(example_source()) == [
        "Guance API Key ID", "Guance API Key", "Guance Node", "Aliyun AccessKey ID", "Aliyun AccessKey Secret",
        "Aliyun Endpoint"]


def test_registered_enabled_with_title_schedule_and_bilingual_doc(spot):
    run = spot().runs(0)
    rules = list(run.sandbox.service("guance").rules.values())
    assert len(rules) == 1 and rules[0]["status"] == 0          # enabled by default
    script = rules[0]["jsonScript"]
    assert script["title"] == u"阿里云抢占式实例存活巡检"
    info = script["refFuncInfo"]
    assert info["funcId"] == STARTUP_ID + ".run" and info["kwargs"] == {"configs": {"default": None}}
    assert info["description"].startswith("zh-CN:\n  title: ") and "\nen:\n  title: " in info["description"]
    assert "spot_with_price_limit" in info["description"]
    api = run.results[0].api_funcs[0]
    assert api["extraConfig"]["fixedCrontab"] == "*/2 * * * *" and api["extraConfig"]["timeout"] == 60


def test_hangzhou_fleet_run_by_run(spot):
    run = spot().runs(0, 1, 2, 3, 4)
    first = run.by_instance(0)
    assert sorted(first) == sorted([BID_LOW, RECYCLED, PRICEY])          # healthy, pay-as-you-go: nothing
    critical = first[RECYCLED]
    assert critical["status"] == "critical" and critical["check"] == "spot-alive"
    assert critical["dimension_tags"] == {"region_id": HZ, "zone_id": "cn-hangzhou-h",
                                          "instance_type": "ecs.g7.large", "instance_id": RECYCLED}
    text = critical["message"]
    assert u"预计释放时间 / Release at: **2026-11-20 16:03:30 (UTC+8)**" in text       # notice 07:58:30Z + 5 min
    assert u"time left: **3m 30s（截至 / as of 2026-11-20 16:00:00 (UTC+8)）**" in text   # as of the run
    assert critical["title"].endswith(u" — 释放时间 / release at 2026-11-20 16:03:30 (UTC+8)（另有 4 个原因 / +4 more "
                                      u"reasons）")
    assert "kubectl cordon cn-hangzhou.10.0.1.23 && kubectl drain cn-hangzhou.10.0.1.23" in text
    assert u"| ack-node\\|web-01 |" in text                                          # the name, escaped
    for heading in (u"## 事件概览", u"## 抢占式实例详情", u"## 抢占式实例类型价格", u"## 抢占式实例类型历史价格",
                    u"## 温馨建议"):
        assert heading in text
    zones = [line.split(" | ")[0] for line in text.split(u"## 抢占式实例类型价格")[1].split("## ")[0].splitlines()
             if line.startswith("| cn-hangzhou")]
    assert zones == ["| cn-hangzhou-j", "| cn-hangzhou-i", u"| cn-hangzhou-h（当前 current）"]

    bid = first[BID_LOW]
    assert bid["status"] == "error" and u"出价 SpotPriceLimit 0.12 低于可用区 cn-hangzhou-i 当前市场价 0.144" in bid["message"]
    assert u"SpotPriceLimit 提高到至少 **0.159**" in bid["message"]
    pricey = first[PRICEY]
    assert pricey["status"] == "warning" and u"高于可接受折扣 25%（2.5折）" in pricey["message"]
    assert u"迁移到可用区 **cn-hangzhou-j**" in pricey["message"]

    assert run.events(1) == [] and run.events(2) == []                              # same state: not re-reported
    released = run.spot_events(3)
    assert [(e["status"], e["dimension_tags"]["instance_id"]) for e in released] == [("ok", RECYCLED)]
    assert u"DescribeInstances no longer finds it" in released[0]["message"]
    assert released[0]["title"] == u"抢占式实例已释放 / Spot instance released: ack-node\\|web-01 (i-bp1recycle01)"
    assert run.events(4) == []


def test_calls_per_run_follow_pairs_and_caches(spot):
    run = spot().runs(0, 1, 2, 3, 4)
    price = [len(run.calls("DescribeSpotPriceHistory", i)) for i in range(5)]
    assert price == [2, 0, 0, 0, 0]                     # two (region, type) pairs; 10-minute TTL afterwards
    stock = [len(run.calls("DescribeAvailableResource", i)) for i in range(5)]
    assert stock == [1, 0, 0, 1, 0]                     # 5-minute TTL
    advice_calls = [len(run.calls("DescribeSpotAdvice", i)) for i in range(5)]
    # 2 types in one call + a same-spec look-up for the critical / error instances' 2 vCPU 8 GiB; 1-hour TTL
    assert advice_calls == [2, 0, 0, 0, 0]
    events = [len(run.calls("DescribeSystemEventAttribute", i)) for i in range(5)]
    assert events == [1] * 5
    listings = [len(run.calls("DescribeInstances", i)) for i in range(5)]
    # the Recycling listing; from 08:06 a look-up: is the instance the integration still shows locked gone?
    assert listings == [1, 1, 1, 2, 2]
    # the inventory is read from Guance once and reused for 30 minutes (account inventory_refresh)
    assert [len(run.calls("/api/v1/df/query_data_v1", i)) for i in range(5)] == [1, 0, 0, 0, 0]


def grow(data, copies):
    """The scenario with ``copies`` more instances of every spot instance (same types, zones, fate)."""
    data = copy.deepcopy(data)
    region = data["aliyun"][HZ]
    originals = list(region["instances"])
    points = list(data["guance"]["points"]["custom_object"])
    for n in range(copies):
        for inst in originals:
            clone = dict(inst, InstanceId="%s-c%02d" % (inst["InstanceId"], n))
            region["instances"].append(clone)
        for point in points:
            message = json.loads(point["fields"]["message"])
            new_id = "%s-c%02d" % (message["InstanceId"], n)
            message["InstanceId"] = new_id
            point = copy.deepcopy(point)
            point["tags"].update(name=new_id, InstanceId=new_id)
            point["fields"]["message"] = json.dumps(message)
            data["guance"]["points"]["custom_object"].append(point)
    return data


def test_cloud_calls_grow_with_pairs_not_instances(spot):
    small = spot().runs(0)
    data = grow(scenario(), 20)
    data["guance"]["studio"][0]["callKwargs"]["configs"] = [{"spot_with_price_limit": "25%", "group_threshold": 1000}]
    big = spot(data).runs(0)
    assert len(big.by_instance(0)) == 3 * 21
    for action in ("DescribeSpotPriceHistory", "DescribeSpotAdvice", "DescribeAvailableResource",
                   "DescribeSystemEventAttribute", "DescribeInstances"):
        assert len(big.calls(action)) == len(small.calls(action)), action


def test_price_history_is_refreshed_incrementally_after_the_ttl(spot):
    data = scenario()
    data["runs"] = ["2026-11-20T08:00:00Z", "2026-11-20T08:12:00Z", "2026-11-20T09:30:00Z"]
    run = spot(data)
    service = run.sandbox.service("ecs")
    original = service.describe_spot_price_history
    seen = []

    def record(params):
        seen.append((run.sandbox.run_index, params.get("InstanceType"), params.get("StartTime"), params.get("EndTime")))
        return original(params)

    service.describe_spot_price_history = record
    run.runs(0, 1, 2)
    assert sorted(seen) == [
        (0, "ecs.c7.large", "2026-11-13T07:59:00Z", "2026-11-20T07:59:00Z"),
        (0, "ecs.g7.large", "2026-11-13T07:59:00Z", "2026-11-20T07:59:00Z"),
        (1, "ecs.c7.large", "2026-11-20T07:58:00Z", "2026-11-20T08:11:00Z"),      # only since the last fetch
        (1, "ecs.g7.large", "2026-11-20T07:58:00Z", "2026-11-20T08:11:00Z"),
        (2, "ecs.c7.large", "2026-11-20T08:10:00Z", "2026-11-20T09:29:00Z"),
        (2, "ecs.g7.large", "2026-11-20T08:10:00Z", "2026-11-20T09:29:00Z")]


def test_direct_mode_lists_instances_with_describe_instances(spot, make_sandbox, tmp_path):
    sandbox = make_sandbox(scenario())
    run = SpotRun(sandbox, tmp_path, source=startup_source(sandbox, {"instance_source": "describe_instances",
                                                                     "regions": ["cn-hangzhou"]}))
    run.runs(0, 1, 2, 3)
    first = run.by_instance(0)
    assert sorted(first) == sorted([BID_LOW, RECYCLED, PRICEY])
    assert first[RECYCLED]["status"] == "critical" and u"数据来源 Source | ECS DescribeInstances" in \
        first[RECYCLED]["message"]
    assert run.calls("/api/v1/df/query_data_v1") == []
    assert [len(run.calls("DescribeInstances", i)) for i in range(4)] == [1, 1, 1, 1]   # the listing is live
    assert [(e["status"], e["dimension_tags"]["instance_id"]) for e in run.spot_events(3)] == [("ok", RECYCLED)]


def test_studio_configs_and_filters_narrow_the_inspection(spot, make_sandbox, tmp_path):
    data = scenario()
    data["guance"]["studio"][0]["callKwargs"]["configs"] = \
        '[{"instance_type": "ecs.c7.*", "spot_with_price_limit": "3折"}]'
    run = spot(data).runs(0)
    assert sorted(run.by_instance(0)) == [PRICEY]
    assert [c["status"] for c in run.calls("DescribeSpotPriceHistory")] == [200]        # c7.large only

    sandbox = make_sandbox(scenario())
    source = startup_source(sandbox, filters="only_prod",
                            prelude="def only_prod(instance):\n    return instance['tags'].get('env') == 'prod'")
    filtered = SpotRun(sandbox, tmp_path / "filtered", source=source).runs(0)
    assert sorted(filtered.by_instance(0)) == sorted([BID_LOW, RECYCLED])


def group_scenario(extra=6):
    """Hangzhou plus ``extra`` more ecs.g7.large instances being recycled in cn-hangzhou-h."""
    data = scenario()
    region = data["aliyun"][HZ]
    template = [i for i in region["instances"] if i["InstanceId"] == RECYCLED and i["OperationLocks"]["LockReason"]][0]
    for n in range(extra):
        clone = copy.deepcopy(template)
        clone.update(InstanceId="i-bp1group%02d" % n, InstanceName="node-%02d" % n, Tags={"Tag": []})
        region["instances"].append(clone)
        event = copy.deepcopy(region["system_events"][0])
        event.update(Id="evt-g%d" % n, ResourceId="acs:ecs:cn-hangzhou:1:instance/i-bp1group%02d" % n,
                     Content={"instanceId": "i-bp1group%02d" % n, "action": "delete"})
        region["system_events"].append(event)
    return data


def test_many_instances_of_one_type_make_one_grouped_event_then_recover(spot):
    run = spot(group_scenario()).runs(0, 1, 2, 3)
    first = run.spot_events(0)
    grouped = [e for e in first if "instance_id" not in e["dimension_tags"]]
    assert len(grouped) == 1
    group = grouped[0]
    assert group["dimension_tags"] == {"region_id": HZ, "instance_type": "ecs.g7.large"}
    assert group["status"] == "critical" and group["title"].startswith(u"8 个 ecs.g7.large 抢占式实例正在被回收释放")
    for instance_id in [RECYCLED, BID_LOW] + ["i-bp1group%02d" % n for n in range(6)]:
        assert "| %s |" % instance_id in group["message"]
    assert sorted(e["dimension_tags"]["instance_id"] for e in first if e not in grouped) == [PRICEY]
    assert run.events(1) == [] and run.events(2) == []

    after = run.spot_events(3)                         # the 7 recycled ones are gone: the group dissolves
    group_ok = [e for e in after if "instance_id" not in e["dimension_tags"]]
    assert [e["status"] for e in group_ok] == ["ok"]
    assert u"仍有 1 个实例存在问题" in group_ok[0]["message"] and group_ok[0]["message"].count(u"已释放 released") == 7
    alone = [e for e in after if e not in group_ok]
    assert [(e["status"], e["dimension_tags"]["instance_id"]) for e in alone] == [("error", BID_LOW)]
    assert u"改为单独上报 reported alone again" in alone[0]["message"]


def test_group_threshold_is_configurable(spot):
    data = group_scenario()
    data["guance"]["studio"][0]["callKwargs"]["configs"] = [{"group_threshold": 20}]
    run = spot(data).runs(0)
    assert len([e for e in run.spot_events(0) if e["status"] == "critical"]) == 7
