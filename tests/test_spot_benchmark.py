"""The benchmark script runs and reports what it promises (small sizes; no timing is asserted)."""
import json
import os
import subprocess
import sys

from conftest import HERE

BENCH = os.path.join(os.path.dirname(HERE), "benchmarks", "bench_spot_alive.py")


def test_benchmark_prints_one_json_object_with_the_documented_keys(tmp_path):
    env = dict(os.environ, GUANCE_MONITOR_STATE_DIR=str(tmp_path / "state"))
    out = subprocess.run([sys.executable, BENCH, "--instances", "400", "--regions", "2", "--json",
                          "--latency-ms", "0", "--day", "--day-runs", "20"], capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    assert len(lines) == 1
    result = json.loads(lines[0])
    # the figures of before, extended (never changed): Guance requests, and a day of cron runs
    assert set(result) == {"instances", "wall_s", "aliyun_calls", "minimal_calls", "dql_queries", "peak_rss_mb",
                           "events", "guance_requests", "day"}
    assert result["instances"] == 400 and result["events"] > 0 and result["dql_queries"] >= 1
    # 2 regions x 25 types: 50 price chains; 3 advice batches per region; one stock, one Recycling page per region
    assert result["minimal_calls"] == 2 + 1 + 50 + 6 + 2
    assert result["aliyun_calls"]["DescribeSpotPriceHistory"] == 50
    assert sum(result["aliyun_calls"].values()) <= 1.2 * result["minimal_calls"]
    # cold: the first registration (list, create, list), the inventory (400 objects: one page), the
    # workspace, one batch of events
    assert result["guance_requests"] == 3 + result["dql_queries"] + 1 + 1
    day = result["day"]
    assert day["runs"] == 20 and set(day) == {"runs", "guance_requests_per_run", "busiest_minute",
                                              "aliyun_calls_per_run", "dql_queries", "events", "longest_run_s",
                                              "wall_s"}
    # 40 minutes of runs: registration every run, the inventory again once 30 minutes are up
    assert day["dql_queries"] == 1 and day["guance_requests_per_run"]["max"] <= 3
    assert 1 <= day["guance_requests_per_run"]["avg"] <= 4
    assert 1 <= day["busiest_minute"]["requests"] <= 20 and day["busiest_minute"]["at"].startswith("2026-11-20T")
