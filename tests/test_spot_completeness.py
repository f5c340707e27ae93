"""Issue 7's spot failures, reproduced against the sandbox: listings cut short, answers without their list,
malformed answers, blind spots. Each now ends in an incomplete-data (or no-data) event naming what is
missing, and nothing is declared released or recovered from an incomplete view. Issue 11: the
inventory is read from Guance on a schedule.
"""
import copy

from guance_monitor_local import func_runtime

from test_spot_e2e import BID_LOW, HZ, PRICEY, RECYCLED, STARTUP_ID, SpotRun, scenario, spot, startup_source  # noqa: F401
from test_spot_faults import problems, with_faults

QUERY = "/api/v1/df/query_data_v1"


def capped_runtime(run, max_pages, source, state_dir):
    """The same inspection (same state) with aliyun.MAX_PAGES set to ``max_pages``."""
    base = func_runtime.PackageLibrary()
    patched = base.source("guance_monitor_spot_alive__aliyun").replace("MAX_PAGES = 500", "MAX_PAGES = %d" % max_pages)
    library = func_runtime.OverlayLibrary(base, {STARTUP_ID: (source, "<startup>"),
                                                 "guance_monitor_spot_alive__aliyun": (patched, "<aliyun>")})
    run.runtime = func_runtime.FuncRuntime(library=library, state_dir=state_dir, echo=run.lines.append)


def with_fillers(data, count):
    """Hangzhou with ``count`` healthy spot instances listed before the scenario's own."""
    data = copy.deepcopy(data)
    region = data["aliyun"][HZ]
    template = [i for i in region["instances"] if i["InstanceId"] == PRICEY][0]
    fillers = []
    for n in range(count):
        filler = copy.deepcopy(template)
        filler.update(InstanceId="i-fill%04d" % n, InstanceName="fill-%d" % n, SpotStrategy="SpotAsPriceGo")
        fillers.append(filler)
    region["instances"] = fillers + region["instances"]
    return data


def test_a_direct_listing_cut_at_its_page_cap_releases_no_live_instance(make_sandbox, tmp_path):
    data = with_faults(with_fillers(scenario(), 150), {"service": "ecs", "action": "DescribeInstances",
                                                       "endless": True, "runs": [1]})
    sandbox = make_sandbox(data)
    source = startup_source(sandbox, {"instance_source": "describe_instances", "regions": [HZ]})
    run = SpotRun(sandbox, tmp_path, source=source)
    run.runs(0)
    assert BID_LOW in run.by_instance(0)
    capped_runtime(run, 1, source, str(tmp_path / "func"))          # NextToken never ends, the client stops at its cap of one page
    run.runs(1)
    assert run.spot_events(1) == []        # before: BID_LOW, PRICEY and the recycled one were reported released
    note = problems(run, 1)
    assert note is not None and u"实例列表不完整" in note["message"]
    assert "DescribeInstances paging stopped at 1 pages of 100" in note["message"]
    assert "instances missing from it are not taken as released" in note["message"]


def test_endless_paging_is_caught_when_it_repeats_itself(spot):
    run = spot(with_faults(scenario(), {"service": "cms", "action": "DescribeSystemEventAttribute", "endless": True},
                           {"service": "ecs", "action": "DescribeInstances", "endless": True})).runs(0)
    assert len(run.calls("DescribeSystemEventAttribute", 0)) == 2          # not 500 pages of the same notice
    assert len(run.calls("DescribeInstances", 0)) == 2
    text = problems(run, 0)["message"]
    assert "CloudMonitor interruption events incomplete: DescribeSystemEventAttribute paging repeats itself" in text
    assert "DescribeInstances(LockReason=Recycling)" in text and "paging repeats itself" in text
    assert run.by_instance(0)[RECYCLED]["status"] == "critical"            # what was read is still reported


def test_a_recycling_listing_without_its_instances_key_is_not_read_as_no_lock(spot, fake_sleep):
    run = spot(with_faults(scenario(), {"service": "ecs", "action": "DescribeInstances", "strip": ["Instances"],
                                        "runs": [0]})).runs(0)
    critical = run.by_instance(0)[RECYCLED]                 # before: 'no lock' from the empty answer, missed
    assert critical["status"] == "critical"
    assert u"观测云 CO::aliyun_ecs 的 OperationLocks 含 `Recycling`" in critical["message"]
    text = problems(run, 0)["message"]
    assert "MalformedAnswer: the answer has no Instances.Instance list" in text


