"""Retries inside the run's deadline, and the Guance OpenAPI client over HTTP (mocked with `responses`)."""
import json

import pytest
import requests
import responses

from guance_monitor import openapi
from guance_monitor import redact
from guance_monitor import retry
from guance_monitor.openapi import GuanceAPIError, GuanceConfigError, GuanceOpenAPI

BASE = "https://openapi.example.test"
KEY_ID = "key-id-0a1b2c3d"
KEY = "key-secret-9z8y7x6w"


@pytest.fixture(autouse=True)
def fresh_secrets(monkeypatch):
    monkeypatch.setattr(redact, "_secrets", set())


class Flaky(object):
    """A callable failing with the given exceptions in turn, then returning ``value``."""

    def __init__(self, failures, value="done"):
        self.failures = list(failures)
        self.value = value
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.value


# -- retry.call -------------------------------------------------------------------------------

def test_retries_transient_failures_then_returns(fake_sleep):
    fn = Flaky([retry.Transient("busy"), retry.Transient("busy")])
    assert retry.call(fn, base_delay=1, max_delay=8) == "done"
    assert fn.calls == 3
    assert len(fake_sleep.waits) == 2
    assert 0.5 <= fake_sleep.waits[0] <= 1 and 1 <= fake_sleep.waits[1] <= 2  # full-jitter backoff


def test_honours_retry_after(fake_sleep):
    fn = Flaky([retry.Transient("slow down", retry_after=2.5), retry.Transient("again", retry_after=0)])
    assert retry.call(fn) == "done"
    assert fake_sleep.waits == [2.5]  # a zero wait is no sleep at all


def test_stops_at_attempts_and_raises_the_last_error(fake_sleep):
    errors = [retry.Transient("fail %d" % i) for i in range(10)]
    fn = Flaky(errors)
    with pytest.raises(retry.Transient) as info:
        retry.call(fn, attempts=3)
    assert str(info.value) == "fail 2"
    assert fn.calls == 3 and len(fake_sleep.waits) == 2


def test_never_sleeps_past_the_deadline(fake_sleep):
    deadline = retry.Deadline(10)
    fn = Flaky([retry.Transient("x", retry_after=4)] * 10)
    with pytest.raises(retry.Transient):
        retry.call(fn, deadline=deadline, attempts=10)
    assert fake_sleep.waits == [4, 4]  # a third wait of 4 s would end past the 10 s budget
    assert sum(fake_sleep.waits) <= 10
    assert fn.calls == 3


def test_retry_after_longer_than_the_deadline_gives_up_at_once(fake_sleep):
    fn = Flaky([retry.Transient("x", retry_after=30)])
    with pytest.raises(retry.Transient):
        retry.call(fn, deadline=retry.Deadline(20))
    assert fn.calls == 1 and fake_sleep.waits == []


def test_backoff_within_a_deadline_never_overruns(fake_sleep):
    deadline = retry.Deadline(5)
    fn = Flaky([retry.Transient("x")] * 50)
    with pytest.raises(retry.Transient):
        retry.call(fn, deadline=deadline, attempts=50, base_delay=1, max_delay=8)
    assert sum(fake_sleep.waits) <= 5


def test_non_transient_raises_at_once(fake_sleep):
    fn = Flaky([KeyError("bug")])
    with pytest.raises(KeyError):
        retry.call(fn)
    assert fn.calls == 1 and fake_sleep.waits == []


def test_classify_decides_and_on_retry_is_told(fake_sleep):
    seen = []
    fn = Flaky([IOError("reset"), IOError("reset"), ValueError("fatal")])
    with pytest.raises(ValueError):
        retry.call(fn, classify=lambda exc: (isinstance(exc, IOError), 1.0),
                   on_retry=lambda attempt, exc, delay: seen.append((attempt, str(exc), delay)))
    assert seen == [(1, "reset", 1.0), (2, "reset", 1.0)]
    assert fake_sleep.waits == [1.0, 1.0]


def test_classify_may_return_a_bool(fake_sleep):
    fn = Flaky([IOError("reset")])
    assert retry.call(fn, classify=lambda exc: True, base_delay=0.5) == "done"
    assert len(fake_sleep.waits) == 1 and 0.25 <= fake_sleep.waits[0] <= 0.5


