"""`guance-monitor demo`: the project's main job on a fresh machine."""
import json
import os

import pytest

from guance_monitor_local import cli
from guance_monitor_local import demo
from guance_monitor_local import scenario as scenarios

EVENT_KEYS = {"run", "check", "title", "status", "dimension_tags", "message"}


@pytest.fixture(scope="module")
def bundled_demo(tmp_path_factory):
    """The bundled demo, run once for this module: (exit code, stdout, stderr, out dir)."""
    import contextlib
    import io
    out = tmp_path_factory.mktemp("demo")
    stdout, stderr = io.StringIO(), io.StringIO()
    os.environ.setdefault("GUANCE_MONITOR_STATE_DIR", str(out / "state-home"))
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(["demo", "--out", str(out)])
    return code, stdout.getvalue(), stderr.getvalue(), out


def read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_demo_prints_the_summary_and_writes_events(bundled_demo):
    code, stdout, stderr, out = bundled_demo
    assert code == 0, stderr
    scenario = scenarios.load(demo.BUNDLED_SCENARIO)
    for when in scenario.runs:
        stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert stamp in stdout
    assert "spot-alive" in stdout and "k8s-pod-restart" in stdout
    events = read_jsonl(out / "events.jsonl")
    assert events, "the demo scenario must produce events"
    for event in events:
        assert EVENT_KEYS <= set(event)
        assert event["check"] in ("spot-alive", "k8s-pod-restart")
        assert event["status"] in ("info", "warning", "error", "critical", "ok")
    reports = sorted(os.listdir(out / "events"))
    assert len(reports) == len(events)
    first = (out / "events" / reports[0]).read_text(encoding="utf-8")
    assert first.startswith("# " + events[0]["title"])


def test_demo_covers_both_inspections(bundled_demo):
    events = read_jsonl(bundled_demo[3] / "events.jsonl")
    checks = set(e["check"] for e in events)
    assert checks == {"spot-alive", "k8s-pod-restart"}


def test_calls_log_one_line_per_request(bundled_demo):
    calls = read_jsonl(bundled_demo[3] / "calls.jsonl")
    assert calls
    for call in calls:
        assert {"service", "action", "status"} <= set(call)
    services = set(c["service"] for c in calls)
    assert {"guance", "ecs"} <= services
    assert any(c["action"] == "/api/v1/df/query_data_v1" for c in calls)


def test_no_secret_in_any_output_of_the_demo(bundled_demo):
    code, stdout, stderr, out = bundled_demo
    scenario = scenarios.load(demo.BUNDLED_SCENARIO)
    settings = scenario.sandbox
    secrets = [settings["guance_api_key_id"], settings["guance_api_key"],
               settings["aliyun_access_key_secret"], scenario.workspace["token"]]
    texts = [stdout, stderr]
    for root, _, files in os.walk(out):
        if "state" in os.path.relpath(root, out).split(os.sep):
            continue
        for name in files:
            with open(os.path.join(root, name), encoding="utf-8") as handle:
                texts.append(handle.read())
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_check_option_limits_the_demo(tmp_path):
    assert cli.main(["demo", "--check", "spot-alive", "--out", str(tmp_path)]) == 0
    events = read_jsonl(tmp_path / "events.jsonl")
    assert events and set(e["check"] for e in events) == {"spot-alive"}


def test_unknown_check_is_one_line(tmp_path, capsys):
    assert cli.main(["demo", "--check", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown check 'nope'" in err[0]


def test_malformed_scenario_names_the_bad_path(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"guance": {"points": {"metric": [{"measurement": "m", "time": "soon"}]}}}),
                    encoding="utf-8")
    assert cli.main(["demo", "--scenario", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "guance.points.metric[0].time" in err and "Traceback" not in err
