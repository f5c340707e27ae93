"""The pod-restart inspection when Guance answers short, late, in pieces or wrongly, and when the data goes silent.

Every test runs the deployed startup script against the sandbox (``sandbox.dql`` switches, ``sandbox.faults``
effects): the right events, or an explicit incomplete-data event naming what is missing — never a silently
shorter answer, a false ``ok`` or a crash.
"""
import json
import os

import pytest

from guance_monitor import clock
from guance_monitor import context
from guance_monitor import state
from guance_monitor_k8s_pod_restart import collect
from guance_monitor_k8s_pod_restart import main
from guance_monitor_local.sandbox import dql as sandbox_dql

from conftest import HERE
from k8s_scenario_builder import MINUTE, Builder, Container, Pod, SandboxAPI, ms, run_scenario

LIBRARY = os.path.join(HERE, "scenarios", "k8s")
DQL = "/api/v1/df/query_data_v1"


def scenario(name, dql=None, faults=None):
    with open(os.path.join(LIBRARY, name + ".json"), encoding="utf-8") as handle:
        data = json.load(handle)
    data.setdefault("sandbox", {})
    if dql:
        data["sandbox"]["dql"] = dql
    if faults:
        data["sandbox"]["faults"] = faults
    return data


def seen(events):
    return sorted((e["run"], e["dimension_tags"].get("namespace"), e["status"]) for e in events
                  if "namespace" in e["dimension_tags"] and "problem" not in e["dimension_tags"])


def expected(data):
    return sorted((e["run"], e["namespace"], e["status"]) for e in data["labels"]["expected"])


def data_events(events):
    return [e for e in events if e["dimension_tags"] == {"check": "k8s-pod-restart", "issue": "data"}]


# -- documented server behaviours: the right answer ----------------------------------------------

@pytest.mark.parametrize("dql", [
    {"max_slimit": 3},                       # the server returns fewer series than asked: learnt, paged on
    {"unstable_series_order": True},         # series in a new order on every request: sorder_by is sent
    {"async_polls": 2},                      # answered asynchronously: polled
    {"segment_ms": 10 * MINUTE},             # answered in time segments: followed
    {"sample_rate": 0.5},                    # sampling on by default: disable_sampling is sent
    {"auto_interval_ms": 5 * MINUTE},        # aggregates bucketed unless an interval is given
], ids=lambda d: sorted(d)[0])
@pytest.mark.parametrize("name", ["crash-loop", "eviction-storm", "data-gap"])
def test_documented_server_behaviours_give_the_right_events(tmp_path, name, dql):
    data = scenario(name, dql=dql)
    events, results, _ = run_scenario(data, tmp_path)
    assert all(r.ok for r in results), [r.error for r in results]
    assert seen(events) == expected(data) and data_events(events) == []


# -- answers cut short or wrong: an explicit incomplete-data event --------------------------------

def test_rows_cut_from_the_per_minute_series_are_said_and_nothing_fires_on_them(tmp_path):
    events, results, _ = run_scenario(scenario("crash-loop", dql={"max_limit": 5}), tmp_path)
    assert seen(events) == []
    [warning] = data_events(events)
    assert warning["status"] == "warning" and "数据不完整 / Pod restart inspection: incomplete data" in \
        warning["title"]
    assert "per-pod restart counters (kube\\_pod): the per-minute counters of c1/shop show less change" in \
        warning["message"]
    assert "`c1/shop`" in warning["message"]          # left as it was


@pytest.mark.parametrize("max_pages, words", [
    (100, "series came back more than once (the order changed between pages)"),   # stops going round
    (1, "the answer has more than 1 pages of 1000"),                              # stops at the cap
])
def test_endless_paging_stops_and_says_so(monkeypatch, max_pages, words):
    monkeypatch.setattr(collect, "MAX_PAGES", max_pages)
    api = SandboxAPI(scenario("crash-loop"), options=sandbox_dql.Options(endless=True))
    checker = main.K8SPodRestartCheck()
    with clock.frozen(api.runs[0]):
        events = checker.run(context.RunContext(api=api, store=state.MemoryStore()))
    assert seen([dict(e, run=0) for e in events]) == []
    [warning] = data_events(events)
    assert words in warning["message"]


@pytest.mark.parametrize("fault, words", [
    ({"strip": ["content.data"]}, None),                                  # asked again: the right answer
    ({"strip": ["content.data"], "times": 4}, "answer has no data"),    # every attempt of the request
    ({"json": {"code": 200, "success": True, "content": {"data": [{"series": [
        {"name": "kube_pod", "tags": "cluster_name_k8s=c1", "columns": ["time", "changed", "rises"],
         "values": [[0, 1, 1]]}]}]}}}, "a series of the answer has malformed tags"),
    ({"json": {"code": 200, "success": True, "content": {"data": [{"series": [
        {"name": "kube_pod", "tags": "{\"cluster_name_k8s\": \"c1\", \"namespace\": \"shop\"}",
         "columns": ["time", "changed", "rises"], "values": [[0, 2, 9]]}]}]}}}, None),
], ids=["stripped-once", "stripped", "string-tags", "json-string-tags"])
def test_a_wrong_first_answer_never_crashes_and_is_named(tmp_path, fault, words):
    fault = dict(dict(service="guance", action=DQL, times=1), **fault)
    events, results, _ = run_scenario(scenario("crash-loop", faults=[fault]), tmp_path, runs=[0])
    assert results[0].ok, results[0].error
    if words is None:               # retried, or tags as JSON text read as tags: the right answer
        assert seen(events) == [(0, "shop", "error")] and data_events(events) == []
        return
    [warning] = data_events(events)
    assert words in warning["message"].replace("\\", "")
    assert seen(events) == []          # which namespaces changed is unknown: nothing is decided on a guess