def test_backoff_bounds():
    for attempt in range(1, 10):
        ceiling = min(8.0, 0.5 * 2 ** (attempt - 1))
        for _ in range(20):
            assert ceiling / 2 <= retry.backoff(attempt) <= ceiling


def test_deadline(fake_sleep):
    deadline = retry.Deadline(10)
    assert deadline.remaining() == 10 and not deadline.expired()
    fake_sleep(4)
    assert deadline.remaining() == 6
    assert deadline.cap(20) == 6 and deadline.cap(2) == 2
    assert deadline.child(0.5).remaining() == 3
    fake_sleep(7)
    assert deadline.remaining() == 0 and deadline.expired()
    assert deadline.cap(5) == 0.001
    unlimited = retry.Deadline(None)
    assert unlimited.remaining() is None and not unlimited.expired() and unlimited.cap(5) == 5
    assert unlimited.child(0.5).remaining() is None


# -- resolve_node ------------------------------------------------------------------------------

@pytest.mark.parametrize("node, url", [
    ("default", "https://openapi.guance.com"),
    ("cn3", "https://cn3-openapi.guance.com"),
    ("CN6", "https://cn6-openapi.guance.one"),
    (" us1 ", "https://us1-openapi.guance.com"),
    ("eu1", "https://eu1-openapi.guance.one"),
    ("ap1", "https://ap1-openapi.guance.one"),
    ("aws", "https://aws-openapi.guance.com"),
    (None, "https://openapi.guance.com"),
    ("", "https://openapi.guance.com"),
    ("   ", "https://openapi.guance.com"),
    ("https://openapi.private.example/", "https://openapi.private.example"),
    ("http://127.0.0.1:9529", "http://127.0.0.1:9529"),
])
def test_resolve_node(node, url):
    assert openapi.resolve_node(node) == url


def test_resolve_node_unknown_key_lists_the_keys():
    with pytest.raises(GuanceConfigError) as info:
        openapi.resolve_node("cn9")
    text = str(info.value)
    assert text.startswith("unknown guance_node 'cn9': use one of ap1, aws, cn3, cn4, cn5, cn6, default, eu1, us1")
    assert "leave it empty" in text


def test_resolve_node_refuses_a_non_string():
    with pytest.raises(GuanceConfigError) as info:
        openapi.resolve_node(3)
    assert str(info.value) == "guance_node must be a node key or a URL, got 3"


# -- the client -------------------------------------------------------------------------------

@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def client(**kwargs):
    return GuanceOpenAPI(KEY_ID, KEY, BASE, **kwargs)


def ok(content):
    return {"code": 200, "success": True, "errorCode": "", "message": "", "content": content}


@pytest.mark.parametrize("key_id, key, name", [
    ("", KEY, "api_key_id"), ("  ", KEY, "api_key_id"), (None, KEY, "api_key_id"),
    (KEY_ID, "", "api_key"), (KEY_ID, None, "api_key"),
])
def test_empty_key_says_what_to_fill_in(key_id, key, name):
    with pytest.raises(GuanceConfigError) as info:
        GuanceOpenAPI(key_id, key)
    assert str(info.value).startswith("the account's %s is empty: fill in your Guance API key" % name)


def test_bad_node_is_refused_when_the_client_is_made():
    with pytest.raises(GuanceConfigError):
        GuanceOpenAPI(KEY_ID, KEY, "nowhere")


def test_sends_the_key_id_as_df_api_key_and_never_the_key(mock):
    mock.add(responses.POST, BASE + "/api/v1/df/query_data_v1", json=ok({"data": []}))
    assert client().post("/api/v1/df/query_data_v1", {"queries": [u"查询"]}) == {"data": []}
    request = mock.calls[0].request
    assert request.headers["DF-API-KEY"] == KEY_ID
    assert request.headers["Content-Type"].startswith("application/json")
    assert json.loads(request.body.decode("utf-8")) == {"queries": [u"查询"]}
    assert KEY not in json.dumps(dict(request.headers)) and KEY.encode() not in request.body


