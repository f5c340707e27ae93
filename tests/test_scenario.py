"""Scenario files: malformed parts are named by their path; points are normalised."""
import datetime
import json

import pytest

from guance_monitor import clock
from guance_monitor_local import scenario as scenarios
from guance_monitor_local.scenario import ScenarioError

UTC = datetime.timezone.utc
T0 = "2026-11-20T08:00:00Z"
T0_MS = 1795161600000


def point(**extra):
    data = {"measurement": "kube_pod", "tags": {"namespace": "a"}, "fields": {"restarts": 1}, "time": T0}
    data.update(extra)
    return data


def error_of(data):
    with pytest.raises(ScenarioError) as info:
        scenarios.from_dict(data)
    return str(info.value)


# -- malformed parts are named -------------------------------------------------------------------

def test_bad_point_time_names_the_point():
    text = error_of({"guance": {"points": {"metric": [point(), point(time="yesterday")]}}})
    assert text.startswith("guance.points.metric[1].time: ")
    assert "'yesterday'" in text


def test_missing_point_time_names_the_point():
    bad = point()
    del bad["time"]
    assert error_of({"guance": {"points": {"object": [bad]}}}) == \
        "guance.points.object[0].time: required (ISO 8601 UTC or epoch milliseconds)"


@pytest.mark.parametrize("bad, message", [
    ({"measurement": ""}, "guance.points.metric[0].measurement: expected a non-empty string"),
    ({"measurement": 5}, "guance.points.metric[0].measurement: expected a non-empty string"),
    ({"tags": ["a"]}, "guance.points.metric[0].tags: expected an object"),
    ({"fields": 3}, "guance.points.metric[0].fields: expected an object"),
])
def test_bad_point_parts(bad, message):
    assert error_of({"guance": {"points": {"metric": [point(**bad)]}}}) == message


def test_point_that_is_not_an_object():
    assert error_of({"guance": {"points": {"custom_object": ["x"]}}}) == \
        "guance.points.custom_object[0]: expected an object"


def test_studio_entry_without_check():
    text = error_of({"guance": {"studio": [{"disabled": True}]}})
    assert text == "guance.studio[0].check: expected the inspection name (spot-alive or k8s-pod-restart)"


def test_studio_entry_with_an_unknown_check_suggests_the_close_one():
    text = error_of({"guance": {"studio": [{"check": "k8s-pod-restart"}, {"check": "spot-alvie"}]}})
    assert text == ("guance.studio[1].check: unknown inspection 'spot-alvie' (did you mean 'spot-alive'?); "
                    "known: spot-alive, k8s-pod-restart (or name the inspection by funcId or title)")


def test_studio_entry_named_by_title_or_func_id_needs_no_known_check():
    scenario = scenarios.from_dict({"guance": {"studio": [{"title": "Mine", "check": "my-own"},
                                                          {"funcId": "startup__x.run"}]}})
    assert [e.get("title") or e.get("funcId") for e in scenario.studio] == ["Mine", "startup__x.run"]


@pytest.mark.parametrize("entry, message", [
    ({"check": "spot-alive", "callKwargs": "[]"},
     "guance.studio[1].callKwargs: expected an object of argument -> value"),
    ({"check": "spot-alive", "disabled": "yes"}, "guance.studio[1].disabled: expected true or false"),
    ("spot-alive", "guance.studio[1]: expected an object"),
])
def test_bad_studio_entries(entry, message):
    assert error_of({"guance": {"studio": [{"check": "k8s-pod-restart"}, entry]}}) == message


def test_aliyun_instance_that_is_not_an_object():
    text = error_of({"aliyun": {"cn-hangzhou": {"instances": [["i-1"]]}}})
    assert text == "aliyun.cn-hangzhou.instances[0]: expected an object"


@pytest.mark.parametrize("data, message", [
    ({"aliyun": {"cn-hangzhou": {"spot_price_history": {}}}}, "aliyun.cn-hangzhou.spot_price_history: expected a list"),
    ({"aliyun": {"cn-beijing": []}}, "aliyun.cn-beijing: expected an object"),
    ({"aliyun": []}, "aliyun: expected an object of region id -> resources"),
])
def test_bad_aliyun_parts(data, message):
    assert error_of(data) == message


