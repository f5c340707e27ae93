"""Fault effects for the reliability work: wrong answers, stripped keys, endless paging, random injection.

Guance is driven with ``requests``, ECS and CMS with the official Alibaba Cloud SDK."""
import pytest
import requests
from alibabacloud_tea_openapi.exceptions import ClientException
from darabonba.exceptions import UnretryableException

from guance_monitor_local import scenario as scenarios
from guance_monitor_local.sandbox import Sandbox
from guance_monitor_local.sandbox.faults import FaultPlan, strip_paths

from test_sandbox_aliyun import (HZ, _environment, _history, _instances, _system_events, cms, ecs,  # noqa: F401
                                 sandbox, scenario, scenario_data)

KEY = "sandbox-api-key-id"
EXECUTE = "/api/v1/outer_function/execute"
WORKSPACE = "/api/v1/workspace/get"
V1 = "/api/v1/df/query_data_v1"
T0 = 1700006400000


def guance_data(faults, seed=None):
    data = {"runs": [T0 + 600000],
            "guance": {"points": {"logging": [{"measurement": "app", "time": T0 + i * 1000,
                                               "fields": {"n": i}} for i in range(30)]}},
            "sandbox": {"faults": faults, "guance": {"rate_limit": False}}}   # many requests in one instant
    if seed is not None:
        data["sandbox"]["fault_seed"] = seed
    return data


def event_body(box):
    workspace = box.scenario.workspace
    return {"funcId": "guance__openapi.report_event",
            "funcBody": {"kwargs": {"workspace_uuid": workspace["uuid"], "workspace_token": workspace["token"],
                                    "data": [{"title": "t", "message": "m", "status": "info",
                                              "dimension_tags": {"a": "b"}}]}}}


def get(box, path):
    return requests.get(box.url + path, headers={"DF-API-KEY": KEY}, timeout=10)


def post(box, path, body):
    return requests.post(box.url + path, json=body, headers={"DF-API-KEY": KEY}, timeout=10)


def dql(box, q, **fields):
    query = {"q": q, "timeRange": [T0, T0 + 600000], "disableMultipleField": False}
    query.update(fields)
    return post(box, V1, {"queries": [{"qtype": "dql", "query": query}]})


# -- wrong answers ---------------------------------------------------------------------------

def test_raw_body_answers_200_with_text_after_the_request_was_handled(make_sandbox):
    box = make_sandbox(guance_data([{"service": "guance", "action": EXECUTE, "body": "<html>gateway</html>",
                                     "times": 1}]))
    response = post(box, EXECUTE, event_body(box))
    assert response.status_code == 200 and response.text == "<html>gateway</html>"
    assert response.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        response.json()
    assert len(box.events) == 1                                   # it arrived: the answer was lost on the way
    assert box.calls[-1]["fault"] == "body"
    assert post(box, EXECUTE, event_body(box)).json()["success"] is True


def test_raw_body_with_a_status(make_sandbox):
    box = make_sandbox(guance_data([{"service": "guance", "action": WORKSPACE, "status": 502,
                                     "body": "<html>Bad Gateway</html>"}]))
    response = get(box, WORKSPACE)
    assert (response.status_code, response.text) == (502, "<html>Bad Gateway</html>")


def test_json_replaces_the_real_answer(make_sandbox):
    box = make_sandbox(guance_data([{"service": "guance", "action": EXECUTE,
                                     "json": {"success": True, "content": "unexpected"}}]))
    response = post(box, EXECUTE, event_body(box))
    assert response.status_code == 200 and response.json() == {"success": True, "content": "unexpected"}
    assert len(box.events) == 1 and box.calls[-1]["fault"] == "json"
    nothing = make_sandbox(guance_data([{"service": "guance", "action": WORKSPACE, "json": None}]))
    assert get(nothing, WORKSPACE).text == "null"