def test_get_passes_params_and_unwraps_the_envelope(mock):
    mock.add(responses.GET, BASE + "/api/v1/self_built_checker/get",
             json=ok({"uuid": "rul_1", "refKey": "abc"}))
    content = client().get("/api/v1/self_built_checker/get", refKey="abc")
    assert content == {"uuid": "rul_1", "refKey": "abc"}
    assert mock.calls[0].request.url == BASE + "/api/v1/self_built_checker/get?refKey=abc"


def test_429_with_retry_after_is_retried_then_succeeds(mock, fake_sleep):
    url = BASE + "/api/v1/workspace/get"
    mock.add(responses.GET, url, status=429, headers={"Retry-After": "3"},
             json={"success": False, "errorCode": "ft.TooManyRequests", "message": "slow down"})
    mock.add(responses.GET, url, json=ok({"uuid": "wksp_1", "token": "tkn_secret_1"}))
    api = client()
    assert api.get("/api/v1/workspace/get") == {"uuid": "wksp_1", "token": "tkn_secret_1"}
    assert len(mock.calls) == 2 and api.calls == 2
    assert fake_sleep.waits == [3.0]


def test_500_is_retried(mock, fake_sleep):
    url = BASE + "/api/v1/x"
    mock.add(responses.GET, url, status=500, body="Internal Server Error")
    mock.add(responses.GET, url, status=503, json={"success": False, "message": "down"})
    mock.add(responses.GET, url, json=ok([1]))
    assert client().get("/api/v1/x") == [1]
    assert len(mock.calls) == 3 and len(fake_sleep.waits) == 2


def test_500_every_time_gives_up_after_the_attempts(mock, fake_sleep):
    mock.add(responses.POST, BASE + "/api/v1/x", status=502, body="<html>Bad Gateway</html>")
    with pytest.raises(GuanceAPIError) as info:
        client().request("POST", "/api/v1/x", body={}, attempts=3)
    assert len(mock.calls) == 3
    assert str(info.value) == "Guance OpenAPI /api/v1/x failed: HTTP 502, <html>Bad Gateway</html>"
    assert info.value.status == 502 and info.value.transient


def test_400_is_not_retried_and_shows_the_server_message(mock, fake_sleep):
    mock.add(responses.POST, BASE + "/api/v1/self_built_checker/create", status=400,
             json={"success": False, "errorCode": "ft.InvalidArgs", "message": "title is required"})
    with pytest.raises(GuanceAPIError) as info:
        client().post("/api/v1/self_built_checker/create", {})
    assert len(mock.calls) == 1 and fake_sleep.waits == []
    assert str(info.value) == ("Guance OpenAPI /api/v1/self_built_checker/create failed: "
                               "HTTP 400, ft.InvalidArgs, title is required")
    assert info.value.code == "ft.InvalidArgs" and not info.value.transient


def test_success_false_raises_with_the_error_code_and_message(mock, fake_sleep):
    mock.add(responses.GET, BASE + "/api/v1/self_built_checker/get", status=200,
             json={"code": 200, "success": False, "errorCode": "ft.NotFound", "message": "rule not found"})
    with pytest.raises(GuanceAPIError) as info:
        client().get("/api/v1/self_built_checker/get", refKey="abc")
    text = str(info.value)
    assert "ft.NotFound" in text and "rule not found" in text
    assert text.startswith("Guance OpenAPI /api/v1/self_built_checker/get failed")
    assert len(mock.calls) == 1 and fake_sleep.waits == []


def test_success_false_does_not_claim_a_status_the_server_did_not_send(mock):
    mock.add(responses.GET, BASE + "/api/v1/x", status=200,
             json={"code": 200, "success": False, "errorCode": "ft.NotFound", "message": "rule not found"})
    with pytest.raises(GuanceAPIError) as info:
        client().get("/api/v1/x")
    assert "HTTP 400" not in str(info.value)


def test_non_json_answer_is_an_error(mock):
    mock.add(responses.GET, BASE + "/api/v1/x", status=200, body="<html>login</html>")
    with pytest.raises(GuanceAPIError) as info:
        client().get("/api/v1/x")
    assert "<html>login</html>" in str(info.value)