PRICE = {"InstanceType": "ecs.g7.large", "ZoneId": "cn-hangzhou-h", "SpotPrice": 0.15, "OriginPrice": 0.6,
         "Timestamp": T0}


@pytest.mark.parametrize("region, message", [
    ({"spot_price_history": [PRICE, dict(PRICE, SpotPrice="cheap")]},
     "aliyun.cn-hangzhou.spot_price_history[1].SpotPrice: expected a number, got \"cheap\""),
    ({"spot_price_history": [dict(PRICE, SpotPrice=True)]},
     "aliyun.cn-hangzhou.spot_price_history[0].SpotPrice: expected a number, got true"),
    ({"spot_price_history": [dict(PRICE, Timestamp="last tuesday")]},
     "aliyun.cn-hangzhou.spot_price_history[0].Timestamp: expected a time (ISO 8601 UTC or epoch milliseconds), "
     "got \"last tuesday\""),
    ({"spot_price_history": [dict((k, v) for k, v in PRICE.items() if k != "Timestamp")]},
     "aliyun.cn-hangzhou.spot_price_history[0].Timestamp: required "
     "(a time (ISO 8601 UTC or epoch milliseconds))"),
    ({"instances": [{"InstanceId": "i-1", "SpotPriceLimit": "0.2"}]},
     "aliyun.cn-hangzhou.instances[0].SpotPriceLimit: expected a number, got \"0.2\""),
    ({"instances": [{"InstanceName": "web"}]}, "aliyun.cn-hangzhou.instances[0].InstanceId: required (a string)"),
    ({"instances": [{"InstanceId": "i-1", "_visible_until": "soon"}]},
     "aliyun.cn-hangzhou.instances[0]._visible_until: expected a time (ISO 8601 UTC or epoch milliseconds), "
     "got \"soon\""),
    ({"instances": [{"InstanceId": "i-1", "OperationLocks": {"LockReason": [{"LockReason": 5}]}}]},
     "aliyun.cn-hangzhou.instances[0].OperationLocks.LockReason[0].LockReason: expected a string, got 5"),
    ({"instances": [{"InstanceId": "i-1", "Tags": {"Tag": "env=prod"}}]},
     "aliyun.cn-hangzhou.instances[0].Tags.Tag: expected a list"),
    ({"spot_advice": [{"ZoneId": "z", "AvailableSpotResources": {"AvailableSpotResource": [
        {"InstanceType": "ecs.g7.large", "InterruptionRate": "high"}]}}]},
     "aliyun.cn-hangzhou.spot_advice[0].AvailableSpotResources.AvailableSpotResource[0].InterruptionRate: "
     "expected a number, got \"high\""),
    ({"available_resource": [{"ZoneId": "z", "AvailableResources": {"AvailableResource": [
        {"Type": "InstanceType", "SupportedResources": {"SupportedResource": [{"Value": 7}]}}]}}]},
     "aliyun.cn-hangzhou.available_resource[0].AvailableResources.AvailableResource[0]"
     ".SupportedResources.SupportedResource[0].Value: expected a string, got 7"),
    ({"system_events": [{"Name": "Instance:PreemptibleInstanceInterruption"}]},
     "aliyun.cn-hangzhou.system_events[0].Time: required (a time (ISO 8601 UTC or epoch milliseconds))"),
    ({"_zones": "cn-hangzhou-h"}, "aliyun.cn-hangzhou._zones: expected a list of strings, got \"cn-hangzhou-h\""),
])
def test_aliyun_values_of_the_wrong_type_name_their_path(region, message):
    assert error_of({"aliyun": {"cn-hangzhou": region}}) == message


def test_aliyun_values_of_the_right_types_are_accepted():
    scenario = scenarios.from_dict({"aliyun": {"cn-hangzhou": {
        "_zones": ["cn-hangzhou-h"],
        "instances": [{"InstanceId": "i-1", "SpotPriceLimit": 0, "Cpu": 2, "CreationTime": "2026-11-19T10:00Z",
                       "AutoReleaseTime": "", "ExpiredTime": 1795161600000,
                       "OperationLocks": {"LockReason": []}, "Tags": {"Tag": [{"TagKey": "env", "TagValue": "p"}]}}],
        "spot_price_history": [PRICE],
        "spot_advice": [{"ZoneId": "z", "AvailableSpotResources": [{"InstanceType": "t", "InterruptionRate": 1}]}],
        "system_events": [{"Time": T0_MS, "Content": {"action": "delete"}}]}}})
    assert scenario.aliyun["cn-hangzhou"]["spot_price_history"] == [PRICE]


