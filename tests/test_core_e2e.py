"""A startup script written as in the Guance docs runs unchanged under `guance-monitor run`."""
import os

from guance_monitor_local import cli

from conftest import HERE, account_for

DOC_EXAMPLE = os.path.join(HERE, "scripts", "doc_example.py")


def write_startup(tmp_path, sandbox, name="doc_example.py"):
    with open(DOC_EXAMPLE, encoding="utf-8") as handle:
        text = handle.read()
    for key, value in account_for(sandbox).items():
        text = text.replace("{%s}" % key, value)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def run_cli(path, tmp_path, *extra):
    return cli.main(["run", path, "--state-dir", str(tmp_path / "func")] + list(extra))


def test_registers_with_title_doc_and_parameters(make_sandbox, tmp_path):
    sandbox = make_sandbox({})
    assert run_cli(write_startup(tmp_path, sandbox), tmp_path) == 0
    rules = list(sandbox.service("guance").rules.values())
    assert len(rules) == 1
    script = rules[0]["jsonScript"]
    assert script["title"] == u"文档示例巡检"
    info = script["refFuncInfo"]
    assert info["funcId"] == "startup__doc_example.run"
    assert info["definition"] == "run(configs=None, threshold=3)"
    assert info["args"] == ["configs", "threshold"]
    assert info["kwargs"] == {"configs": {"default": None}, "threshold": {"default": 3}}
    assert info["description"].startswith("zh-CN:\n  title:")
    assert len(rules[0]["refKey"]) == 32


def test_event_arrives_through_outer_function_with_studio_kwargs(make_sandbox, tmp_path):
    sandbox = make_sandbox({"guance": {"studio": [{
        "check": "doc-example", "title": u"文档示例巡检",
        "callKwargs": {"configs": '[{"namespace": "a"}, {"namespace": "b"}]', "threshold": 9}}]}})
    assert run_cli(write_startup(tmp_path, sandbox), tmp_path) == 0
    assert [e["title"] for e in sandbox.events] == [u"示例巡检：阈值 9"]
    event = sandbox.events[0]
    assert '[{"namespace": "a"}, {"namespace": "b"}]' in event["message"]
    assert event["status"] == "warning" and event["dimension_tags"] == {"host": "web01"}
    assert event["df_monitor_ref_key"] == list(sandbox.service("guance").rules.values())[0]["refKey"]
    executes = sandbox.calls_of("guance", "/api/v1/outer_function/execute")
    assert [c["status"] for c in executes] == [200]


def test_skipped_while_disabled_and_runs_once_enabled(make_sandbox, tmp_path):
    sandbox = make_sandbox({"guance": {"studio": [{"check": "doc-example", "title": u"文档示例巡检",
                                                   "disabled": True}]}})
    path = write_startup(tmp_path, sandbox)
    assert run_cli(path, tmp_path) == 0
    assert sandbox.events == []
    rule = list(sandbox.service("guance").rules.values())[0]
    assert rule["status"] != 0
    rule["status"] = 0  # the user enables it in Studio
    assert run_cli(path, tmp_path) == 0
    assert len(sandbox.events) == 1


def test_recreated_after_deletion_in_studio(make_sandbox, tmp_path):
    sandbox = make_sandbox({})
    path = write_startup(tmp_path, sandbox)
    assert run_cli(path, tmp_path) == 0
    service = sandbox.service("guance")
    first = list(service.rules)[0]
    service.rules.clear()  # deleted in Studio
    assert run_cli(path, tmp_path) == 0
    assert list(service.rules) != [first] and len(service.rules) == 1
    assert len(sandbox.events) == 2


def test_same_function_keeps_its_refkey_and_is_not_modified_when_unchanged(make_sandbox, tmp_path):
    sandbox = make_sandbox({})
    path = write_startup(tmp_path, sandbox)
    run_cli(path, tmp_path)
    run_cli(path, tmp_path)
    assert len(sandbox.service("guance").rules) == 1
    assert sandbox.calls_of("guance", "/api/v1/self_built_checker/create")
    assert not sandbox.calls_of("guance", "/api/v1/self_built_checker/modify")


ZONE_SCRIPT = u'''
account = %r

from guance_monitor__register import self_hosted_monitor
from guance_monitor__event_reporter import EventReporter
import guance_monitor__report as report
import guance_monitor__clock as clock


@self_hosted_monitor(account['api_key_id'], account['api_key'], account['guance_node'])
@DFF.API('Zone', timeout=60)
def run():
    EventReporter().report({"title": "at %%s" %% report.display_time(clock.now()), "message": "m", "status": "info"})
'''


def run_with_zone(make_sandbox, make_runtime, timezone):
    """The title of the one event a run reports, with ``account['timezone']`` set, and the task log."""
    from guance_monitor import clock
    sandbox = make_sandbox({"runs": ["2026-11-20T08:00:00Z"]})
    account = dict(account_for(sandbox), timezone=timezone)
    runtime = make_runtime(scripts={"startup__zone": ZONE_SCRIPT % account})
    sandbox.set_run(0)
    with clock.frozen("2026-11-20T08:00:00Z"):
        assert runtime.run("startup__zone.run").ok
    return [e["title"] for e in sandbox.events], runtime.lines


def test_report_times_follow_the_accounts_time_zone(make_sandbox, make_runtime):
    titles, _ = run_with_zone(make_sandbox, make_runtime, "America/Los_Angeles")
    assert titles == ["at 2026-11-20 00:00:00 (UTC-8 PST)"]


def test_a_bad_time_zone_is_logged_and_the_nodes_zone_used(make_sandbox, make_runtime):
    titles, lines = run_with_zone(make_sandbox, make_runtime, "Mars/Olympus")
    assert titles == ["at 2026-11-20 16:00:00 (UTC+8)"]
    assert any("account['timezone']: not a time zone: 'Mars/Olympus'" in line for line in lines)


def test_the_default_zone_follows_the_guance_node():
    import datetime
    from guance_monitor import host as hosts
    from guance_monitor import register
    zone = register.display_zone({}, hosts.Host(None), "us1")
    assert zone.tzname(datetime.datetime(2026, 7, 1)) == "PDT"
    chosen = register.display_zone({"account": {"timezone": "UTC+2"}}, hosts.Host(None), "us1")
    assert chosen.utcoffset(None) == datetime.timedelta(hours=2)