def test_error_text_never_contains_the_key_or_key_id(mock, fake_sleep):
    echoed = "key %s with secret %s is not valid" % (KEY_ID, KEY)
    mock.add(responses.GET, BASE + "/api/v1/a", status=401,
             json={"success": False, "errorCode": "ft.AuthFailed", "message": echoed})
    mock.add(responses.GET, BASE + "/api/v1/b", status=500, body="DF-API-KEY: %s rejected" % KEY_ID)
    api = client()
    texts = []
    for path in ("/api/v1/a", "/api/v1/b"):
        with pytest.raises(GuanceAPIError) as info:
            api.get(path)
        texts.append(str(info.value))
    for text in texts:
        assert KEY not in text and KEY_ID not in text
    assert texts[0] == "Guance OpenAPI /api/v1/a failed: HTTP 401, ft.AuthFailed, key *** with secret *** is not valid"
    assert redact.describe_error(info.value).startswith("GuanceAPIError: Guance OpenAPI /api/v1/b failed")


def test_connection_errors_are_retried_and_described_without_the_url(mock, fake_sleep):
    mock.add(responses.GET, BASE + "/api/v1/x", body=requests.ConnectionError("refused " + KEY_ID))
    with pytest.raises(GuanceAPIError) as info:
        client().request("GET", "/api/v1/x", attempts=2)
    assert str(info.value) == "Guance OpenAPI /api/v1/x failed: connection failed (ConnectionError)"
    assert len(mock.calls) == 2 and len(fake_sleep.waits) == 1


def test_deadline_stops_retrying_a_long_retry_after(mock, fake_sleep):
    mock.add(responses.GET, BASE + "/api/v1/x", status=429, headers={"Retry-After": "120"},
             json={"success": False, "errorCode": "ft.TooManyRequests", "message": "later"})
    with pytest.raises(GuanceAPIError) as info:
        client(deadline=retry.Deadline(60)).get("/api/v1/x")
    assert info.value.status == 429
    assert len(mock.calls) == 1 and fake_sleep.waits == []


def test_workspace_token_is_secret(mock):
    mock.add(responses.GET, BASE + "/api/v1/workspace/get",
             json=ok({"uuid": "wksp_1", "token": "tkn_workspace_77", "language": "zh"}))
    api = client()
    assert api.workspace() == {"uuid": "wksp_1", "token": "tkn_workspace_77", "language": "zh"}
    assert redact.redact("token tkn_workspace_77") == "token ***"


def test_workspace_without_a_token_is_an_error(mock):
    mock.add(responses.GET, BASE + "/api/v1/workspace/get", json=ok({"uuid": "wksp_1"}))
    with pytest.raises(GuanceAPIError) as info:
        client().workspace()
    assert "workspace uuid or token missing" in str(info.value)


# -- outer functions -------------------------------------------------------------------------

EXECUTE = BASE + "/api/v1/outer_function/execute"
EFUNC_FAILED = {"detail": {"einfoTEXT": "KeyError: 'title'", "id": "task-1"}, "error": 599.3,
                "message": "Calling Function failed", "ok": False, "reason": "EFuncFailed"}


def test_execute_outer_function_sends_no_options_and_returns_the_result(mock):
    """``returnType`` takes only the documented values; Func's own client sends no options at all."""
    mock.add(responses.POST, EXECUTE, json=ok({"error": 200, "message": "", "data": {"result": {"count": 1}}}))
    result = client().execute_outer_function("guance__openapi.report_event",
                                             {"workspace_uuid": "wksp_1", "data": [{"title": "t"}]})
    assert result == {"count": 1}
    assert json.loads(mock.calls[0].request.body.decode("utf-8")) == {
        "funcId": "guance__openapi.report_event",
        "funcBody": {"kwargs": {"workspace_uuid": "wksp_1", "data": [{"title": "t"}]}}}


def test_execute_outer_function_without_data_returns_none(mock):
    mock.add(responses.POST, EXECUTE, json=ok({"error": 200}))
    assert client().execute_outer_function("guance__openapi.report_event", {}) is None


def test_an_unexpected_content_shape_is_still_a_success(mock):
    mock.add(responses.POST, EXECUTE, json=ok("unexpected"))
    assert client().execute_outer_function("guance__openapi.report_event", {}) is None


