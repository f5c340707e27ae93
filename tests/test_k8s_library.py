"""The labelled scenario library: precision and recall of the fired events and of the attributed cause (published in
docs/k8s-pod-restart.md, section 13: a test keeps them current).

Every scenario under ``tests/scenarios/k8s/`` runs through the deployed
``example`` startup script against the sandbox, at each of its run times with
the state kept between runs (as the demo does). Its ``labels.expected`` are
the events a user must get — (run, cluster, namespace, status) and, for
firing events, the main cause the title names. Anything else is a false
positive. Regenerate the files with ``tests/k8s_make_scenarios.py``.
"""
import glob
import json
import os

import pytest

from guance_monitor_k8s_pod_restart import causes
from guance_monitor_k8s_pod_restart import templates

from conftest import HERE
from k8s_scenario_builder import run_scenario

LIBRARY = sorted(glob.glob(os.path.join(HERE, "scenarios", "k8s", "*.json")))
DOCS = os.path.join(os.path.dirname(HERE), "docs", "k8s-pod-restart.md")
REQUIRED = ["crash-loop", "oom", "liveness-kill", "eviction-storm", "spot-reclaim-bidfailed", "rollout", "job-pods",
            "node-reboot", "small-namespace", "flapping", "data-gap", "counter-reset", "two-clusters-same-namespace",
            # issue 10's hard cases
            "chronic-namespace", "chronic-rises-first-run", "oom-no-status", "node-pressure-not-reboot",
            "rollout-crash-exit2", "ecs-spot-node-reclaimed"]
CAUSE_OF_LABEL = {label: key for key, label in causes.CAUSE_LABEL.items()}
MAIN_CAUSE = templates.MAIN_CAUSE


def seen(event):
    """What the user sees of an event: run, dimension, status and the main cause named in the title."""
    item = {"run": event["run"], "cluster_name_k8s": event["dimension_tags"].get("cluster_name_k8s"),
            "namespace": event["dimension_tags"].get("namespace"), "status": event["status"]}
    if MAIN_CAUSE in event["title"]:
        item["cause"] = CAUSE_OF_LABEL.get(event["title"].split(MAIN_CAUSE, 1)[1], "?")
    return item


def key(item):
    return (item["run"], item["cluster_name_k8s"], item["namespace"], item["status"])


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    results = {}
    for path in LIBRARY:
        name = os.path.basename(path)[:-len(".json")]
        with open(path, encoding="utf-8") as handle:
            labels = json.load(handle)["labels"]
        events, tasks, _ = run_scenario(path, tmp_path_factory.mktemp(name))
        results[name] = {"expected": labels["expected"], "got": [seen(e) for e in events],
                         "errors": [str(t.error) for t in tasks if not t.ok]}
    return results


def test_the_library_covers_the_required_situations():
    names = [os.path.basename(p)[:-len(".json")] for p in LIBRARY]
    assert set(REQUIRED) <= set(names), sorted(set(REQUIRED) - set(names))
    for path in LIBRARY:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        assert data["labels"]["why"] and isinstance(data["labels"]["expected"], list)
        assert any(s["check"] == "k8s-pod-restart" and s["disabled"] is False for s in data["guance"]["studio"])


def test_precision_and_recall_of_events_and_causes(outcomes):
    reported = expected = matched = 0
    cause_reported = cause_expected = cause_right = 0
    for name, outcome in sorted(outcomes.items()):
        assert not outcome["errors"], (name, outcome["errors"])
        wanted = {key(e): e for e in outcome["expected"]}
        got = {key(e): e for e in outcome["got"]}
        reported += len(outcome["got"])
        expected += len(outcome["expected"])
        matched += len(set(wanted) & set(got))
        cause_reported += sum(1 for e in outcome["got"] if e["status"] != "ok")
        cause_expected += sum(1 for e in outcome["expected"] if e["status"] != "ok")
        cause_right += sum(1 for k in set(wanted) & set(got)
                           if wanted[k]["status"] != "ok" and wanted[k].get("cause") == got[k].get("cause"))
    precision = matched / float(reported) if reported else 1.0
    recall = matched / float(expected) if expected else 1.0
    cause_precision = cause_right / float(cause_reported) if cause_reported else 1.0
    cause_recall = cause_right / float(cause_expected) if cause_expected else 1.0
    summary = summary_line(len(outcomes), expected, reported, precision, recall, cause_recall)
    print("\n" + summary)
    print("  causes: precision %.3f, recall %.3f" % (cause_precision, cause_recall))
    assert precision >= 0.95 and recall >= 0.95
    assert cause_precision >= 0.95 and cause_recall >= 0.95
    with open(DOCS, encoding="utf-8") as handle:
        assert summary in handle.read(), "publish the library's figures in docs/k8s-pod-restart.md: " + summary


def summary_line(scenarios, expected, reported, precision, recall, cause_accuracy):
    """The line docs/k8s-pod-restart.md publishes (cause accuracy: the expected firing events reported with the
    right main cause, over all expected firing events)."""
    return ("%d scenarios, %d events expected, %d reported: precision %.3f, recall %.3f, cause accuracy %.3f"
            % (scenarios, expected, reported, precision, recall, cause_accuracy))


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: os.path.basename(p)[:-len(".json")])
def test_each_scenario_gets_exactly_its_labelled_events(outcomes, path):
    outcome = outcomes[os.path.basename(path)[:-len(".json")]]
    assert sorted(outcome["got"], key=key) == sorted(outcome["expected"], key=key)
