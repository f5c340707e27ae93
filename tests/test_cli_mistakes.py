"""Every user mistake in every command: one line on stderr naming what, where and what to do, a non-zero
exit, no traceback; --debug adds the traceback. A script that raised is told apart (exit 1)."""
import json
import os
import socket
import subprocess
import sys

import pytest

from guance_monitor_local import cli
from guance_monitor_local import demo

from conftest import HERE

ROOT = os.path.dirname(HERE)
STARTUP = os.path.join(ROOT, "startup", "guance_monitor_k8s_pod_restart.py")
TRACEBACK = "Traceback (most recent call last):"


def startup(tmp_path, name, old=None, new=None):
    with open(STARTUP, encoding="utf-8") as handle:
        text = handle.read()
    if old is not None:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def scenario_file(tmp_path, edit):
    with open(demo.BUNDLED_SCENARIO, encoding="utf-8") as handle:
        data = json.load(handle)
    edit(data)
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def cli_run(args, capsys):
    """(status, stderr lines) of the command run in this process, argparse's exits included."""
    try:
        status = cli.main(args)
    except SystemExit as exit_:
        status = exit_.code
    return status, capsys.readouterr().err.splitlines()


def assert_one_line(status, lines, command, *parts):
    assert status == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("guance-monitor %s: " % command), lines[0]
    for part in parts:
        assert part in lines[0], lines[0]


# -- startup scripts that cannot load: run and serve ---------------------------------------------

SCRIPT_MISTAKES = [
    ("typo.py", "from guance_monitor__register import", "from guance_monitor__registr import",
     ["typo.py:9: no script 'guance_monitor__registr' in the script library",
      "(did you mean 'guance_monitor__register'?)"]),
    ("key.py", "account['api_key_id']", "account['api_keyid']",
     ["key.py:21: KeyError: 'api_keyid' (did you mean 'api_key_id'? account has 'api_key_id', 'api_key', "
      "'guance_node')"]),
    ("api.py", "@DFF.API(", "@DFF.APi(",
     ["api.py:22: AttributeError: DFF has no attribute 'APi' (did you mean DFF.API?)"]),
    ("syntax.py", "def run(configs=None):", "def run(configs=None)",
     ["syntax.py:23: syntax error: "]),
]


@pytest.mark.parametrize("command", ["run", "serve"])
@pytest.mark.parametrize("name, old, new, parts", SCRIPT_MISTAKES)
def test_a_startup_script_that_cannot_load_is_one_line(tmp_path, capsys, command, name, old, new, parts):
    path = startup(tmp_path, name, old, new)
    status, lines = cli_run([command, path, "--state-dir", str(tmp_path / "s")], capsys)
    assert_one_line(status, lines, command, *parts)
    assert lines[0].startswith("guance-monitor %s: %s" % (command, path))


@pytest.mark.parametrize("args, parts", [
    (["--func", "runn"], ["has no function 'runn' (did you mean 'run'?); its DFF.API functions: run"]),
    (["--at", "yesterday"], ["--at: not an ISO 8601 time or epoch milliseconds: 'yesterday'"]),
    (["--kwargs", "[]"], ["--kwargs must be a JSON object"]),
    (["--env", "REGION"], ["--env expects NAME=VALUE, got 'REGION'"]),
])
def test_run_options_that_are_wrong(tmp_path, capsys, args, parts):
    status, lines = cli_run(["run", startup(tmp_path, "good.py")] + args + ["--state-dir", str(tmp_path / "s")],
                            capsys)
    assert_one_line(status, lines, "run", *parts)