def test_runs_out_of_order_names_the_run():
    text = error_of({"runs": [T0, "2026-11-20T08:10:00Z", "2026-11-20T08:05:00Z"]})
    assert text == "runs[2]: earlier than runs[1]; runs must be in order"


def test_runs_out_of_order_second_run():
    assert error_of({"runs": [T0, "2026-11-20T07:00:00Z"]}).startswith("runs[1]: earlier than runs[0]")


@pytest.mark.parametrize("runs, message", [
    ([], "runs: expected a non-empty list of times"),
    (T0, "runs: expected a non-empty list of times"),
])
def test_runs_must_be_a_list(runs, message):
    assert error_of({"runs": runs}) == message


def test_bad_run_time_names_the_run():
    text = error_of({"runs": [T0, "soon"]})
    assert text.startswith("runs[1]: ") and "'soon'" in text


def test_bad_fault_status_names_the_fault():
    text = error_of({"sandbox": {"faults": [{"service": "guance", "status": 200}]}})
    assert text == "sandbox.faults[0].status: expected an HTTP error status 400-599, got 200"


def test_unknown_fault_key_names_the_fault():
    text = error_of({"sandbox": {"faults": [{"status": 503}, {"stauts": 503}]}})
    assert text.startswith("sandbox.faults[1]: unknown key 'stauts'")


@pytest.mark.parametrize("fault, message", [
    ({"latency_ms": "slow"}, "sandbox.faults[0].latency_ms: expected a number >= 0, got 'slow'"),
    ({"status": 429, "retry_after": -1}, "sandbox.faults[0].retry_after: expected a number >= 0, got -1"),
])
def test_fault_numbers_of_the_wrong_type_name_the_fault(fault, message):
    assert error_of({"sandbox": {"faults": [fault]}}) == message


@pytest.mark.parametrize("data, message", [
    ({"sandbox": {"guance_api_key": ""}}, "sandbox.guance_api_key: expected a non-empty string"),
    ({"sandbox": {"faults": {}}}, "sandbox.faults: expected a list"),
    ({"guance": {"workspace": {"token": 5}}}, "guance.workspace.token: expected a non-empty string"),
    ({"guance": []}, "guance: expected an object"),
    ({"name": 3}, "name: expected a string"),
    ({"labels": []}, "labels: expected an object"),
])
def test_other_bad_parts(data, message):
    assert error_of(data) == message


def test_top_level_must_be_an_object():
    assert error_of([]) == "(top level): expected a JSON object"


# -- what is accepted ----------------------------------------------------------------------------

def test_unknown_keys_are_ignored():
    scenario = scenarios.from_dict({
        "name": "n", "comment": "free text", "future": {"x": [1]},
        "guance": {"somewhere": 1, "points": {"metric": [point(extra="ignored")], "tracing": "not read"}},
        "aliyun": {"cn-hangzhou": {"instances": [], "notes": "kept"}},
        "sandbox": {"port_hint": 1},
    })
    assert scenario.name == "n"
    assert scenario.points["M"][0]["measurement"] == "kube_pod"
    assert scenario.aliyun["cn-hangzhou"]["notes"] == "kept"


def test_empty_scenario_has_defaults_and_one_run_now():
    before = clock.now()
    scenario = scenarios.from_dict({})
    assert len(scenario.runs) == 1 and scenario.runs[0] >= before
    assert scenario.sandbox["guance_api_key_id"] == "sandbox-api-key-id"
    assert scenario.sandbox["faults"] == []
    assert scenario.workspace["uuid"].startswith("wksp_")


