"""Shared fixtures: an isolated state directory, a fake sleeper, sandboxes and the local Func runtime."""
import json
import os

import pytest

from guance_monitor import clock
from guance_monitor_local import func_runtime
from guance_monitor_local import scenario as scenarios
from guance_monitor_local.sandbox import Sandbox

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(autouse=True)
def isolated_state(tmp_path, monkeypatch):
    """No test touches ~/.guance-monitor, ~/.config or the real Alibaba Cloud metadata service,
    and no test sits through a backoff or the request pacer (``clock.Accelerated``)."""
    monkeypatch.setenv("GUANCE_MONITOR_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("GUANCE_MONITOR_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("GUANCE_MONITOR_FUNC_SECRET", "test-func-secret-0001")
    monkeypatch.setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    clock.Accelerated().install()
    yield tmp_path / "state"
    clock.set_wall_clock(None)
    clock.set_sleeper(None)
    clock.follow(None)


@pytest.fixture
def fake_sleep():
    sleeper = clock.FakeSleep().install()
    yield sleeper
    clock.FakeSleep.uninstall()


@pytest.fixture
def make_sandbox():
    """make_sandbox(dict_or_path) -> a started Sandbox (stopped at the end of the test)."""
    started = []

    def make(data=None, **kwargs):
        if isinstance(data, str):
            scenario = scenarios.load(data)
        else:
            scenario = scenarios.from_dict(data or {})
        sandbox = Sandbox(scenario, **kwargs).start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()


def account_for(sandbox):
    settings = sandbox.scenario.sandbox
    return {"api_key_id": settings["guance_api_key_id"], "api_key": settings["guance_api_key"],
            "guance_node": sandbox.url}


@pytest.fixture
def make_runtime(tmp_path):
    """make_runtime(scripts={script_id: source}, library=None) -> FuncRuntime with output captured."""

    def make(scripts=None, library=None, env=None, state_dir=None):
        base = library or func_runtime.PackageLibrary()
        extra = dict((sid, (src, "<%s>" % sid)) for sid, src in (scripts or {}).items())
        lines = []
        runtime = func_runtime.FuncRuntime(library=func_runtime.OverlayLibrary(base, extra), env=env,
                                           state_dir=state_dir or str(tmp_path / "func-state"),
                                           echo=lines.append)
        runtime.lines = lines
        return runtime

    return make


def write_json(path, data):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False)
    return str(path)
