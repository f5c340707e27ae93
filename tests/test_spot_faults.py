"""Faults and bad inputs: a throttling storm, a region down, Guance down then up, malformed data, bad configs.

Each keeps the rest of the run unharmed, says clearly what is wrong, and never shows a secret.
"""
import copy
import json

from guance_monitor_local import demo
from guance_monitor_spot_alive import aliyun

from test_spot_e2e import BID_LOW, HEALTHY, HZ, PRICEY, RECYCLED, SpotRun, scenario, spot, startup_source  # noqa: F401

EXECUTE = "/api/v1/outer_function/execute"
BJ = "cn-beijing"


def statuses(run, action):
    return [c["status"] for c in run.sandbox.calls if c["action"] == action]


def problems(run, index):
    found = [e for e in run.events(index) if e["dimension_tags"] == {"check": "spot-alive", "issue": "data"}]
    return found[0] if found else None


def with_faults(data, *faults):
    data = copy.deepcopy(data)
    data.setdefault("sandbox", {}).setdefault("faults", []).extend(faults)
    return data


def test_throttling_storm_on_price_history_is_ridden_out(spot, fake_sleep):
    calm = spot().runs(0)
    storm = spot(with_faults(scenario(), {"service": "ecs", "action": "DescribeSpotPriceHistory", "status": 400,
                                          "code": "Throttling.User", "times": 3},
                             {"service": "ecs", "action": "DescribeSpotPriceHistory", "status": 429,
                              "retry_after": 2, "times": 1})).runs(0)
    assert statuses(storm, "DescribeSpotPriceHistory").count(400) == 3
    assert statuses(storm, "DescribeSpotPriceHistory").count(200) == 2
    assert 2.0 in fake_sleep.waits                                 # the 429's x-acs-retry-after was honoured
    strip = lambda events: sorted((e["title"], e["status"], e["message"]) for e in events)
    assert strip(storm.events(0)) == strip(calm.events(0))       # the same reports as without the storm


def test_endless_throttling_leaves_prices_missing_but_releases_still_reported(spot, fake_sleep):
    run = spot(with_faults(scenario(), {"service": "ecs", "action": "DescribeSpotPriceHistory", "status": 400,
                                        "code": "Throttling.User"})).runs(0)
    events = run.by_instance(0)
    assert sorted(events) == [RECYCLED]                           # no price: no price rule fires, and it says so
    text = events[RECYCLED]["message"]
    assert u"没有价格数据 / No price data" in text and "Throttling.User" in text
    assert u"no spot prices: Throttling.User: Request was denied due to user flow control." in text


def beijing(data):
    """Hangzhou plus a cn-beijing region whose instance the integration shows locked for recycling."""
    data = copy.deepcopy(data)
    region = copy.deepcopy(data["aliyun"][HZ])
    template = [i for i in region["instances"] if i["InstanceId"] == RECYCLED and i["OperationLocks"]["LockReason"]][0]
    instance = copy.deepcopy(template)
    instance.update(InstanceId="i-2zebj01", InstanceName="bj-01", RegionId=BJ, ZoneId="cn-beijing-h")
    instance.pop("_visible_until")
    instance.pop("_visible_from")
    data["aliyun"][BJ] = {"instances": [instance], "spot_price_history": [], "spot_advice": [],
                          "available_resource": [], "system_events": []}
    for point in list(data["guance"]["points"]["custom_object"]):
        if point["tags"]["InstanceId"] == RECYCLED:
            clone = copy.deepcopy(point)
            message = json.loads(clone["fields"]["message"])
            message.update(InstanceId="i-2zebj01", InstanceName="bj-01", RegionId=BJ, ZoneId="cn-beijing-h")
            clone["fields"]["message"] = json.dumps(message)
            clone["tags"].update(name="i-2zebj01", InstanceId="i-2zebj01", RegionId=BJ, ZoneId="cn-beijing-h")
            data["guance"]["points"]["custom_object"].append(clone)
    return data