def test_no_runs_means_one_run_at_the_latest_point_time():
    scenario = scenarios.from_dict({"guance": {"points": {
        "metric": [point(time="2026-11-20T07:00:00Z"), point(time=T0_MS + 60000)],
        "logging": [{"source": "kubelet", "time": "2026-11-20T07:30:00Z"}],
    }}})
    assert scenario.runs == [datetime.datetime(2026, 11, 20, 8, 1, tzinfo=UTC)]


def test_runs_are_parsed_in_order():
    scenario = scenarios.from_dict({"runs": [T0, T0_MS + 120000, "2026-11-20T16:05:00+08:00"]})
    assert [clock.iso(r) for r in scenario.runs] == ["2026-11-20T08:00:00Z", "2026-11-20T08:02:00Z",
                                                     "2026-11-20T08:05:00Z"]


def test_points_are_normalised():
    scenario = scenarios.from_dict({"guance": {"points": {"custom_object": [
        {"measurement": "aliyun_ecs", "tags": {"InstanceId": "i-1"}, "fields": {"Cpu": 2},
         "time": "2026-11-20T16:00:00+08:00"}]}}})
    assert scenario.points["CO"] == [{"measurement": "aliyun_ecs", "tags": {"InstanceId": "i-1"},
                                      "fields": {"Cpu": 2}, "time_ms": T0_MS}]


def test_logging_points_may_give_source():
    scenario = scenarios.from_dict({"guance": {"points": {"logging": [
        {"source": "kubelet", "tags": {"host": "n1"}, "fields": {"message": "OOMKilled"}, "time": T0}]}}})
    assert scenario.points["L"][0]["measurement"] == "kubelet"


def test_events_may_give_df_source():
    scenario = scenarios.from_dict({"guance": {"points": {"keyevent": [
        {"tags": {"df_source": "monitor"}, "fields": {"df_title": "t"}, "time": T0}]}}})
    assert scenario.points["E"][0]["measurement"] == "monitor"


def test_source_is_not_a_measurement_for_metrics():
    text = error_of({"guance": {"points": {"metric": [{"source": "cpu", "time": T0}]}}})
    assert text == "guance.points.metric[0].measurement: expected a non-empty string"


def test_number_tags_become_strings():
    scenario = scenarios.from_dict({"guance": {"points": {"metric": [
        point(tags={"port": 8080, "ratio": 0.5, "name": "web"})]}}})
    assert scenario.points["M"][0]["tags"] == {"port": "8080", "ratio": "0.5", "name": "web"}


@pytest.mark.parametrize("value", [{"a": 1}, ["a"], None])
def test_nested_or_null_tags_are_rejected(value):
    text = error_of({"guance": {"points": {"metric": [point(tags={"ok": "x", "bad": value})]}}})
    assert text == "guance.points.metric[0].tags.bad: expected a string"


def test_studio_entries_get_defaults():
    scenario = scenarios.from_dict({"guance": {"studio": [{"check": "spot-alive", "title": "t"}]}})
    assert scenario.studio == [{"check": "spot-alive", "title": "t", "callKwargs": {}, "disabled": False}]
    assert scenario.studio_for("spot-alive")["title"] == "t"
    assert scenario.studio_for("k8s-pod-restart") is None


def test_sandbox_settings_override_defaults():
    scenario = scenarios.from_dict({"sandbox": {"guance_api_key": "k-1", "faults": [{"status": 503, "times": 1}]}})
    assert scenario.sandbox["guance_api_key"] == "k-1"
    assert scenario.sandbox["guance_api_key_id"] == "sandbox-api-key-id"
    assert scenario.sandbox["faults"] == [{"status": 503, "times": 1}]


# -- files ---------------------------------------------------------------------------------------

def test_load_a_file(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"name": u"抢占式", "runs": [T0]}, ensure_ascii=False), encoding="utf-8")
    scenario = scenarios.load(str(path))
    assert scenario.name == u"抢占式" and scenario.source == "s.json"


def test_load_a_missing_file(tmp_path):
    path = str(tmp_path / "missing.json")
    with pytest.raises(ScenarioError) as info:
        scenarios.load(path)
    assert str(info.value).startswith("%s: cannot read the scenario" % path)


def test_load_bad_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(u'{"runs": [', encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        scenarios.load(str(path))
    assert str(info.value).startswith("%s: not valid JSON" % path)