def test_strip_removes_keys_from_the_guance_answer(make_sandbox):
    box = make_sandbox(guance_data([{"service": "guance", "action": V1, "strip": ["content.data"], "times": 1},
                                    {"service": "guance", "action": V1, "strip": ["content.data.*.series"]}]))
    first = dql(box, "L::app:(n)").json()
    assert first["success"] is True and first["content"] == {}
    second = dql(box, "L::app:(n)").json()["content"]["data"][0]
    assert "series" not in second and second["total_hits"] == 30
    assert [c.get("fault") for c in box.calls] == ["strip", "strip"]


def test_strip_paths_edits_lists_and_skips_what_is_missing():
    document = {"a": [{"b": 1, "c": 2}, {"b": 3}], "d": {"e": [1, 2, 3]}}
    assert strip_paths(document, ["a.*.b", "d.e.1", "x.y", "a.7", "d.e.z"]) == {"a": [{"c": 2}, {}],
                                                                                 "d": {"e": [1, 3]}}
    assert strip_paths({"l": [1, 2]}, ["l.*"]) == {"l": []}


def test_strip_removes_list_keys_from_ecs_answers(sandbox, ecs):
    sandbox.faults.add(service="ecs", action="DescribeInstances", strip=["Instances"], times=1)
    body = _instances(ecs)
    assert body.instances is None and body.total_count == 26      # the SDK reads a missing list as None
    assert len(_instances(ecs).instances.instance) == 10
    sandbox.faults.add(service="ecs", action="DescribeSpotPriceHistory", strip=["SpotPrices"])
    prices = _history(ecs)
    assert prices.spot_prices is None and prices.currency == "CNY"


def test_raw_body_breaks_the_sdk_answer(sandbox, ecs):
    sandbox.faults.add(service="ecs", action="DescribeInstances", body="<html>oops</html>", times=1)
    with pytest.raises(UnretryableException) as caught:
        _instances(ecs)
    assert not isinstance(caught.value, ClientException)           # not an API error: an unreadable answer
    assert "json" in str(caught.value).lower()
    assert _instances(ecs).total_count == 26


# -- endless paging --------------------------------------------------------------------------

def test_endless_describe_instances_always_has_a_next_token(sandbox, ecs):
    sandbox.faults.add(service="ecs", action="DescribeInstances", endless=True)
    token, seen = None, []
    for _ in range(10):
        body = _instances(ecs, max_results=10, **({"next_token": token} if token else {}))
        assert len(body.instances.instance) == 10 and body.next_token
        seen.extend(i.instance_id for i in body.instances.instance)
        token = body.next_token
    assert len(seen) == 100 and len(set(seen)) == 26               # wrapped around: full pages, repeats
    paged = _instances(ecs, page_number=40, page_size=10)
    assert len(paged.instances.instance) == 10 and paged.total_count > 400
    assert sandbox.calls[-1]["fault"] == "endless"


def test_endless_price_history_has_a_growing_next_offset(sandbox, ecs):
    sandbox.faults.add(service="ecs", action="DescribeSpotPriceHistory", endless=True)
    offset = 0
    for expected in (1000, 2000, 3000, 4000):
        body = _history(ecs, offset=offset)
        assert body.next_offset == expected and body.spot_prices.spot_price_type
        offset = body.next_offset


def test_endless_cms_pages_are_always_full(sandbox, cms):
    sandbox.faults.add(service="cms", endless=True)
    for page in (1, 2, 50):
        assert len(_system_events(cms, page_number=page, page_size=10)) == 10


# -- random injection ------------------------------------------------------------------------

def statuses(box, count=120):
    return [get(box, WORKSPACE).status_code for _ in range(count)]


def test_probability_with_a_seed_is_random_and_reproducible(make_sandbox):
    faults = [{"service": "guance", "action": WORKSPACE, "status": 503, "probability": 0.25}]
    first = statuses(make_sandbox(guance_data(faults, seed=11)))
    assert 10 <= first.count(503) <= 55 and first.count(200) + first.count(503) == 120
    assert statuses(make_sandbox(guance_data(faults, seed=11))) == first
    assert statuses(make_sandbox(guance_data(faults, seed=12))) != first
    never = [dict(faults[0], probability=0)]
    assert set(statuses(make_sandbox(guance_data(never)), 30)) == {200}
    always = [dict(faults[0], probability=1)]
    assert set(statuses(make_sandbox(guance_data(always)), 30)) == {503}