def test_one_region_down_is_degraded_and_the_others_are_inspected(spot, fake_sleep):
    run = spot(with_faults(beijing(scenario()), {"service": "ecs", "region": BJ, "status": 503})).runs(0)
    events = run.by_instance(0)
    assert sorted(events) == sorted([RECYCLED, BID_LOW, PRICEY, "i-2zebj01"])
    assert events[BID_LOW]["status"] == "error" and events[RECYCLED]["status"] == "critical"
    bj = events["i-2zebj01"]
    assert bj["status"] == "critical"                              # from the integration's lock, said so
    assert u"观测云 CO::aliyun_ecs 的 OperationLocks 含 `Recycling`" in bj["message"]
    assert u"地域 cn-beijing 降级" in bj["message"]
    note = problems(run, 0)
    assert note is not None and note["status"] == "warning"
    assert u"地域 cn-beijing 降级" in note["message"] and "ServiceUnavailable" in note["message"]
    beijing_calls = [c for c in run.sandbox.calls if c["region"] == BJ]
    assert beijing_calls and all(c["status"] == 503 for c in beijing_calls)
    # the four first calls of the region ran concurrently, each retried; then the breaker stopped calling it
    assert len(beijing_calls) <= 4 * aliyun.ATTEMPTS
    assert set(c["action"] for c in beijing_calls) == {"DescribeInstances", "DescribeSpotPriceHistory",
                                                       "DescribeSpotAdvice", "DescribeAvailableResource"}
    # the region comes back: the problem recovers, nothing about bj recovers on missing data before that
    run.sandbox.faults.clear()
    run.runs(1)
    assert [e["status"] for e in run.events(1) if e["dimension_tags"].get("issue") == "data"] == ["ok"]


def test_guance_down_then_up_delivers_the_events_next_run_exactly_once(spot, fake_sleep):
    run = spot(with_faults(scenario(), {"service": "guance", "action": EXECUTE, "status": 503, "runs": [0]}))
    run.runs(0)
    assert run.sandbox.events == []
    run.runs(1)
    delivered = [(e["run"], e["dimension_tags"].get("instance_id")) for e in run.sandbox.events]
    assert sorted(delivered) == sorted([(1, RECYCLED), (1, BID_LOW), (1, PRICEY)])   # run 0's, sent in run 1
    run.runs(2, 3)
    assert len(set(e["df_event_id"] for e in run.sandbox.events)) == len(run.sandbox.events) == 4


def co_point(data, instance_id):
    return [p for p in data["guance"]["points"]["custom_object"] if p["tags"]["InstanceId"] == instance_id]


def test_malformed_operation_locks_and_missing_message_are_named(spot):
    data = scenario()
    for point in co_point(data, HEALTHY):
        point["fields"]["OperationLocks"] = "[{Recycling"
    for point in co_point(data, PRICEY):
        del point["fields"]["message"]
    run = spot(data).runs(0)
    assert sorted(run.by_instance(0)) == sorted([RECYCLED, BID_LOW])        # the rest of the run is unharmed
    note = problems(run, 0)["message"]
    assert u"i-bp1healthy3: OperationLocks is not valid JSON (\\[{Recycling)" in note
    assert u"CO::aliyun\\_ecs object i-bp1pricey04 has no \\`message\\` field" in note


def test_unknown_region_in_configs_is_named_and_the_rest_runs(spot):
    data = scenario()
    data["guance"]["studio"][0]["callKwargs"]["configs"] = [
        {"regions": ["cn-hangzhou", "cn-hangzou"], "spot_with_price_limit": "25%"}]
    run = spot(data).runs(0)
    assert sorted(run.by_instance(0)) == sorted([RECYCLED, BID_LOW, PRICEY])
    note = problems(run, 0)["message"]
    assert u"configs\\[0\\].regions: 地域 cn-hangzou 不存在 / unknown region cn-hangzou" in note
    assert "InvalidRegionId.NotFound" in note


