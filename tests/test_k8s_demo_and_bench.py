"""The pod-restart part of the bundled demo, and the benchmark script (run small: it is not a timed test)."""
import contextlib
import io
import json
import os
import sys

from guance_monitor_k8s_pod_restart import templates
from guance_monitor_local import cli

from conftest import HERE
import k8s_make_scenarios

sys.path.insert(0, os.path.join(os.path.dirname(HERE), "benchmarks"))
import bench_k8s_pod_restart  # noqa: E402


def read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def test_the_bundled_demo_holds_what_the_generator_makes():
    demo = read_json(k8s_make_scenarios.DEMO)
    assert k8s_make_scenarios.merge_demo(demo, k8s_make_scenarios.demo_fragment()) == \
        json.loads(json.dumps(demo)), "run tests/k8s_make_scenarios.py --demo"
    studio = [s for s in demo["guance"]["studio"] if s["check"] == "k8s-pod-restart"]
    assert len(studio) == 1 and studio[0]["disabled"] is False  # disabled by default: the demo enables it


def test_merging_into_the_demo_keeps_everything_else_and_is_repeatable():
    demo = {"name": "d", "runs": ["2026-11-20T08:00:00Z", "2026-11-20T08:02:00Z"],
            "guance": {"studio": [{"check": "spot-alive", "callKwargs": {}}],
                       "points": {"custom_object": [{"measurement": "aliyun_ecs", "time": 1, "tags": {"name": "i"}}]}},
            "aliyun": {"cn-hangzhou": {"instances": [{"InstanceId": "i"}]}}}
    fragment = {"runs": ["2026-11-20T08:00:00Z", "2026-11-20T08:30:00Z"],
                "guance": {"studio": [{"check": "k8s-pod-restart", "callKwargs": {}, "disabled": False}],
                           "points": {"metric": [{"measurement": "kube_pod", "time": 2}], "object": [],
                                      "logging": [{"measurement": "kubernetes_events", "time": 3}]}}}
    once = k8s_make_scenarios.merge_demo(demo, fragment)
    assert k8s_make_scenarios.merge_demo(once, fragment) == once
    assert once["aliyun"] == demo["aliyun"]
    assert once["guance"]["points"]["custom_object"] == demo["guance"]["points"]["custom_object"]
    assert once["runs"] == ["2026-11-20T08:00:00Z", "2026-11-20T08:02:00Z", "2026-11-20T08:30:00Z"]
    assert [s["check"] for s in once["guance"]["studio"]] == ["spot-alive", "k8s-pod-restart"]
    assert once["guance"]["points"]["metric"] == fragment["guance"]["points"]["metric"]


def test_the_demo_shows_the_crash_loop_and_the_oom(tmp_path):
    out = tmp_path / "demo"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
        assert cli.main(["demo", "--check", "k8s-pod-restart", "--out", str(out)]) == 0
    with open(str(out / "events.jsonl"), encoding="utf-8") as handle:
        events = [json.loads(line) for line in handle if line.strip()]
    seen = sorted((e["dimension_tags"]["namespace"], e["status"], e["title"].split(templates.MAIN_CAUSE)[1])
                  for e in events)
    assert seen == [("pay", "critical", "内存溢出 OOMKilled"), ("shop", "error", "应用错误退出 Application error")]
    assert all(e["dimension_tags"]["cluster_name_k8s"] == "prod-ack" for e in events)
    assert "k8s-pod-restart" in stdout.getvalue()
    pay = [e for e in events if e["dimension_tags"]["namespace"] == "pay"][0]
    assert "将内存 limit 从 1Gi 提高到至少 1.5Gi" in pay["message"]
    # issue 9: the crash loop's state is said, the rollout before it named with its rollback, the logs pointed to
    shop = [e for e in events if e["dimension_tags"]["namespace"] == "shop"][0]
    assert "| CrashLoopBackOff（上次 / last: Error, exit 1） |" in shop["message"]
    assert "`deployment/cart` 的新版本 `cart-5c6d7e8f9a` 创建于 2026-11-20 15:20:00 (UTC+8)" in shop["message"]
    assert "`kubectl rollout undo deployment/cart -n shop`" in shop["message"]
    assert "## 日志 / Logs" in shop["message"] and "`pod_name` = 'cart-5c6d7e8f9a-x7k2p'" in shop["message"]


def run_bench(*args):
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert bench_k8s_pod_restart.main(list(args) + ["--json"]) == 0
    lines = stdout.getvalue().strip().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


def test_the_benchmark_prints_one_json_object():
    result = run_bench("--pods", "2000", "--clusters", "5", "--namespaces", "4")
    assert {"pods", "points", "wall_s", "dql_queries", "peak_rss_mb", "events", "guance_requests", "runs",
            "busiest_minute", "latency_ms"} <= set(result)
    assert (result["pods"], result["points"], result["events"]) == (2000, 60000, 5)
    first, later = result["runs"]
    # the first run registers the inspection (list, create, list), looks the workspace up, sends the 5 events in
    # one batch, and confirms three short pages while the DQL server's page size is unknown; it also reads Guance's
    # history once for the baseline of the 5 crashing namespaces (issue 10: the inspection has none of its own)
    assert first["by_path"] == {"/api/v1/self_built_checker/list": 2, "/api/v1/self_built_checker/create": 1,
                                "/api/v1/workspace/get": 1, "/api/v1/outer_function/execute": 1,
                                "/api/v1/df/query_data_v1": 10}
    assert (result["guance_requests"], result["dql_queries"]) == (15, 10)
    # later: one registration read, six queries (the pod counters' short page still confirmed), no event to send;
    # no baseline query: the open alerts keep the baseline they fired against
    assert later["by_path"] == {"/api/v1/self_built_checker/list": 1, "/api/v1/df/query_data_v1": 7}
    assert result["busiest_minute"] == 15 and result["latency_ms"] == 0
    assert 0 < result["peak_rss_mb"] < 1024 and result["wall_s"] > 0


def test_the_benchmark_request_count_does_not_grow_with_the_namespaces():
    few = run_bench("--pods", "2000", "--clusters", "2", "--namespaces", "2", "--healthy", "--runs", "1")
    many = run_bench("--pods", "2000", "--clusters", "2", "--namespaces", "200", "--healthy", "--runs", "1")
    assert few["dql_queries"] == many["dql_queries"] == 6      # five scope-wide queries, one short page confirmed
    assert few["guance_requests"] == many["guance_requests"] == 9          # + list, create, list
    assert few["events"] == many["events"] == 0


def test_the_benchmark_adds_latency_to_every_guance_request():
    scenario, _ = bench_k8s_pod_restart.generate(pods=20, clusters=1, namespaces=2, latency_ms=200, runs=3)
    assert scenario.sandbox["faults"] == [{"service": "guance", "action": "*", "latency_ms": 200}]
    assert len(scenario.runs) == 3
    plain, _ = bench_k8s_pod_restart.generate(pods=20, clusters=1, namespaces=2)
    assert plain.sandbox["faults"] == [] and len(plain.runs) == 1


def test_busiest_minute_counts_requests_in_any_sixty_seconds():
    assert bench_k8s_pod_restart.busiest_minute([]) == 0
    assert bench_k8s_pod_restart.busiest_minute([0, 10, 59.9, 60, 61, 200]) == 4