def test_price_history_without_its_list_is_no_price_and_recovers_nothing(spot, fake_sleep):
    data = with_faults(scenario(), {"service": "ecs", "action": "DescribeSpotPriceHistory", "strip": ["SpotPrices"],
                                    "runs": [1]})
    data["runs"] = ["2026-11-20T08:00:00Z", "2026-11-20T08:12:00Z"]       # past the prices' 10-minute TTL
    run = spot(data).runs(0, 1)
    assert run.by_instance(0)[BID_LOW]["status"] == "error"
    # no 'ok' for the bid from no prices (the recycled instance's 'released' is confirmed by a look-up)
    assert [e["dimension_tags"]["instance_id"] for e in run.spot_events(1)] == [RECYCLED]
    assert "MalformedAnswer: the answer has no SpotPrices.SpotPriceType list" in problems(run, 1)["message"]


def test_answers_that_are_not_what_the_api_returns_are_named(spot, fake_sleep):
    run = spot(with_faults(scenario(), {"service": "ecs", "action": "DescribeSpotAdvice", "body": "<html>502</html>"},
                           {"service": "ecs", "action": "DescribeAvailableResource",
                            "json": {"RequestId": "r-1"}})).runs(0)
    text = problems(run, 0)["message"]
    assert "DescribeSpotAdvice" in text and "the answer is not JSON" in text
    assert "the answer has no AvailableZones.AvailableZone list" in text
    assert run.by_instance(0)[RECYCLED]["status"] == "critical"


def test_an_incomplete_dql_inventory_is_named_and_releases_nothing(spot, make_sandbox, tmp_path):
    data = with_faults(scenario(), {"service": "guance", "action": QUERY, "runs": [1],
                                    "strip": ["content.data.0.series.0.values"]})
    sandbox = make_sandbox(data)
    run = SpotRun(sandbox, tmp_path, source=startup_source(sandbox, {"inventory_refresh": "0"})).runs(0, 1)
    assert run.spot_events(1) == []                       # the instances missing from it were looked up, alive
    text = problems(run, 1)["message"]
    assert u"实例列表不完整" in text and "malformed columns or values" in text


def test_no_integration_objects_for_n_runs_warns_once_then_ok(spot):
    data = scenario()
    for point in data["guance"]["points"]["custom_object"]:
        point["time"] = "2026-11-20T08:03:30Z"            # the integration writes nothing before 08:03:30
    data["guance"]["studio"][0]["callKwargs"]["configs"] = [{"spot_with_price_limit": "25%", "no_data_runs": 2}]
    run = spot(data).runs(0, 1, 2)
    silent = [e for e in run.events() if e["dimension_tags"].get("issue") == "no-data"]
    assert [(e["run"], e["status"], e["dimension_tags"]["source"]) for e in silent] == [
        (1, "warning", "objects"), (2, "ok", "objects")]
    assert u"CO::aliyun\\_ecs" in silent[0]["title"] and "2 runs in a row" in silent[0]["message"]   # escaped


def test_the_inventory_is_read_from_guance_on_a_schedule(spot, make_sandbox, tmp_path):
    data = scenario()
    data["runs"] = ["2026-11-20T08:00:00Z", "2026-11-20T08:02:00Z", "2026-11-20T08:31:00Z"]
    run = spot(data).runs(0, 1, 2)
    assert [len(run.calls(QUERY, i)) for i in range(3)] == [1, 0, 1]      # inventory_refresh: 30 minutes
    # the live signals every run (and at 08:31 the look-up that finds the recycled instance gone)
    assert [len(run.calls("DescribeInstances", i)) for i in range(3)] == [1, 1, 2]
    sandbox = make_sandbox(data)
    every = SpotRun(sandbox, tmp_path, source=startup_source(sandbox, {"inventory_refresh": "0"})).runs(0, 1, 2)
    assert [len(every.calls(QUERY, i)) for i in range(3)] == [1, 1, 1]
