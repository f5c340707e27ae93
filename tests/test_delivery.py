"""Events reach Guance through faults: retried inside a run, spooled across runs, never duplicated."""
from guance_monitor import clock
from guance_monitor_local import func_runtime

from test_core_e2e import run_cli, write_startup

EXECUTE = "/api/v1/outer_function/execute"


def scenario(faults):
    return {"runs": ["2026-11-20T08:00:00Z", "2026-11-20T08:05:00Z", "2026-11-20T08:10:00Z"],
            "sandbox": {"faults": faults}}


def run_each(sandbox, path, tmp_path, runs):
    codes = []
    for index in runs:
        sandbox.set_run(index)
        with clock.frozen(sandbox.scenario.runs[index]):
            codes.append(run_cli(path, tmp_path))
    return codes


def delivered(sandbox):
    return [(e["run"], e["title"]) for e in sandbox.events]


def test_transient_failures_are_retried_within_the_run(make_sandbox, tmp_path, fake_sleep):
    sandbox = make_sandbox(scenario([
        {"service": "guance", "action": EXECUTE, "status": 503, "times": 1},
        {"service": "guance", "action": EXECUTE, "status": 429, "retry_after": 2, "times": 1},
    ]))
    run_each(sandbox, write_startup(tmp_path, sandbox), tmp_path, [0])
    assert len(sandbox.events) == 1
    assert [c["status"] for c in sandbox.calls_of("guance", EXECUTE)] == [503, 429, 200]
    assert 2 in fake_sleep.waits  # the server's Retry-After was honoured


def test_event_failing_every_retry_is_delivered_next_run_exactly_once(make_sandbox, tmp_path, fake_sleep):
    sandbox = make_sandbox(scenario([{"service": "guance", "action": EXECUTE, "status": 503, "runs": [0]}]))
    path = write_startup(tmp_path, sandbox)
    run_each(sandbox, path, tmp_path, [0])
    assert sandbox.events == []
    assert len(sandbox.calls_of("guance", EXECUTE)) >= 2  # it did retry
    run_each(sandbox, path, tmp_path, [1, 2])
    # run 0's event arrives in run 1, before run 1's own; nothing twice.
    assert [e["run"] for e in sandbox.events] == [1, 1, 2]
    ids = [e["df_event_id"] for e in sandbox.events]
    assert len(set(ids)) == 3


def test_guance_down_then_up_with_dropped_connections(make_sandbox, tmp_path, fake_sleep):
    sandbox = make_sandbox(scenario([{"service": "guance", "action": "*", "drop": True, "runs": [0]}]))
    path = write_startup(tmp_path, sandbox)
    assert run_each(sandbox, path, tmp_path, [0]) == [1]  # registration itself could not happen
    assert run_each(sandbox, path, tmp_path, [1]) == [0]
    assert len(sandbox.events) == 1


def test_ambiguous_failure_after_the_server_stored_the_batch_is_not_duplicated(make_sandbox, tmp_path, fake_sleep):
    sandbox = make_sandbox(scenario([{"service": "guance", "action": EXECUTE, "drop_after_handling": True,
                                      "times": 1}]))
    run_each(sandbox, write_startup(tmp_path, sandbox), tmp_path, [0])
    statuses = [c["status"] for c in sandbox.calls_of("guance", EXECUTE)]
    assert statuses == ["dropped-after-handling", 200]  # the client could not know, so it sent again
    assert len(sandbox.events) == 1                      # and Guance kept it once


def test_spool_survives_in_dff_cache_between_tasks(make_sandbox, tmp_path, fake_sleep):
    """Each run is a new Func task (fresh modules): the spool lives in the state store, not in memory."""
    sandbox = make_sandbox(scenario([{"service": "guance", "action": EXECUTE, "status": 500, "runs": [0]}]))
    path = write_startup(tmp_path, sandbox)
    run_each(sandbox, path, tmp_path, [0])
    cache_files = list((tmp_path / "func").rglob("*.json"))
    assert any("spool" in f.read_text(encoding="utf-8") for f in cache_files)
    run_each(sandbox, path, tmp_path, [1])
    assert len(sandbox.events) == 2
    assert func_runtime  # the runtime module is what gave each run its own task
