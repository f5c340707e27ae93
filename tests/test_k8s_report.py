"""The rendered reports of the pod-restart inspection, compared with golden files.

``tests/golden/k8s/<name>.md`` holds ``# <title>`` and the markdown message of
one event, exactly. After a deliberate change of the report, regenerate with

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_k8s_report.py

and review the diff.
"""
import io
import os
import re

import pytest

from guance_monitor import alerts
from guance_monitor_k8s_pod_restart import alert_state
from guance_monitor_k8s_pod_restart import analyse
from guance_monitor_k8s_pod_restart import facts
from guance_monitor_k8s_pod_restart import render
from guance_monitor_k8s_pod_restart import scopes

from conftest import HERE
from k8s_scenario_builder import run_scenario

GOLDEN = os.path.join(HERE, "golden", "k8s")
LIBRARY = os.path.join(HERE, "scenarios", "k8s")
END = 1795161600000
START = END - analyse.WINDOW_MS

# golden name -> (library scenario, run, namespace)
FROM_LIBRARY = {
    "oom": ("oom", 0, "pay"),
    "eviction-storm": ("eviction-storm", 0, "report"),
    "spot-reclaim-bidfailed": ("spot-reclaim-bidfailed", 0, "render"),
    "liveness-no-yaml-status": ("liveness-kill-no-yaml-status", 0, "catalog"),
    "crash-loop": ("crash-loop", 0, "shop"),
    "escalated": ("escalate-recover", 1, "checkout"),
    "recovered": ("data-gap", 3, "gap"),
}


def as_text(event):
    return "# %s\n\n%s" % (event["title"], event["message"])


def compare(name, text):
    path = os.path.join(GOLDEN, name + ".md")
    if os.environ.get("UPDATE_GOLDEN") == "1":
        os.makedirs(GOLDEN, exist_ok=True)
        with io.open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    assert os.path.exists(path), "no golden file %s: run with UPDATE_GOLDEN=1 once" % path
    with io.open(path, encoding="utf-8", newline="\n") as handle:
        assert text == handle.read()


@pytest.fixture(scope="module")
def library_events(tmp_path_factory):
    out = {}
    for scenario in sorted(set(s for s, _, _ in FROM_LIBRARY.values())):
        events, _, _ = run_scenario(os.path.join(LIBRARY, scenario + ".json"), tmp_path_factory.mktemp(scenario))
        out[scenario] = events
    return out


@pytest.mark.parametrize("name", sorted(FROM_LIBRARY))
def test_report_matches_its_golden_file(library_events, name):
    scenario, run, namespace = FROM_LIBRARY[name]
    events = [e for e in library_events[scenario] if e["run"] == run and e["dimension_tags"]["namespace"] == namespace]
    assert len(events) == 1
    compare(name, as_text(events[0]))


# -- a hand-made namespace: escaping, long tables ----------------------------------------------

def stats(name, series, namespace, owner, uid=None):
    values = [v for v in series if v is not None]
    return {"cluster": "c|1", "namespace": namespace, "uid": uid or "uid-" + name, "pod": name, "node": "node*1",
            "owner_kind": owner[0], "owner": owner[1], "first": values[0], "last": values[-1], "max": max(values),
            "min": min(values), "samples": len(values), "ready_max": 1, "last_ms": END}


def hand_made_namespace():
    namespace = "team_a*b"
    key = alert_state.alert_key("c|1", namespace)
    pods = [stats("api-[x]-%02d" % i, [0, 1, 2, 3], namespace, ("deployment", "api|v2")) for i in range(25)]
    pods += [stats("ok-%02d" % i, [0, 0], namespace, ("deployment", "ok")) for i in range(5)]
    pods += [stats("job-%02d" % i, [0, 4], namespace, ("job", "nightly")) for i in range(23)]
    scope_list = scopes.from_entries([])
    obs = facts.Observation(window=facts.Window(START, END), pods=pods)
    assessed, _ = analyse.assess(obs, lambda c, n: scopes.match(scope_list, c, n), {key: [[END - 60000, 0.04]]})
    ns = list(assessed.values())[0]
    for pod in ns.abnormal():
        container = {"name": "app`main", "type": "regular", "restarted": True, "has_status": True,
                     "requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"},
                     "memory_limit": float(2 ** 30), "probes": {},
                     "last": {"reason": "Error", "exit_code": 2, "finished_ms": END - 60000},
                     "cause": "app_error", "reason": "Error (exit 2) | shell misuse"}
        pod["detail"] = {"containers": [container], "cause": "app_error", "reason": container["reason"],
                         "exit0": False, "yaml": "status"}
        pod["cause"] = "app_error"
    ns.baseline_info.windows = 3
    ns.notes.append("pod x|y: restarts counter -1 is not a restart count")
    return ns


