"""The sandbox shows what arrived: files appended as things happen, read-only endpoints, the real clock."""
import json

import requests

from guance_monitor import clock
from guance_monitor_local import scenario as scenarios
from guance_monitor_local.sandbox import Sandbox
from guance_monitor_local.sandbox import journal as journals

KEY = {"DF-API-KEY": "sandbox-api-key-id"}
WORKSPACE = {"uuid": "wksp_j", "token": "tkn_j"}
RUNS = ["2026-11-20T08:00:00Z", "2026-11-20T08:30:00Z"]


def report(sandbox, title, status="warning"):
    body = {"funcId": "guance__openapi.report_event", "funcBody": {"kwargs": {
        "workspace_uuid": "wksp_j", "workspace_token": "tkn_j",
        "data": [{"title": title, "message": "# %s\n\nbody" % title, "status": status,
                  "dimension_tags": {"host": "web01"}}]}}}
    answer = requests.post(sandbox.url + "/api/v1/outer_function/execute", json=body, headers=KEY, timeout=5)
    assert answer.status_code == 200 and answer.json()["content"]["error"] == 200


def lines(path):
    with open(str(path), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def make(tmp_path, runs=RUNS):
    scenario = scenarios.from_dict({"runs": runs, "guance": {"workspace": WORKSPACE}})
    return Sandbox(scenario, journal=journals.Journal(str(tmp_path / "out"))).start()


def test_calls_and_events_are_appended_to_files_as_they_happen(tmp_path):
    sandbox = make(tmp_path)
    try:
        sandbox.set_run(1)
        requests.get(sandbox.url + "/api/v1/workspace/get", headers=KEY, timeout=5)
        assert lines(tmp_path / "out" / "calls.jsonl") == [
            {"service": "guance", "action": "/api/v1/workspace/get", "status": 200, "region": None, "run": 1}]
        assert lines(tmp_path / "out" / "events.jsonl") == []
        report(sandbox, "disk full on web01")
        assert lines(tmp_path / "out" / "events.jsonl") == [
            {"run": "2026-11-20T08:30:00Z", "check": None, "title": "disk full on web01", "status": "warning",
             "dimension_tags": {"host": "web01"}, "message": "# disk full on web01\n\nbody"}]
        report_file = tmp_path / "out" / "events" / "001-event-warning.md"
        assert report_file.read_text(encoding="utf-8") == "# disk full on web01\n\n# disk full on web01\n\nbody\n"
        assert len(lines(tmp_path / "out" / "calls.jsonl")) == 2
    finally:
        sandbox.stop()


def test_a_new_sandbox_starts_its_files_afresh(tmp_path):
    first = make(tmp_path)
    try:
        report(first, "old")
    finally:
        first.stop()
    second = make(tmp_path)
    second.stop()
    assert lines(tmp_path / "out" / "events.jsonl") == [] and lines(tmp_path / "out" / "calls.jsonl") == []
    assert list((tmp_path / "out" / "events").iterdir()) == []


def test_read_only_endpoints_answer_the_rows_and_are_not_calls(tmp_path):
    sandbox = make(tmp_path)
    try:
        sandbox.set_run(0)
        report(sandbox, "first")
        report(sandbox, "second", "ok")
        events = requests.get(sandbox.url + "/_sandbox/events", timeout=5).json()
        assert [(e["title"], e["status"], e["run"]) for e in events] == [
            ("first", "warning", "2026-11-20T08:00:00Z"), ("second", "ok", "2026-11-20T08:00:00Z")]
        assert events == lines(tmp_path / "out" / "events.jsonl")
        assert [e["title"] for e in requests.get(sandbox.url + "/_sandbox/events?since=1", timeout=5).json()] == \
            ["second"]
        calls = requests.get(sandbox.url + "/_sandbox/calls", timeout=5).json()
        assert [c["action"] for c in calls] == ["/api/v1/outer_function/execute"] * 2
        refused = requests.post(sandbox.url + "/_sandbox/events", json={}, timeout=5)
        assert refused.status_code == 405 and "read-only" in refused.json()["error"]
        missing = requests.get(sandbox.url + "/_sandbox/state", timeout=5)
        assert missing.status_code == 404 and "/_sandbox/calls, /_sandbox/events" in missing.json()["error"]
        assert requests.get(sandbox.url + "/_sandbox/calls?since=x", timeout=5).status_code == 400
        assert len(sandbox.calls) == 2   # reading what arrived is not a call
    finally:
        sandbox.stop()


def test_following_real_time_the_run_is_the_last_that_has_come(tmp_path):
    sandbox = make(tmp_path)
    try:
        sandbox.follow_real_time()
        with clock.frozen("2026-11-20T07:59:59Z"):
            assert sandbox.run_index is None
            assert sandbox.now_ms() == clock.to_ms(clock.parse_time("2026-11-20T07:59:59Z"))
        with clock.frozen("2026-11-20T08:29:00Z"):
            assert sandbox.run_index == 0
            report(sandbox, "during the first run")
        with clock.frozen("2026-11-21T00:00:00Z"):
            assert sandbox.run_index == 1
        assert [e["run"] for e in sandbox.event_rows()] == ["2026-11-20T08:00:00Z"]
        sandbox.set_run(1)
        with clock.frozen("2026-11-20T07:00:00Z"):
            assert sandbox.run_index == 1   # held again
    finally:
        sandbox.stop()
