"""Events reach Guance through faults: retried when they certainly did not arrive, looked up before being sent
again when they may have, kept in the outbox across runs — at least once, never twice (Guance does not deduplicate)."""
from guance_monitor import clock

from test_core_e2e import run_cli, write_startup

EXECUTE = "/api/v1/outer_function/execute"
QUERY = "/api/v1/df/query_data_v1"
LIST = "/api/v1/self_built_checker/list"


def scenario(faults, **guance):
    data = {"runs": ["2026-11-20T08:00:00Z", "2026-11-20T08:05:00Z", "2026-11-20T08:10:00Z"],
            "sandbox": {"faults": faults}}
    if guance:
        data["sandbox"]["guance"] = guance
    return data


def run_each(sandbox, path, tmp_path, runs):
    codes = []
    for index in runs:
        sandbox.set_run(index)
        with clock.frozen(sandbox.scenario.runs[index]):
            codes.append(run_cli(path, tmp_path))
    return codes


def statuses(sandbox, action=EXECUTE):
    return [c["status"] for c in sandbox.calls_of("guance", action)]


def test_what_certainly_did_not_arrive_is_retried_within_the_run(make_sandbox, tmp_path):
    """A rate-limit answer and a 5xx in Guance's own envelope: the service said it did not take the events."""
    sandbox = make_sandbox(scenario([
        {"service": "guance", "action": EXECUTE, "status": 503, "times": 1},
        {"service": "guance", "action": EXECUTE, "status": 429, "retry_after": 2, "times": 1}]))
    run_each(sandbox, write_startup(tmp_path, sandbox), tmp_path, [0])
    assert len(sandbox.events) == 1
    assert statuses(sandbox) == [503, 429, 200]


def test_a_broken_connection_may_have_arrived_so_it_is_looked_up_next_run_then_sent_once(make_sandbox, tmp_path):
    sandbox = make_sandbox(scenario([{"service": "guance", "action": EXECUTE, "drop": True, "runs": [0]}]))
    path = write_startup(tmp_path, sandbox)
    run_each(sandbox, path, tmp_path, [0])
    assert sandbox.events == [] and statuses(sandbox) == ["dropped"]   # not sent again blindly
    run_each(sandbox, path, tmp_path, [1])
    # run 1 looked for run 0's event in Guance, did not find it, sent it, then its own
    assert [c["run"] for c in sandbox.calls_of("guance", QUERY)] == [1]
    assert [e["run"] for e in sandbox.events] == [1, 1]
    assert len(set(e["df_event_id"] for e in sandbox.events)) == 2
    late = sandbox.events[0]["message"]
    assert u"延迟送达" in late and "Delivered late: detected at 2026-11-20 16:00:00" in late


def test_a_gateway_timeout_after_guance_stored_the_events_is_not_sent_twice(make_sandbox, tmp_path):
    """A 504 page from a gateway while the backend did the work: found by the look-up, not sent again."""
    sandbox = make_sandbox(scenario([{"service": "guance", "action": EXECUTE, "status": 504, "runs": [0],
                                      "body": "<html>504 Gateway Time-out</html>"}]))
    path = write_startup(tmp_path, sandbox)
    run_each(sandbox, path, tmp_path, [0, 1])
    assert statuses(sandbox) == [504, 200]
    assert [e["run"] for e in sandbox.events] == [0, 1]
    assert len(set(e["df_event_id"] for e in sandbox.events)) == 2


def test_a_batch_stored_before_the_connection_broke_is_not_sent_twice(make_sandbox, tmp_path):
    sandbox = make_sandbox(scenario([{"service": "guance", "action": EXECUTE, "drop_after_handling": True,
                                      "times": 1}]))
    path = write_startup(tmp_path, sandbox)
    run_each(sandbox, path, tmp_path, [0, 1])
    assert statuses(sandbox) == ["dropped-after-handling", 200]   # run 1 sent only its own event
    assert len(sandbox.events) == 2 and len(set(e["df_event_id"] for e in sandbox.events)) == 2
    assert [e["run"] for e in sandbox.events] == [0, 1]


def test_the_look_up_waits_until_guance_can_see_the_event(make_sandbox, tmp_path):
    """Stored, but not yet queryable a minute later: the event waits rather than being sent twice."""
    data = scenario([{"service": "guance", "action": EXECUTE, "drop_after_handling": True, "times": 1}],
                    event_visible_after_s=100)
    data["runs"] = ["2026-11-20T08:00:00Z", "2026-11-20T08:01:00Z", "2026-11-20T08:02:00Z"]
    sandbox = make_sandbox(data)
    path = write_startup(tmp_path, sandbox)
    run_each(sandbox, path, tmp_path, [0, 1, 2])
    ids = [e["df_event_id"] for e in sandbox.events]
    assert len(ids) == len(set(ids)) == 3
    looked_up = [c["run"] for c in sandbox.calls_of("guance", QUERY)]
    assert looked_up == [1, 2]            # not visible yet on run 1: asked again on run 2, found


def test_guance_down_then_up_nothing_is_lost(make_sandbox, tmp_path):
    sandbox = make_sandbox(scenario([{"service": "guance", "action": "*", "drop": True, "runs": [0]}]))
    path = write_startup(tmp_path, sandbox)
    # registration and reporting both fail: the run goes on with the code's arguments, the event waits
    assert run_each(sandbox, path, tmp_path, [0]) == [0]
    assert sandbox.events == []
    assert run_each(sandbox, path, tmp_path, [1]) == [0]
    assert [e["run"] for e in sandbox.events] == [1, 1]


def test_the_outbox_survives_in_the_state_store_between_tasks(make_sandbox, tmp_path):
    """Each run is a new Func task (fresh modules): the outbox lives in the state store, not in memory."""
    sandbox = make_sandbox(scenario([{"service": "guance", "action": EXECUTE, "status": 500, "runs": [0]}]))
    path = write_startup(tmp_path, sandbox)
    run_each(sandbox, path, tmp_path, [0])
    cache_files = list((tmp_path / "func").rglob("*.json"))
    assert any("spool" in f.read_text(encoding="utf-8") for f in cache_files)
    run_each(sandbox, path, tmp_path, [1])
    assert len(sandbox.events) == 2


def test_an_ordinary_run_makes_one_registration_request(make_sandbox, tmp_path):
    sandbox = make_sandbox(scenario([]))
    path = write_startup(tmp_path, sandbox)
    run_each(sandbox, path, tmp_path, [0, 1])
    second = [c["action"] for c in sandbox.calls if c["run"] == 1]
    # the rule (one list), the events (one execute); the workspace is cached
    assert second == [LIST, EXECUTE]


def test_a_host_clock_ahead_of_guances_does_not_make_a_stored_event_go_twice(make_sandbox, tmp_path):
    """Guance dates an event by its own clock: the look-up spans well beyond the host's idea of the send time."""
    sandbox = make_sandbox(scenario([{"service": "guance", "action": EXECUTE, "drop_after_handling": True,
                                      "times": 1}]))
    path = write_startup(tmp_path, sandbox)
    for index in (0, 1):
        sandbox.set_run(index)
        sandbox.set_now(clock.to_ms(sandbox.scenario.runs[index]) - 5 * 60 * 1000)   # Guance 5 minutes behind
        with clock.frozen(sandbox.scenario.runs[index]):
            run_cli(path, tmp_path)
    assert [c["run"] for c in sandbox.calls_of("guance", QUERY)] == [1]
    ids = [e["df_event_id"] for e in sandbox.events]
    assert len(ids) == len(set(ids)) == 2
