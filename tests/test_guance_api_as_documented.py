"""Issue 11 §2: the OpenAPI calls as Guance documents them, against the sandbox playing the documented shapes."""
import json

import pytest
import responses

from guance_monitor import clock
from guance_monitor import context
from guance_monitor import event_reporter
from guance_monitor import openapi
from guance_monitor import state

from test_core_e2e import run_cli, write_startup

CREATE = "/api/v1/self_built_checker/create"
MODIFY = "/api/v1/self_built_checker/modify"
LIST = "/api/v1/self_built_checker/list"

DISABLED_BY_DEFAULT = u'''
account = {"api_key_id": "{api_key_id}", "api_key": "{api_key}", "guance_node": "{guance_node}"}

from guance_monitor__register import self_hosted_monitor
from guance_monitor__event_reporter import EventReporter
import guance_monitor_k8s_pod_restart__main as main


@self_hosted_monitor(account['api_key_id'], account['api_key'], account['guance_node'])
@DFF.API('Disabled by default', timeout=60)
def run():
    EventReporter().report({"title": "ran", "message": "m", "status": "info"})
'''


@pytest.mark.parametrize("answer", ["empty", "true", "rule"])
def test_whatever_create_answers_the_rule_is_read_from_list(make_sandbox, tmp_path, answer):
    sandbox = make_sandbox({"sandbox": {"guance": {"create_answer": answer}}})
    assert run_cli(write_startup(tmp_path, sandbox), tmp_path) == 0
    assert [c["action"] for c in sandbox.calls if c["action"].startswith("/api/v1/self_built")] == [LIST, CREATE, LIST]
    rule_uuid = list(sandbox.service("guance").rules)[0]
    assert [e["df_monitor_checker_id"] for e in sandbox.events] == [rule_uuid]


@pytest.mark.parametrize("answer", ["empty", "true", "rule"])
def test_an_inspection_created_disabled_does_not_run(make_sandbox, tmp_path, answer):
    sandbox = make_sandbox({"sandbox": {"guance": {"create_answer": answer}}})
    path = tmp_path / "disabled.py"
    text = DISABLED_BY_DEFAULT
    for key, value in (("api_key_id", sandbox.scenario.sandbox["guance_api_key_id"]),
                       ("api_key", sandbox.scenario.sandbox["guance_api_key"]), ("guance_node", sandbox.url)):
        text = text.replace("{%s}" % key, value)
    path.write_text(text, encoding="utf-8")
    assert run_cli(str(path), tmp_path) == 0
    rule = list(sandbox.service("guance").rules.values())[0]
    assert rule["status"] != 0 and sandbox.events == []


def test_modify_sends_the_documented_fields_only(make_sandbox, tmp_path):
    sandbox = make_sandbox({})
    path = write_startup(tmp_path, sandbox)
    assert run_cli(path, tmp_path) == 0
    text = open(path, encoding="utf-8").read().replace("文档示例巡检", "文档示例巡检 v2")
    open(path, "w", encoding="utf-8").write(text)
    bodies = []
    original = sandbox.service("guance").checker_modify

    def recording(body):
        bodies.append(body)
        return original(body)

    sandbox.service("guance").routes[("POST", "self_built_checker/modify")] = recording
    assert run_cli(path, tmp_path) == 0
    assert len(bodies) == 1 and bodies[0]["title"] == u"文档示例巡检 v2"
    assert set(bodies[0]["refFuncInfo"]) == {"description", "definition", "category", "args", "kwargs"}
    rule = list(sandbox.service("guance").rules.values())[0]
    assert rule["jsonScript"]["title"] == u"文档示例巡检 v2"


# -- one refused event does not block the others ---------------------------------------------------------

BASE = "https://openapi.example.test"
EXECUTE = BASE + "/api/v1/outer_function/execute"


def _ctx(store):
    api = openapi.GuanceOpenAPI("key-id-0001", "key-secret-0001", BASE)
    return context.RunContext(api=api, store=store, ref_key="ref-1", rule_uuid="rul_1", title="T")


def _guance_refusing(bad_title):
    """The workspace, and report_event refusing the batches that hold ``bad_title`` (inside @responses.activate)."""
    responses.add(responses.GET, BASE + "/api/v1/workspace/get",
                  json={"code": 200, "success": True, "content": {"uuid": "wksp_1", "token": "tkn_1"}})
    responses.add_callback(responses.POST, EXECUTE, callback=_answer_refusing(bad_title))


def _answer_refusing(bad_title):
    """report_event as Guance runs it: EFuncFailed for a batch holding the event it cannot take."""
    def callback(request):
        data = json.loads(request.body)["funcBody"]["kwargs"]["data"]
        if any(e["title"] == bad_title for e in data):
            content = {"error": 599.3, "message": "Calling Function failed", "reason": "EFuncFailed", "ok": False,
                       "detail": {"einfoTEXT": "ValueError: bad event", "id": "task-1"}}
        else:
            content = {"error": 200, "ok": True, "data": {"result": None}}
        return 200, {}, json.dumps({"code": 200, "success": True, "content": content})
    return callback


@responses.activate
def test_one_refused_event_is_isolated_and_the_others_are_delivered():
    _guance_refusing("e0")
    store = state.MemoryStore()
    with clock.frozen("2026-11-20T08:00:00Z"):
        reporter = event_reporter.EventReporter(_ctx(store))
        outcome = reporter.report([{"title": "e%d" % i, "message": "m", "status": "warning",
                                    "dimension_tags": {"i": str(i)}} for i in range(8)])
    delivered = [e["title"] for call in responses.calls if call.request.url == EXECUTE
                 for e in json.loads(call.request.body)["funcBody"]["kwargs"]["data"]
                 if json.loads(call.response.text)["content"]["error"] == 200]
    assert sorted(delivered) == ["e%d" % i for i in range(1, 8)]      # all but the bad one, at the head
    assert outcome["sent"] == 7 and outcome["pending"] == 1
    executes = [c for c in responses.calls if c.request.url == EXECUTE]
    assert len(executes) <= 7                                          # split in halves, not one by one


@responses.activate
def test_an_event_refused_on_three_runs_is_dropped_and_the_drop_reported():
    _guance_refusing("bad")
    store = state.MemoryStore()
    for minute in (0, 10, 20):
        with clock.frozen("2026-11-20T08:%02d:00Z" % minute):
            reporter = event_reporter.EventReporter(_ctx(store))
            if minute == 0:
                reporter.enqueue([{"title": "bad", "message": "m", "status": "critical"}])
            outcome = reporter.deliver()
    assert outcome["dropped"] == 1
    with clock.frozen("2026-11-20T08:30:00Z"):
        event_reporter.EventReporter(_ctx(store)).deliver()
    last = json.loads(responses.calls[-1].request.body)["funcBody"]["kwargs"]["data"]
    assert len(last) == 1 and last[0]["status"] == "warning"
    assert u"1 events could not be delivered" in last[0]["title"] and "bad" in last[0]["message"]