def test_efuncfailed_is_a_definite_refusal_and_not_retried(mock, fake_sleep):
    mock.add(responses.POST, EXECUTE, json=ok(EFUNC_FAILED))
    with pytest.raises(GuanceAPIError) as info:
        client().execute_outer_function("guance__openapi.report_event", {})
    error = info.value
    assert error.kind == "refused" and error.refused and not error.maybe_arrived
    assert "EFuncFailed" in str(error) and "599.3" in str(error) and "KeyError: 'title'" in str(error)
    assert len(mock.calls) == 1 and fake_sleep.waits == []


def test_a_function_that_failed_otherwise_may_have_run_and_is_not_sent_again(mock, fake_sleep):
    mock.add(responses.POST, EXECUTE, json=ok({"error": 599.5, "message": "EFuncTimeout", "reason": "EFuncTimeout"}))
    with pytest.raises(GuanceAPIError) as info:
        client().execute_outer_function("guance__openapi.report_event", {})
    assert info.value.kind == "server" and info.value.maybe_arrived
    assert len(mock.calls) == 1


def test_execute_retries_only_what_certainly_did_not_arrive(mock, fake_sleep):
    mock.add(responses.POST, EXECUTE, body=requests.ConnectionError(
        "HTTPSConnectionPool: Max retries exceeded (Caused by NewConnectionError: Failed to establish a new "
        "connection: [Errno 111] Connection refused)"))
    mock.add(responses.POST, EXECUTE, status=401, json={"success": False, "errorCode": "ft.TriggerApiAkCurrentLimiting",
                                                        "message": "limit"})
    mock.add(responses.POST, EXECUTE, json=ok({"error": 200, "data": {"result": "ok"}}))
    assert client().execute_outer_function("guance__openapi.report_event", {}) == "ok"
    assert len(mock.calls) == 3


@pytest.mark.parametrize("answer, kind", [
    (dict(status=401, json={"success": False, "errorCode": "ft.TriggerApiAkCurrentLimiting", "message": "x"}),
     "rate_limited"),
    (dict(status=401, json={"success": False, "errorCode": "ft.TriggerApiWorkspaceCurrentLimiting"}), "rate_limited"),
    (dict(status=403, json={"success": False, "errorCode": "ft.InvalidAPIKey", "message": "bad key"}), "account"),
    (dict(status=400, json={"success": False, "errorCode": "ft.InvalidParam", "message": "no"}), "refused"),
    (dict(status=200, json={"success": False, "errorCode": "ft.Refused", "message": "no"}), "refused"),
    (dict(status=200, body="<html>gateway</html>"), "malformed"),
    (dict(status=502, body="<html>bad gateway</html>"), "server"),
    (dict(status=404, body="not found"), "malformed"),
])
def test_every_answer_has_a_kind(mock, fake_sleep, answer, kind):
    mock.add(responses.GET, BASE + "/api/v1/x", **answer)
    with pytest.raises(GuanceAPIError) as info:
        client().request("GET", "/api/v1/x", attempts=1)
    assert info.value.kind == kind


def test_a_rate_limit_answer_holds_every_request_on_the_key(mock, fake_sleep):
    from guance_monitor import pacer as pacing
    from guance_monitor import state
    store = state.MemoryStore()
    mock.add(responses.GET, BASE + "/api/v1/x", status=401, headers={"Retry-After": "7"},
             json={"success": False, "errorCode": "ft.TriggerApiAkCurrentLimiting"})
    mock.add(responses.GET, BASE + "/api/v1/x", json=ok({"a": 1}))
    from guance_monitor import clock
    with clock.frozen("2026-11-20T08:00:00Z"):        # the held wall clock moves by what is slept
        api = GuanceOpenAPI(KEY_ID, KEY, BASE, pacer=pacing.Pacer(store, KEY_ID))
        other = pacing.Pacer(store, KEY_ID)           # another inspection on the same key
        assert api.get("/api/v1/x") == {"a": 1}
        assert 7 <= sum(fake_sleep.waits) < 8         # waited out the server's Retry-After through the pacer
        assert other._try_take() == 0                 # the hold is over for everyone