def test_probability_counts_only_hits_toward_times_and_mixes_effects(make_sandbox):
    faults = [{"service": "guance", "action": WORKSPACE, "status": 429, "retry_after": 1, "probability": 0.5,
               "times": 3},
              {"service": "guance", "action": WORKSPACE, "latency_ms": 1, "probability": 0.5},
              {"service": "guance", "action": WORKSPACE, "json": {"success": False}, "probability": 0.2}]
    box = make_sandbox(guance_data(faults, seed=3))
    codes = statuses(box, 80)
    assert codes.count(429) == 3
    labels = set(c.get("fault") for c in box.calls)
    assert {"status", "latency", "json", None} <= labels


def test_fault_plan_draws_from_its_seed():
    def draws(seed):
        plan = FaultPlan([{"status": 500, "probability": 0.5}], seed=seed)
        return [bool(plan.pick("guance", "/x", None, 0)) for _ in range(50)]

    assert draws(1) == draws(1) and draws(1) != draws(2)


def test_fault_draws_of_one_kind_of_request_do_not_depend_on_other_requests():
    """The fault benchmark's runs differed when concurrent calls arrived in another order: each (run, service,
    action, region) draws from its own stream."""
    def pod_run_draws(spot_calls):
        plan = FaultPlan([{"status": 500, "probability": 0.5}], seed=3)
        for _ in range(spot_calls):                       # an earlier run, busier or quieter
            plan.pick("ecs", "DescribeInstances", "cn-hangzhou", 0)
        draws = []
        for index in range(20):
            plan.pick("cms", "DescribeSystemEventAttribute", None, 1)          # interleaved, another kind
            draws.append(bool(plan.pick("guance", "/api/v1/df/query_data_v1", None, 1)))
        return draws

    assert pod_run_draws(0) == pod_run_draws(7) == pod_run_draws(40)
    assert True in pod_run_draws(0) and False in pod_run_draws(0)


@pytest.mark.parametrize("fault,fragment", [
    ({"probability": 1.5}, "sandbox.faults[0].probability: expected a number from 0 to 1"),
    ({"probability": True}, "probability"),
    ({"body": {"x": 1}}, "sandbox.faults[0].body: expected the answer's text"),
    ({"strip": "content.data"}, "sandbox.faults[0].strip: expected a list of dotted paths"),
    ({"strip": [""]}, "strip"),
    ({"endless": "yes"}, "sandbox.faults[0].endless: expected true or false"),
    ({"status": 200}, "sandbox.faults[0].status: expected an HTTP error status 400-599"),
    ({"status": 100, "body": "x"}, "expected an HTTP status 200-599"),
])
def test_fault_keys_are_validated_with_their_path(fault, fragment):
    with pytest.raises(scenarios.ScenarioError) as info:
        scenarios.from_dict({"sandbox": {"faults": [fault]}})
    assert fragment in str(info.value)


def test_the_scenario_seed_reaches_the_plan():
    data = scenario_data()
    data["sandbox"]["fault_seed"] = 5
    data["sandbox"]["faults"] = [{"status": 500, "probability": 0.5}]
    box = Sandbox(scenarios.from_dict(data), services=[])
    same = FaultPlan(data["sandbox"]["faults"], seed=5)
    assert [bool(box.faults.pick("ecs", HZ, HZ, 0)) for _ in range(30)] == \
        [bool(same.pick("ecs", HZ, HZ, 0)) for _ in range(30)]


def test_a_client_gone_before_its_answer_is_not_a_server_error(capsys):
    """A client that timed out (a ``latency_ms`` fault) closes its end; the server's write fails quietly."""
    from guance_monitor_local.sandbox import http

    server = http.SandboxHTTPServer(("127.0.0.1", 0), lambda request: None)
    try:
        for error in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset")):
            try:
                raise error
            except OSError:
                server.handle_error(None, ("127.0.0.1", 1))
        assert capsys.readouterr().err == ""
        try:
            raise ValueError("a sandbox bug")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 1))
        assert "ValueError: a sandbox bug" in capsys.readouterr().err
    finally:
        server.server_close()