def test_a_config_dir_that_cannot_be_written(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GUANCE_MONITOR_FUNC_SECRET")
    (tmp_path / "file").write_text(u"x", encoding="utf-8")
    monkeypatch.setenv("GUANCE_MONITOR_CONFIG_DIR", str(tmp_path / "file" / "config"))
    status, lines = cli_run(["run", startup(tmp_path, "good.py"), "--state-dir", str(tmp_path / "s")], capsys)
    assert_one_line(status, lines, "run", "cannot set up the runtime's state (Not a directory)",
                    "$GUANCE_MONITOR_CONFIG_DIR")


# -- sandbox -------------------------------------------------------------------------------------

@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_sandbox_port_out_of_range(capsys, port):
    status, lines = cli_run(["sandbox", demo.BUNDLED_SCENARIO, "--port", port], capsys)
    assert_one_line(status, lines, "sandbox", "argument --port: expected a port number 0-65535 "
                    "(0 picks a free one), got '%s'" % port, "(see guance-monitor sandbox --help)")


def test_sandbox_port_in_use(capsys):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        port = taken.getsockname()[1]
        status, lines = cli_run(["sandbox", demo.BUNDLED_SCENARIO, "--port", str(port)], capsys)
    finally:
        taken.close()
    assert_one_line(status, lines, "sandbox", "cannot listen on 127.0.0.1:%d (" % port,
                    "choose another --port (0 picks a free one)")


def test_sandbox_run_out_of_range(capsys):
    status, lines = cli_run(["sandbox", demo.BUNDLED_SCENARIO, "--run", "6"], capsys)
    assert_one_line(status, lines, "sandbox", "scenario runs: no run 6; this scenario has 6 runs (0 to 5)")


def unknown_check(data):
    data["guance"]["studio"][0]["check"] = "spot-alvie"


def cheap_price(data):
    data["aliyun"]["cn-hangzhou"]["spot_price_history"][3]["SpotPrice"] = "cheap"


@pytest.mark.parametrize("edit, parts", [
    (unknown_check, ["guance.studio[0].check: unknown inspection 'spot-alvie' (did you mean 'spot-alive'?)"]),
    (cheap_price, ["aliyun.cn-hangzhou.spot_price_history[3].SpotPrice: expected a number, got \"cheap\""]),
])
@pytest.mark.parametrize("command", ["sandbox", "demo"])
def test_scenario_mistakes_name_the_path(tmp_path, capsys, command, edit, parts):
    path = scenario_file(tmp_path, edit)
    args = [command, path] if command == "sandbox" else ["demo", "--scenario", path, "--out", str(tmp_path / "o")]
    status, lines = cli_run(args, capsys)
    assert_one_line(status, lines, command, "scenario ", *parts)


def test_sandbox_out_that_is_a_file(tmp_path, capsys):
    (tmp_path / "taken").write_text(u"x", encoding="utf-8")
    status, lines = cli_run(["sandbox", demo.BUNDLED_SCENARIO, "--out", str(tmp_path / "taken")], capsys)
    assert_one_line(status, lines, "sandbox", "--out %s is a file, not a directory" % (tmp_path / "taken"))


# -- demo and export-market: where they write ----------------------------------------------------

def test_demo_out_that_is_a_file(tmp_path, capsys):
    (tmp_path / "taken").write_text(u"x", encoding="utf-8")
    status, lines = cli_run(["demo", "--out", str(tmp_path / "taken")], capsys)
    assert_one_line(status, lines, "demo", "--out %s is a file, not a directory: give a directory "
                                           "(it is created when missing)" % (tmp_path / "taken"))


def test_demo_out_that_cannot_be_written(tmp_path, capsys):
    (tmp_path / "taken").write_text(u"x", encoding="utf-8")
    target = tmp_path / "taken" / "out"
    status, lines = cli_run(["demo", "--out", str(target)], capsys)
    assert_one_line(status, lines, "demo", "--out cannot write to %s (Not a directory): give a directory you "
                                           "can write to" % target)


def test_demo_check_with_a_typo(tmp_path, capsys):
    status, lines = cli_run(["demo", "--check", "k8s-pod-restrat", "--out", str(tmp_path / "o")], capsys)
    assert_one_line(status, lines, "demo", "unknown check 'k8s-pod-restrat' (did you mean 'k8s-pod-restart'?)")


def test_export_market_to_a_file(tmp_path, capsys):
    (tmp_path / "taken").write_text(u"x", encoding="utf-8")
    status, lines = cli_run(["export-market", str(tmp_path / "taken")], capsys)
    assert_one_line(status, lines, "export-market", "%s is a file, not a directory" % (tmp_path / "taken"))


def test_export_market_to_an_unwritable_path(tmp_path, capsys):
    (tmp_path / "taken").write_text(u"x", encoding="utf-8")
    status, lines = cli_run(["export-market", str(tmp_path / "taken" / "market")], capsys)
    assert_one_line(status, lines, "export-market", "cannot write the market to %s (Not a directory"
                    % (tmp_path / "taken" / "market"), "give a directory you can write to")


def test_export_market_into_a_directory_with_other_content(tmp_path, capsys):
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "setup.py").write_text(u"", encoding="utf-8")
    status, lines = cli_run(["export-market", str(tmp_path / "project")], capsys)
    assert_one_line(status, lines, "export-market", "already holds other files (setup.py)")


# -- the script raised: exit 1, told apart ------------------------------------------------------

def test_a_script_that_raises_when_run_exits_1_with_its_own_line(tmp_path, capsys):
    path = tmp_path / "raises.py"
    path.write_text(u"@DFF.API('x')\ndef run():\n    return {}['missing']\n", encoding="utf-8")
    status, lines = cli_run(["run", str(path), "--state-dir", str(tmp_path / "s")], capsys)
    assert status == 1 and len(lines) == 1
    assert lines[0].startswith("startup__raises.run failed after ") and lines[0].endswith(": KeyError: 'missing'")


# -- --debug, through the real entry point -------------------------------------------------------

def command_line(*args, **env):
    environment = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-m", "guance_monitor_local.cli"] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, env=environment, timeout=120)


def test_debug_shows_the_traceback_then_the_line(tmp_path):
    path = startup(tmp_path, "typo.py", "from guance_monitor__register import", "from guance_monitor__registr import")
    plain = command_line("run", path, "--state-dir", str(tmp_path / "s"))
    assert plain.returncode == 2 and TRACEBACK not in plain.stderr
    assert plain.stderr.splitlines() == [
        "guance-monitor run: %s:9: no script 'guance_monitor__registr' in the script library (did you mean "
        "'guance_monitor__register'?)" % path]
    for args in (["--debug", "run", path], ["run", path, "--debug"]):
        debug = command_line(*(args + ["--state-dir", str(tmp_path / "s")]))
        assert debug.returncode == 2
        lines = debug.stderr.splitlines()
        assert lines[0] == TRACEBACK and 'File "%s", line 9' % os.path.abspath(path) in debug.stderr
        assert lines[-1] == plain.stderr.splitlines()[0]


def test_debug_shows_the_traceback_of_a_script_that_raised(tmp_path):
    path = tmp_path / "raises.py"
    path.write_text(u"@DFF.API('x')\ndef run():\n    return {}['missing']\n", encoding="utf-8")
    result = command_line("--debug", "run", str(path), "--state-dir", str(tmp_path / "s"))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == TRACEBACK and "line 3, in run" in result.stderr
    assert lines[-1].startswith("startup__raises.run failed after ")


def test_an_argparse_mistake_is_one_line_too(tmp_path):
    result = command_line("sandbox", demo.BUNDLED_SCENARIO, "--port", "99999")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "guance-monitor sandbox: argument --port: expected a port number 0-65535 (0 picks a free one), got "
        "'99999' (see guance-monitor sandbox --help)"]
