"""The guance-monitor command: help, user mistakes as one line with status 2, run, export-market."""
import json
import os

import pytest

from guance_monitor_local import cli

try:
    import yaml
except ImportError:  # pragma: no cover
    yaml = None


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(args, capsys):
    status = cli.main(args)
    out, err = capsys.readouterr()
    return status, out, err


def assert_usage_error(status, err, command, text):
    assert status == 2
    assert err.splitlines() == ["guance-monitor %s: %s" % (command, text)]
    assert "Traceback" not in err


# -- help ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("command, options", [
    ([], ["demo", "run", "serve", "sandbox", "export-market", "--debug"]),
    (["demo"], ["--scenario", "--check", "--out", "--now", "task.log", "--debug"]),
    (["run"], ["SCRIPT", "--func", "--kwargs", "--at", "--env", "--state-dir", "--market", "--debug"]),
    (["serve"], ["SCRIPT", "--env", "--state-dir", "--market", "--debug"]),
    (["sandbox"], ["SCENARIO", "--port", "--run", "--now", "--out", "/_sandbox/events", "--debug"]),
    (["export-market"], ["DIR", "--debug"]),
])
def test_help_of_each_command(command, options, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(command + ["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: guance-monitor")
    for option in options:
        assert option in out


def test_no_command_prints_help_and_exits_2(capsys):
    status, out, _ = run([], capsys)
    assert status == 2 and "usage: guance-monitor" in out


def test_unknown_option_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "x.py", "--nope"])
    assert info.value.code == 2
    assert "unrecognized arguments: --nope" in capsys.readouterr().err


# -- user mistakes -------------------------------------------------------------------------------

def test_run_missing_script(tmp_path, capsys):
    missing = str(tmp_path / "nope.py")
    status, out, err = run(["run", missing, "--state-dir", str(tmp_path / "s")], capsys)
    assert_usage_error(status, err, "run", "script not found: %s" % missing)
    assert out == ""


def test_serve_missing_script(tmp_path, capsys):
    missing = str(tmp_path / "nope.py")
    status, _, err = run(["serve", missing, "--state-dir", str(tmp_path / "s")], capsys)
    assert_usage_error(status, err, "serve", "script not found: %s" % missing)


def test_demo_missing_scenario(tmp_path, capsys):
    missing = str(tmp_path / "missing.json")
    status, _, err = run(["demo", "--scenario", missing, "--out", str(tmp_path / "out")], capsys)
    assert_usage_error(status, err, "demo", "scenario file not found: %s" % missing)
    assert not (tmp_path / "out").exists()


def test_sandbox_missing_scenario(tmp_path, capsys):
    missing = str(tmp_path / "missing.json")
    status, _, err = run(["sandbox", missing], capsys)
    assert status == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("guance-monitor sandbox: scenario %s: cannot read the scenario" % missing)


def test_sandbox_malformed_scenario_names_the_path(tmp_path, capsys):
    path = write(tmp_path, "bad.json", json.dumps({"runs": ["2026-11-20T08:00:00Z", "2026-11-20T07:00:00Z"]}))
    status, _, err = run(["sandbox", path], capsys)
    assert_usage_error(status, err, "sandbox", "scenario runs[1]: earlier than runs[0]; runs must be in order")


@pytest.mark.parametrize("kwargs, text", [
    ("{bad", "--kwargs is not JSON: "),
    ("[1, 2]", "--kwargs must be a JSON object"),
])
def test_run_kwargs_must_be_a_json_object(tmp_path, capsys, kwargs, text):
    script = write(tmp_path, "one.py", "@DFF.API('one')\ndef one():\n    return 1\n")
    status, _, err = run(["run", script, "--kwargs", kwargs, "--state-dir", str(tmp_path / "s")], capsys)
    assert status == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("guance-monitor run: " + text)


def test_run_env_must_be_name_value(tmp_path, capsys):
    script = write(tmp_path, "one.py", "@DFF.API('one')\ndef one():\n    return 1\n")
    status, _, err = run(["run", script, "--env", "REGION", "--state-dir", str(tmp_path / "s")], capsys)
    assert_usage_error(status, err, "run", "--env expects NAME=VALUE, got 'REGION'")


def test_run_market_that_is_not_a_market(tmp_path, capsys):
    script = write(tmp_path, "one.py", "@DFF.API('one')\ndef one():\n    return 1\n")
    status, _, err = run(["run", script, "--market", str(tmp_path), "--state-dir", str(tmp_path / "s")], capsys)
    assert_usage_error(status, err, "run", "%s is not a script market (no script-sets/ folder)" % tmp_path)


TWO_FUNCS = """
@DFF.API('First')
def first(name="a"):
    print("first says", name)
    return {"hello": name, "env": DFF.ENV("REGION")}

@DFF.API('Second')
def second():
    raise RuntimeError("second failed\\nmore lines")
"""


def test_run_without_func_names_the_functions(tmp_path, capsys):
    script = write(tmp_path, "two_funcs.py", TWO_FUNCS)
    status, out, err = run(["run", script, "--state-dir", str(tmp_path / "s")], capsys)
    assert_usage_error(status, err, "run",
                       "%s has 2 DFF.API functions (first, second): choose one with --func" % script)