def test_bad_discount_in_configs_is_a_clear_message_then_recovers(spot):
    data = scenario()
    data["guance"]["studio"][0]["callKwargs"]["configs"] = [{"spot_with_price_limit": "150%"}]
    run = spot(data)
    result = run.run(0)
    assert not result.ok
    events = run.events(0)
    assert [(e["status"], e["dimension_tags"]) for e in events] == [("warning", {"check": "spot-alive"})]
    assert "configs[0].spot_with_price_limit: expected the accepted share of the pay-as-you-go price" in \
        events[0]["message"] and "got '150%'" in events[0]["message"]
    assert any("configs rejected: configs[0].spot_with_price_limit" in line for line in run.lines)
    rule = list(run.sandbox.service("guance").rules.values())[0]
    rule["jsonScript"]["callKwargs"]["configs"] = [{"spot_with_price_limit": "25%"}]   # fixed in Studio
    run.runs(1)
    assert ("ok", {"check": "spot-alive"}) in [(e["status"], e["dimension_tags"]) for e in run.events(1)]
    assert sorted(run.by_instance(1)) == sorted([RECYCLED, BID_LOW, PRICEY])


def test_no_aliyun_credentials_still_reports_what_guance_knows(spot, make_sandbox, tmp_path, monkeypatch):
    from alibabacloud_credentials.utils import auth_util
    monkeypatch.setattr(auth_util, "environment_access_key_id", None)
    monkeypatch.setattr(auth_util, "environment_access_key_secret", None)
    monkeypatch.setattr(auth_util, "environment_ecs_metadata_disabled", "true")
    monkeypatch.setenv("HOME", str(tmp_path))
    sandbox = make_sandbox(scenario())
    source = startup_source(sandbox).replace('"aliyun_access_key_id": "LTAI', '"aliyun_access_key_id": "" or "LTAI')
    source = source.replace(sandbox.scenario.sandbox["aliyun_access_key_id"], "")
    source = source.replace(sandbox.scenario.sandbox["aliyun_access_key_secret"], "")
    run = SpotRun(sandbox, tmp_path / "nocreds", source=source).runs(0)
    assert [c for c in sandbox.calls if c["service"] in ("ecs", "cms")] == []
    assert [e["dimension_tags"].get("instance_id") for e in run.spot_events(0)] == [RECYCLED]
    assert u"no Alibaba Cloud credentials" in problems(run, 0)["message"]


def test_no_secret_in_any_event_log_line_or_error(spot, fake_sleep):
    data = with_faults(beijing(scenario()), {"service": "ecs", "region": BJ, "status": 503},
                       {"service": "guance", "action": EXECUTE, "status": 500, "runs": [0]},
                       {"service": "ecs", "action": "DescribeSpotPriceHistory", "status": 400,
                        "code": "Throttling.User", "times": 3})
    data["guance"]["studio"][0]["callKwargs"]["configs"] = [{"regions": ["cn-hangzhou", "cn-beijing", "cn-hangzou"]}]
    run = spot(data)
    for index in range(4):
        run.run(index)
    settings = run.sandbox.scenario.sandbox
    secrets = [settings["guance_api_key_id"], settings["guance_api_key"], settings["aliyun_access_key_secret"],
               run.sandbox.scenario.workspace["token"]]
    texts = [json.dumps(e, ensure_ascii=False) for e in run.sandbox.events]
    texts += run.lines + [repr(r.error) + str(r.error) for r in run.results]
    assert run.sandbox.events and run.lines
    for text in texts:
        for secret in secrets:
            assert secret not in text
    values = demo.sandbox_values(run.sandbox)
    assert values["Aliyun AccessKey Secret"] == settings["aliyun_access_key_secret"]   # it was in the script
