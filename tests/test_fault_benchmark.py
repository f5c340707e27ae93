"""The fault benchmark, run in-process for two hours at a high fault rate: its figures are sane and the goals hold.

Not a timed test: nothing here depends on how long the runs took.
"""
import json
import os
import sys

from conftest import HERE

sys.path.insert(0, os.path.join(os.path.dirname(HERE), "benchmarks"))
import bench_faults  # noqa: E402


def test_two_hours_of_faults_lose_nothing_double_nothing_and_never_say_ok_too_early(capsys):
    # Faults are drawn per (run, service, action, region): the pod runs meet the same faults however the spot runs'
    # concurrent calls interleave (seeds 1-16 hold every figure below).
    figures, details = bench_faults.measure(hours=2, seed=5, fault_rate=0.3, timeouts=0, corruptions=3, overlaps=2)

    # the day: every cron run of both startup scripts, and the generated truth seen by the fault-free pass
    assert figures["runs"] == {"spot-alive": 60, "k8s-pod-restart": 4}
    assert figures["incidents"] == 6 and figures["incidents_detected"] == 6
    assert figures["alerts_expected"] >= 8
    assert figures["baseline"]["failed_runs"] == 0 and figures["baseline"]["waiting_at_end"] == 0

    # what was injected
    assert sum(figures["faults"].values()) > 50
    assert all(figures["faults"][kind] > 0 for kind in ("5xx", "429", "drop", "non_json_200", "odd_json_200"))
    # a corruption planned for a run whose inspection has no state yet (random faults, drawn by concurrent
    # cloud calls, decide which runs wrote state) has nothing to corrupt and is not counted
    assert 1 <= sum(figures["state_corruptions"].values()) <= 3
    # a second run started while the first held its lock skips, or runs after the first ended within its wait
    # (the lock's guarantee: never both at once); one whose first run had no lock yet is no overlap
    assert figures["overlaps_planned"] == 2 and figures["overlapping_runs"] >= 1
    assert figures["overlaps_skipped"] + figures["overlaps_waited"] == figures["overlapping_runs"]

    # the goals
    assert figures["alerts_lost"] == 0, details["lost"]
    assert figures["alerts_duplicated"] == 0, details["duplicated"]
    assert figures["false_ok"] == 0, details["false_ok"]
    assert figures["alerts_delivered"] + figures["lost_after_corruption"] == figures["alerts_expected"]
    assert figures["waiting_at_end"] == 0

    # the budgets: Guance's 20 requests a minute on the key, every run within its function's timeout
    assert figures["busiest_minute"] <= 20
    assert figures["overruns"] == 0
    assert set(figures["longest_run"]) == {"spot-alive", "k8s-pod-restart"}
    assert all(0 < one["share"] < 1 for one in figures["longest_run"].values())
    assert all(one["mean"] >= 1 for one in figures["guance_requests_per_run"].values())

    # the figures print as a table and as one JSON object with the documented keys
    assert "alerts lost" in bench_faults.format_table(figures)
    assert json.loads(json.dumps(figures, sort_keys=True)) == figures
    assert set(figures) == {
        "alerts_expected", "alerts_delivered", "alerts_lost", "alerts_duplicated", "false_ok",
        "repeated_after_corruption", "lost_after_corruption", "corruption_effects_unannounced", "extra_events",
        "extra_transitions", "waiting_at_end", "longest_run", "overruns", "guance_requests_per_run",
        "busiest_minute", "faults", "state_corruptions", "overlaps_planned", "overlapping_runs",
        "overlaps_skipped", "overlaps_waited", "failed_runs",
        "incidents", "incidents_detected", "hours", "seed", "fault_rate", "timeouts", "runs", "wall_s",
        "faulted_wall_s", "baseline"}
    assert set(figures["faults"]) == {"5xx", "429", "timeout", "drop", "drop_after_handling", "non_json_200",
                                      "odd_json_200", "stripped", "endless"}
    capsys.readouterr()