def test_run_without_any_api_function(tmp_path, capsys):
    script = write(tmp_path, "plain.py", "def helper():\n    return 1\n")
    status, _, err = run(["run", script, "--state-dir", str(tmp_path / "s")], capsys)
    assert_usage_error(status, err, "run", "%s has 0 DFF.API functions (none): choose one with --func" % script)


def test_run_script_with_a_syntax_error(tmp_path, capsys):
    script = write(tmp_path, "broken.py", "x = 1\ndef (:\n")
    status, _, err = run(["run", script, "--state-dir", str(tmp_path / "s")], capsys)
    assert status == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("guance-monitor run: %s:2: syntax error: invalid syntax" % script)


def test_run_script_with_bad_api_options(tmp_path, capsys):
    script = write(tmp_path, "opts.py", "@DFF.API('t', timeout=5000)\ndef run():\n    return 1\n")
    status, _, err = run(["run", script, "--state-dir", str(tmp_path / "s")], capsys)
    assert_usage_error(status, err, "run",
                       "%s:1: `timeout` should be between `1` and `3600` (seconds)" % script)


# -- run -----------------------------------------------------------------------------------------

def test_run_a_function_prints_its_result_and_log(tmp_path, capsys):
    script = write(tmp_path, "two_funcs.py", TWO_FUNCS)
    status, out, err = run(["run", script, "--func", "first", "--kwargs", '{"name": "web01"}',
                            "--env", "REGION=cn-hangzhou", "--state-dir", str(tmp_path / "s")], capsys)
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "first says web01"
    assert json.loads(lines[-1]) == {"hello": "web01", "env": "cn-hangzhou"}
    assert err.startswith("startup__two_funcs.first finished in ")


def test_run_a_failing_function_exits_1_with_one_line(tmp_path, capsys):
    script = write(tmp_path, "two_funcs.py", TWO_FUNCS)
    status, _, err = run(["run", script, "--func", "second", "--state-dir", str(tmp_path / "s")], capsys)
    assert status == 1
    assert len(err.splitlines()) == 1
    assert err.startswith("startup__two_funcs.second failed after ")
    assert err.rstrip().endswith("s: RuntimeError: second failed")


def test_run_the_only_function_by_default(tmp_path, capsys):
    script = write(tmp_path, "only.py", "@DFF.API('only')\ndef only():\n    return [1, 2]\n")
    status, out, _ = run(["run", script, "--state-dir", str(tmp_path / "s")], capsys)
    assert status == 0 and out.splitlines()[-1] == "[1, 2]"


# -- export-market -------------------------------------------------------------------------------

def test_export_market(tmp_path, capsys):
    out_dir = tmp_path / "market"
    status, out, _ = run(["export-market", str(out_dir)], capsys)
    assert status == 0
    assert out.startswith("wrote 3 script sets (")
    assert out.rstrip().endswith("to %s" % out_dir)
    assert os.path.isfile(str(out_dir / "META.yaml"))
    assert os.path.isdir(str(out_dir / "script-sets" / "guance_monitor"))
    if yaml is not None:
        with open(str(out_dir / "META.yaml"), encoding="utf-8") as handle:
            meta = yaml.safe_load(handle)
        assert meta["version"] == 2
        assert [s["id"] for s in meta["scriptSets"]] == [
            "guance_monitor", "guance_monitor_spot_alive", "guance_monitor_k8s_pod_restart"]


def test_sandbox_command_serves_the_scenario_until_stopped(tmp_path):
    """`guance-monitor sandbox SCENARIO --port N` answers Guance requests with the scenario's key."""
    import json as _json
    import subprocess
    import sys as _sys

    import requests

    scenario = tmp_path / "s.json"
    scenario.write_text(_json.dumps({"name": "manual", "guance": {"workspace": {"uuid": "wksp_manual",
                                                                                "token": "tkn_manual"}}}))
    proc = subprocess.Popen([_sys.executable, "-m", "guance_monitor_local.cli", "sandbox", str(scenario),
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("sandbox for manual listening on http://127.0.0.1:")
        url = first.split()[-1]
        key = proc.stdout.readline()  # guance_node line
        answer = requests.get(url + "/api/v1/workspace/get", headers={"DF-API-KEY": "sandbox-api-key-id"},
                              timeout=5)
        assert answer.status_code == 200 and answer.json()["content"]["uuid"] == "wksp_manual"
        refused = requests.get(url + "/api/v1/workspace/get", headers={"DF-API-KEY": "wrong"}, timeout=5)
        assert refused.status_code == 403 and refused.json()["errorCode"] == "ft.InvalidAPIKey"
        assert key.strip() == "guance_node:        %s" % url
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_lines_carry_their_time_and_level(capsys):
    import re
    log = cli.serve_logger()
    log.info("startup__a.run finished in 0.2 s: ok")
    log.error("startup__b.run failed after 1.0 s: ValueError: x")
    lines = capsys.readouterr().err.splitlines()
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO startup__a.run finished in 0.2 s: ok$", lines[-2])
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ERROR startup__b.run failed", lines[-1])
