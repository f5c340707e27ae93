"""Runner: a failing checker never stops the others; its error is logged once, without secrets."""
from guance_monitor import clock

from conftest import account_for

SCRIPT = u'''
account = {account}

from guance_monitor__register import self_hosted_monitor
from guance_monitor__runner import Runner
from guance_monitor__checker import Checker
from guance_monitor__configs import Schema, Field, string


class Good(Checker):
    name = "good"

    def inspect(self, ctx):
        return [{{"title": "good ran", "message": "ok", "status": "info", "dimension_tags": {{"check": "good"}}}}]


class NeedsNamespace(Checker):
    name = "needs-namespace"
    schema = Schema([Field("namespace", string)])

    def inspect(self, ctx):
        return [{{"title": "needs-namespace ran", "message": "", "status": "info"}}]


class Broken(Checker):
    name = "broken"

    def inspect(self, ctx):
        raise RuntimeError("cloud said no, token=abc123secret")


@self_hosted_monitor(account['api_key_id'], account['api_key'], account['guance_node'])
@DFF.API('Runner test', timeout=60)
def run(configs=None, debug=False):
    Runner([NeedsNamespace(configs=configs), Broken(), Good()], debug=debug).run()
'''


def runtime_for(sandbox, make_runtime):
    return make_runtime(scripts={"startup__runner_test": SCRIPT.format(account=repr(account_for(sandbox)))})


def run(runtime, sandbox, index, **kwargs):
    sandbox.set_run(index)
    with clock.frozen(sandbox.scenario.runs[index]):
        return runtime.run("startup__runner_test.run", kwargs)


def test_failing_checkers_do_not_stop_the_others(make_sandbox, make_runtime):
    sandbox = make_sandbox({"runs": ["2026-11-20T08:00:00Z", "2026-11-20T08:05:00Z"]})
    runtime = runtime_for(sandbox, make_runtime)
    result = run(runtime, sandbox, 0, configs='[{"namespace": 5}]')

    # the good checker's event and a warning about the rejected configs reached Guance
    titles = sorted(e["title"] for e in sandbox.events)
    assert titles == ["Runner test：巡检配置有误 / configs rejected", "good ran"]
    warning = [e for e in sandbox.events if e["status"] == "warning"][0]
    assert "configs[0].namespace: expected a non-empty string, got 5" in warning["message"]
    assert warning["dimension_tags"] == {"check": "needs-namespace"}

    # the task fails, naming both failures in one line
    assert type(result.error).__name__ == "InspectionFailed"
    assert str(result.error).startswith("2 of 3 checkers failed: needs-namespace (ConfigError: configs[0].namespace")
    assert "broken (RuntimeError: cloud said no, token=***)" in str(result.error)

    # each failure logged once; the secret-looking value masked
    log = "\n".join(runtime.lines)
    assert log.count("needs-namespace: configs rejected") == 1
    assert log.count("broken failed: RuntimeError") == 1
    assert "abc123secret" not in log and "abc123secret" not in str(result.error)


def test_fixed_configs_recover_with_an_ok_event(make_sandbox, make_runtime):
    sandbox = make_sandbox({"runs": ["2026-11-20T08:00:00Z", "2026-11-20T08:05:00Z"]})
    runtime = runtime_for(sandbox, make_runtime)
    run(runtime, sandbox, 0, configs='[{"namespace": 5}]')
    run(runtime, sandbox, 1, configs='[{"namespace": "shop"}]')
    second = [(e["title"], e["status"]) for e in sandbox.events if e["run"] == 1]
    assert ("Runner test：巡检配置已修正 / configs fixed", "ok") in second
    assert ("needs-namespace ran", "info") in second


def test_debug_prints_the_events_and_sends_nothing(make_sandbox, make_runtime):
    sandbox = make_sandbox({"runs": ["2026-11-20T08:00:00Z"]})
    runtime = runtime_for(sandbox, make_runtime)
    result = run(runtime, sandbox, 0, configs='[{"namespace": "shop"}]', debug=True)
    assert type(result.error).__name__ == "InspectionFailed"   # Broken still fails
    assert sandbox.events == []
    assert not sandbox.calls_of("guance", "/api/v1/outer_function/execute")
    log = "\n".join(runtime.lines)
    assert "---- [info] good ran check=good" in log
    assert "---- [info] needs-namespace ran" in log


def test_a_debug_run_keeps_no_state():
    from guance_monitor import context
    from guance_monitor import state
    from guance_monitor.checker import Checker
    from guance_monitor.runner import Runner

    class Remembers(Checker):
        name = "remembers"

        def inspect(self, ctx):
            self.defer(self.store(ctx), "history", [1, 2, 3])
            self.tracker(ctx).update({"pod-a": "warning"})
            return [{"title": "t", "message": "", "status": "warning"}]

    store = state.MemoryStore()
    checker = Remembers()
    with context.activate(context.RunContext(store=store, ref_key="r")):
        Runner([checker], debug=True).run()
    assert store._data == {}
    checker.commit()  # what a normal run does after reporting
    assert store.get("check:remembers:r:history") == [1, 2, 3]
    assert "pod-a" in store.get("check:remembers:r:alerts:alerts")


def test_the_runners_own_alert_state_unreadable_is_said_too(make_sandbox, make_runtime, tmp_path):
    """Found by the fault benchmark (garbage in the Runner's configs state while its warning was open): the
    warning never got its ok and nothing said why."""
    import json
    import os

    from guance_monitor import state

    sandbox = make_sandbox({"runs": ["2026-11-20T08:00:00Z", "2026-11-20T08:05:00Z"]})
    runtime = runtime_for(sandbox, make_runtime)
    run(runtime, sandbox, 0, configs='[{"namespace": 5}]')
    store = state.FileStore(str(tmp_path / "func-state" / "func"))
    keys = []
    for root, _, files in os.walk(store.directory):
        for name in files:
            if name.endswith(".json"):
                with open(os.path.join(root, name), encoding="utf-8") as handle:
                    keys.append(json.load(handle)["key"])
    [key] = [k for k in keys if k.endswith(":configs:alerts")]
    store.set(key, "{garbage")
    run(runtime, sandbox, 1, configs='[{"namespace": "shop"}]')
    warnings = [e for e in sandbox.events if e["run"] == 1 and e["dimension_tags"].get("problem") == "state"]
    assert len(warnings) == 1 and warnings[0]["dimension_tags"]["check"] == "needs-namespace"
    assert "the alert state could not be read" in warnings[0]["message"]