def test_the_comparison_counts_what_the_user_would_see():
    """Lost, stored twice, re-sent, repeated or lost after a corruption, and an ok while the condition held."""
    truth = bench_faults.Truth()
    truth.add("spot-alive", {"i": "a"}, 1000, 5000, "recycled")

    def event(dims, status, run, at, event_id):
        return {"check": "spot-alive", "dims": json.dumps(dims, sort_keys=True), "status": status, "run": run,
                "detected_ms": at, "df_event_id": event_id, "title": "t"}

    baseline = [event({"i": "a"}, "critical", 1, 1000, "b1"), event({"i": "a"}, "ok", 5, 5000, "b2"),
                event({"i": "b"}, "warning", 2, 2000, "b3"), event({"i": "b"}, "ok", 3, 3000, "b4"),
                event({"i": "c"}, "error", 2, 2000, "b5"),
                event({"i": "d"}, "critical", 1, 1000, "b6"), event({"i": "d"}, "ok", 4, 4000, "b7"),
                event({"i": "e"}, "critical", 3, 3000, "b8")]                  # the faulted pass never says a word
    faulted = [event({"i": "a"}, "critical", 1, 1000, "f1"), event({"i": "a"}, "ok", 3, 3000, "f2"),   # too early
               event({"i": "b"}, "warning", 2, 2000, "f3"), event({"i": "b"}, "warning", 2, 2000, "f3"),  # twice
               event({"i": "b"}, "warning", 3, 3000, "f4"),                                              # re-sent
               event({"i": "c"}, "error", 2, 2000, "f5"), event({"i": "c"}, "error", 4, 4000, "f6"),
               event({"problem": "state"}, "warning", 4, 4000, "f7"),
               event({"i": "d"}, "critical", 1, 1000, "f8")]                               # its ok: see run 4
    corruptions = [{"run": 4, "check": "spot-alive", "kind": "garbage", "key": "x:instances:alerts"}]
    runs = {"spot-alive": [{"index": i, "start_ms": i * 1000} for i in range(7)]}
    figures, _ = bench_faults.compare(baseline, faulted, corruptions, runs, truth)
    assert figures["alerts_expected"] == 8
    assert figures["alerts_lost"] == 2                      # b's ok never came, nor anything about e
    assert figures["alerts_duplicated"] == 2                # f3 stored twice, f4 re-sent with nothing in between
    assert figures["repeated_after_corruption"] == 1        # f6, after the corruption of run 4, announced by f7
    assert figures["lost_after_corruption"] == 1            # d's ok was due when its state was destroyed
    assert figures["corruption_effects_unannounced"] == 0
    assert figures["false_ok"] == 1                         # f2: the instance was still being recycled
    assert figures["extra_events"] == 1                     # f7, the product's own warning


def test_a_live_instance_is_never_released_by_a_lookup_answer_without_instances(tmp_path):
    """Found by the benchmark (seed 12, rate 0.5): the inventory query fails and DescribeInstances(InstanceIds)
    answers 200 without ``Instances``. That answer says nothing about the instance: no ``ok``, no repeat as new."""
    from guance_monitor import clock
    from guance_monitor_local import demo
    from guance_monitor_local import scenario as scenarios
    from guance_monitor_local.sandbox import Sandbox

    data, _, truth = bench_faults.generate(24, 1)
    dip = [i for i in truth.incidents if i["what"] == "bid below the market"][0]
    start = dip["from_ms"] + 10 * 60 * 1000
    # run 3 is due to re-read the inventory (every 30 minutes), which fails
    data["runs"] = [start + minutes * 60000 for minutes in (0, 2, 4, 34, 36, 38)]
    data["sandbox"] = {"guance": {"rate_limit": False}, "faults": [
        {"service": "guance", "action": "/api/v1/df/query_data_v1", "status": 503, "runs": [3]},
        {"service": "ecs", "action": "DescribeInstances", "strip": ["Instances"], "runs": [3]}]}
    with Sandbox(scenarios.from_dict(data)) as sandbox:
        runtime = demo.deployed_runtime(["spot-alive"], demo.sandbox_values(sandbox), str(tmp_path), echo=None)
        for index, when in enumerate(data["runs"]):
            sandbox.set_run(index)
            with clock.frozen(when):
                assert runtime.run(demo.startup_func("spot-alive")).ok
        victim = [e for e in sandbox.events if e["dimension_tags"].get("instance_id") == dip["tags"]["instance_id"]]
        hit = sorted(set((c["action"], c.get("fault")) for c in sandbox.calls if c["run"] == 3 and c.get("fault")))
    assert hit == [("/api/v1/df/query_data_v1", "status"), ("DescribeInstances", "strip")]
    assert [e["status"] for e in victim] == ["error"]          # reported once; never released while it runs