def test_an_html_page_instead_of_an_answer_is_retried_or_named(tmp_path):
    faults = [{"service": "guance", "action": DQL, "body": "<html>502 Bad Gateway</html>", "status": 502,
               "times": 2}]
    events, results, _ = run_scenario(scenario("crash-loop", faults=faults), tmp_path, runs=[0])
    assert results[0].ok
    assert seen(events) == [(0, "shop", "error")] or data_events(events)


def test_random_server_errors_never_give_a_false_ok(tmp_path):
    data = scenario("escalate-recover", faults=[{"service": "guance", "action": DQL, "status": 503,
                                                 "probability": 0.35}])
    data["sandbox"]["fault_seed"] = 7
    events, results, _ = run_scenario(data, tmp_path)
    assert all(r.ok for r in results)
    wanted = expected(data)
    for item in seen(events):
        assert item in wanted or item[2] != "ok", item           # an ok only where one is due


# -- never blind ----------------------------------------------------------------------------------

RUNS = ["2026-11-20T08:00:00Z", "2026-11-20T08:30:00Z", "2026-11-20T09:00:00Z", "2026-11-20T09:30:00Z"]


def silence_events(events):
    return [(e["run"], e["status"], e["dimension_tags"]) for e in events if "problem" in e["dimension_tags"]
            or e["dimension_tags"].get("check") == "k8s-pod-restart" and "issue" not in e["dimension_tags"]]


def test_a_configured_namespace_without_pods_warns_after_n_runs_then_ok(tmp_path):
    b = Builder("ghost", "web has pods; ghost only from 09:10", RUNS)
    b.add_pod(Pod("web", "web-1"))
    b.add_pod(Pod("ghost", "ghost-1", start=ms("2026-11-20T09:10:00Z")))
    b.configs([{"cluster_name": "c1", "namespace": ["web", "ghost"], "no_data_runs": 2}])
    events, results, _ = run_scenario(b.to_dict(), tmp_path)
    tags = {"cluster_name_k8s": "c1", "namespace": "ghost", "problem": "no_data"}
    assert silence_events(events) == [(1, "warning", tags), (3, "ok", tags)]
    warning = [e for e in events if e["run"] == 1][0]
    assert "命名空间 c1/ghost 的 Pod" in warning["title"] and "2" in warning["message"]
    assert any("no data for namespace ghost of cluster c1" in line for line in results[0].lines)


def test_datakit_gone_silent_warns_once_and_oks_when_data_returns(tmp_path):
    b = Builder("silent", "DataKit sends nothing from 08:05 to 09:05", RUNS)
    gap = [(ms("2026-11-20T08:05:00Z"), ms("2026-11-20T09:05:00Z"))]
    for i in range(3):
        b.add_pod(Pod("web", "web-%d" % i), gaps=gap)
    b.configs([{"cluster_name": "c1", "no_data_runs": 2}])
    events, _, _ = run_scenario(b.to_dict(), tmp_path)
    cluster = {"cluster_name_k8s": "c1", "problem": "no_data"}
    everything = {"check": "k8s-pod-restart", "problem": "no_data"}
    assert sorted((r, s, sorted(t.items())) for r, s, t in silence_events(events)) == sorted([
        (2, "warning", sorted(cluster.items())), (2, "warning", sorted(everything.items())),
        (3, "ok", sorted(cluster.items())), (3, "ok", sorted(everything.items()))])


def test_no_data_runs_zero_turns_the_warning_off(tmp_path):
    b = Builder("off", "a configured namespace that never has pods", RUNS)
    b.add_pod(Pod("web", "web-1"))
    b.configs([{"cluster_name": "c1", "namespace": ["web", "ghost"], "no_data_runs": 0}])
    events, _, _ = run_scenario(b.to_dict(), tmp_path)
    assert events == []


def test_a_crash_loop_during_a_fault_free_run_still_fires(tmp_path):
    b = Builder("steady", "crash loop", RUNS[:1])
    start = ms(RUNS[0]) - 30 * MINUTE
    for i in range(4):
        restarts = [(start + m * MINUTE, n + 1) for n, m in enumerate(range(2, 30, 6))] if i < 2 else []
        b.add_pod(Pod("shop", "svc-5d6e7f8a9b-%02d" % i, owner=("deployment", "svc"),
                      containers=[Container("app", restarts=restarts,
                                            terminations=[(t - 5000, "Error", 1) for t, _ in restarts])]))
    data = b.to_dict()
    data["sandbox"] = {"dql": {"max_slimit": 1, "unstable_series_order": True, "async_polls": 1}}
    events, _, _ = run_scenario(data, tmp_path)
    assert seen(events) == [(0, "shop", "critical")] and data_events(events) == []