def test_names_are_escaped_and_long_tables_cut():
    ns = hand_made_namespace()
    decision = alerts.Decision(ns.key, "critical", "escalated", {"status": "error"}, END - 3600 * 1000)
    events = [{"time_ms": END - 120000, "uid": ns.abnormal()[0]["uid"], "type": "Warning", "reason": "BackOff",
               "message": "Back-off restarting failed container app`main | <b>x</b>"}]
    memory = {(ns.abnormal()[0]["uid"], "app`main"): {"mem_peak": 700.0 * 2 ** 20, "mem_limit": float(2 ** 30)}}
    event = render.firing_event(ns, decision, analyse.judge(ns), START, END, memory, events)
    text = as_text(event)
    compare("escaping-and-cuts", text)
    assert event["dimension_tags"] == {"cluster_name_k8s": "c|1", "namespace": "team_a*b"}
    assert "| deployment/api\\|v2 | api-\\[x\\]-00 | node\\*1 | 3 |" in text
    assert "另有 5 行未显示 / 5 more rows not shown" in text          # 25 abnormal pods, 20 shown
    assert "另有 3 行未显示 / 3 more rows not shown" in text          # 23 excluded Job pods, 20 shown
    assert "<b>" not in text and "\\<b\\>" in text
    header_cells = None
    for line in text.splitlines():
        if not line.startswith("|"):
            header_cells = None
            continue
        cells = len(re.findall(r"(?<!\\)\|", line))       # unescaped pipes: no name can add a column
        if header_cells is None:
            header_cells = cells
        assert cells == header_cells, line


def test_titles_are_one_line_and_bounded():
    ns = hand_made_namespace()
    ns.namespace = "n" * 300
    ns.cluster = "line\nbreak"
    decision = alerts.Decision(ns.key, "warning", "new")
    event = render.firing_event(ns, decision, analyse.judge(ns), START, END)
    assert "\n" not in event["title"] and len(event["title"]) < 256
    assert event["title"].startswith("[line break/" + "n" * 57 + "...] Pod 异常重启 ")


# -- issue 9 / 10: logs, links, rollouts and node conditions stay data-escaped ---------------------------------

@pytest.mark.parametrize("node, console", [
    (None, "https://console.guance.com"), ("us1", "https://us1-console.guance.com"),
    ("https://eu1-openapi.guance.one", "https://eu1-console.guance.com"), ("http://127.0.0.1:9999", ""),
    ("https://guance.internal.example/openapi", ""),
])
def test_the_console_of_the_account_s_node(node, console):
    assert render.console_url(node) == console


HOSTILE = "[x](javascript:alert(1)) <img src=x onerror=alert(1)> http://evil.example/ \u202eevil"


def hostile_namespace():
    from guance_monitor_k8s_pod_restart import nodes
    from guance_monitor_k8s_pod_restart import rollouts
    ns = hand_made_namespace()
    for pod in ns.abnormal()[:3]:
        pod["node"] = HOSTILE
        pod["trouble"] = [nodes.Condition("system_oom", END - 600000, END - 600000, [
            {"reason": "SystemOOM", "message": "victim process: " + HOSTILE}])]
        pod["cause"] = "node_condition"
    info = nodes.NodeInfo(HOSTILE)
    info.conditions = pod["trouble"]
    info.reboots = [nodes.Reboot(END - 60000, "Rebooted (boot id %s)" % HOSTILE)]
    ns.nodes = {HOSTILE: info}
    ns.rollouts = [rollouts.Rollout("c|1", ns.namespace, "deployment", HOSTILE, HOSTILE, END - 3600000, END - 60000, 3,
                                    HOSTILE, 2, True, [("image " + HOSTILE, HOSTILE, "http://evil.example/x:2")])]
    return ns


def test_new_sections_cannot_be_hijacked_by_names_from_the_data():
    from test_report_safety import RENDERERS, problems_in
    ns = hostile_namespace()
    decision = alerts.Decision(ns.key, "critical", "new")
    event = render.firing_event(ns, decision, analyse.judge(ns), START, END, console="https://console.guance.com")
    assert "## 最近的发布 / Recent rollout" in event["message"] and "## 节点状况 / Node conditions" in event["message"]
    assert "(https://console.guance.com/logIndex/log)" in event["message"]
    for name, renderer in sorted(RENDERERS.items()):
        assert problems_in(renderer(event["message"])) == [], name
    assert "\u202e" not in event["message"]
