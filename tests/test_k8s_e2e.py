"""The pod-restart inspection end to end: the startup script, Studio, the sandbox, what users see."""
import os

from guance_monitor import clock
from guance_monitor import context
from guance_monitor import state
from guance_monitor_k8s_pod_restart import alert_state
from guance_monitor_k8s_pod_restart import causes
from guance_monitor_k8s_pod_restart import main
from guance_monitor_local import demo
from guance_monitor_local import func_runtime
from guance_monitor_local import market
from guance_monitor_local import scenario as scenarios
from guance_monitor_local.sandbox import Sandbox

from conftest import HERE
from k8s_scenario_builder import MINUTE, Builder, Container, Pod, SandboxAPI, ms, run_scenario

ROOT = os.path.dirname(HERE)
EXAMPLE = os.path.join(ROOT, "guance_monitor_k8s_pod_restart", "example.py")
STARTUP = os.path.join(ROOT, "startup", "guance_monitor_k8s_pod_restart.py")
LIBRARY = os.path.join(HERE, "scenarios", "k8s")


def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def crash_loop_pods(b, namespace, count=4, crashing=2, cluster="c1", until="2026-11-20T08:30:00Z", first_run=None):
    start = ms(first_run or b.runs[0]) - 30 * MINUTE
    for i in range(count):
        containers = None
        if i < crashing:
            restarts = []
            at, n = start + 2 * MINUTE, 0
            while at <= ms(until):
                n += 1
                restarts.append((at, n))
                at += 6 * MINUTE
            containers = [Container("app", restarts=restarts,
                                    terminations=[(t - 5000, "Error", 1) for t, _ in restarts])]
        b.add_pod(Pod(namespace, "svc-5d6e7f8a9b-%s%02d" % (namespace[:3], i), cluster=cluster,
                      node="node-%d" % (i % 2 + 1), owner=("deployment", "svc"), containers=containers))


def healthy_pods(b, namespace, count=3, cluster="c1"):
    for i in range(count):
        b.add_pod(Pod(namespace, "web-4c5d6e7f8a-%s%02d" % (namespace[:3], i), cluster=cluster,
                      node="node-%d" % (i % 2 + 1), owner=("deployment", "web")))


# -- the startup script -----------------------------------------------------------------------

def test_the_startup_script_is_the_example_as_the_market_deploys_it():
    assert read(STARTUP) == market.deploy(read(EXAMPLE), {})


def test_the_example_has_the_documented_shape():
    source = read(EXAMPLE)
    assert market.placeholders(source) == ["Guance API Key ID", "Guance API Key", "Guance Node"]
    assert "###### Do not modify the following content #####" in source
    for line in ("from guance_monitor__register import self_hosted_monitor",
                 "from guance_monitor__runner import Runner",
                 "import guance_monitor_k8s_pod_restart__main as main",
                 "@self_hosted_monitor(account['api_key_id'], account['api_key'], account['guance_node'])",
                 "@DFF.API('K8S-Pod 重启检测巡检', fixed_crontab='*/30 * * * *', timeout=900)",
                 "def run(configs=None):",
                 "        main.K8SPodRestartCheck(configs=configs, filters=[]),",
                 "    Runner(checkers, debug=False).run()"):
        assert line in source.splitlines(), line
    runtime = func_runtime.FuncRuntime(library=func_runtime.OverlayLibrary(func_runtime.PackageLibrary(), {
        "startup__k8s": (market.deploy(source, {}), "<startup__k8s>")}), echo=lambda line: None)
    api_funcs, scope = runtime.load("startup__k8s")
    doc = api_funcs[0]["description"]
    assert doc.startswith("zh-CN:\n  title: Kubernetes Pod 异常重启巡检") and "\nen:\n  title: " in doc
    assert scope["filter_cluster_namespace"]({"cluster_name": "c1", "namespace": "kube-system"}) is False
    assert scope["filter_cluster_namespace"]({"cluster_name": "c1", "namespace": "shop"}) is True
    assert main.INSPECTION == {"name": "k8s-pod-restart", "enabled_by_default": False}


def test_registered_disabled_by_default_and_runs_once_enabled(tmp_path):
    b = Builder("disabled", "a crash loop, nothing set in Studio", ["2026-11-20T08:00:00Z"])
    crash_loop_pods(b, "shop")
    data = b.to_dict()
    data["guance"].pop("studio")
    scenario = scenarios.from_dict(data)
    with Sandbox(scenario) as sandbox:
        lines = []
        runtime = demo.deployed_runtime(["k8s-pod-restart"], demo.sandbox_values(sandbox), str(tmp_path),
                                        echo=lines.append)
        sandbox.set_run(0)
        with clock.frozen(scenario.runs[0]):
            assert runtime.run("startup__guance_monitor_k8s_pod_restart.run").ok
            rule = list(sandbox.service("guance").rules.values())[0]
            assert rule["status"] != 0 and sandbox.events == []
            assert any("disabled in Guance Studio: skipped" in line for line in lines)
            assert rule["jsonScript"]["title"] == "K8S-Pod 重启检测巡检"
            rule["status"] = 0                                    # the user enables it in Studio
            assert runtime.run("startup__guance_monitor_k8s_pod_restart.run").ok
        assert [e["dimension_tags"] for e in sandbox.events] == [{"cluster_name_k8s": "c1", "namespace": "shop"}]


# -- what users see ---------------------------------------------------------------------------

def test_oom_report_gives_the_limit_to_set_and_blames_the_right_container(tmp_path):
    events, _, _ = run_scenario(os.path.join(LIBRARY, "oom.json"), tmp_path)
    text = events[0]["message"]
    assert "将内存 limit 从 512Mi 提高到至少 768Mi（窗口内观测峰值 490Mi，为 limit 的 95.7%" in text
    # issue 9: the container's state beside its last termination, consistently
    assert "| payment-58f9c7d6b4-x7k2p | app | regular | 是 yes | Running | OOMKilled | 137 |" in text
    assert "| payment-58f9c7d6b4-x7k2p | istio-proxy | sidecar |  | Running | - | - | - |" in text
    assert "| Running（上次 / last: OOMKilled, exit 137） | 内存溢出 OOMKilled · OOMKilled (exit 137) |" in text
    assert "| 60Mi / 128Mi (46.9%) |" in text


def test_probe_report_gives_the_probe_timings(tmp_path):
    events, _, _ = run_scenario(os.path.join(LIBRARY, "liveness-kill.json"), tmp_path)
    text = events[0]["message"]
    assert "`HTTP GET /healthz:8080 · initialDelaySeconds 5 · periodSeconds 10 · timeoutSeconds 1 · " \
           "failureThreshold 3`，连续失败约 30 秒即被重启" in text
    assert "Error (exit 137) · liveness/startup probe" in text


def test_spot_report_advises_disruption_budgets_spreading_and_instance_types(tmp_path):
    events, _, _ = run_scenario(os.path.join(LIBRARY, "spot-reclaim-bidfailed.json"), tmp_path)
    text = events[0]["message"]
    # issue 10: spot reclaim is its own cause, with the release notice
    assert "4 个 Pod 因抢占式实例回收而中断，涉及节点 `virtual-kubelet-cn-hangzhou-k`，最早回收通知 2026-11-20 15:40:00 (UTC+8)" \
        in text
    assert "回收通知 / notice 2026-11-20 15:40:00 (UTC+8)，释放 / released 2026-11-20 15:43:00 (UTC+8)" in text
    for words in ("PodDisruptionBudget", "topologySpreadConstraints", "k8s.aliyun.com/eci-use-specs"):
        assert words in text
    assert "已排除 / Excluded" in text and text.count("替换被中断 Pod 的新 Pod") == 4


def test_a_long_crash_loop_is_reminded_and_recovers_after_k_clean_runs(tmp_path):
    runs = ["2026-11-20T08:00:00Z", "2026-11-20T14:30:00Z", "2026-11-20T15:00:00Z", "2026-11-20T15:30:00Z"]
    b = Builder("reminder", "a crash loop lasting 6 hours, then fixed", runs)
    b.configs([{"namespace": "shop", "recover_after_runs": 1}])
    crash_loop_pods(b, "shop", until="2026-11-20T14:27:00Z")
    events, _, _ = run_scenario(b.to_dict(), tmp_path)
    assert [(e["run"], e["status"]) for e in events] == [(0, "critical"), (1, "critical"), (2, "ok")]
    assert "**仍在持续 / still ongoing**" in events[1]["message"]
    assert "异常开始于 Since：2026-11-20 16:00:00 (UTC+8)（已持续 6h 30m）" in events[1]["message"]
    assert "连续 1 次巡检回到基线" in events[2]["message"]


def test_an_open_alert_between_the_thresholds_stays_open(tmp_path):
    runs = ["2026-11-20T08:00:00Z", "2026-11-20T08:30:00Z", "2026-11-20T09:00:00Z", "2026-11-20T09:30:00Z",
            "2026-11-20T10:00:00Z"]
    b = Builder("hysteresis", "50% crash; clean; 7% of the pods restart (enough pods, under min_ratio); clean", runs)
    start = ms(runs[0]) - 30 * MINUTE
    for i in range(28):
        restarts = []
        if i < 14:
            restarts += [(start + 5 * MINUTE, 1), (start + 15 * MINUTE, 2)]
        if i < 2:
            restarts += [(start + 70 * MINUTE, 3)]
        containers = [Container("app", restarts=restarts, terminations=[(t - 1000, "Error", 1) for t, _ in restarts])]
        b.add_pod(Pod("shop", "svc-5d6e7f8a9b-%02d" % i, node="node-1", owner=("deployment", "svc"),
                      containers=containers if restarts else None))
    # run 1 is clean; at run 2, 2 of 28 pods restart (7%: enough pods, under min_ratio): the alert stays open and
    # its count of clean runs starts again; runs 3 and 4 are clean: ok at run 4 (K = 2), not at run 3
    events, _, _ = run_scenario(b.to_dict(), tmp_path)
    assert [(e["run"], e["status"]) for e in events] == [(0, "critical"), (4, "ok")]


def test_filters_from_the_startup_script_drop_namespaces(tmp_path):
    source = read(EXAMPLE).replace("filters=[]", "filters=[filter_cluster_namespace]")
    b = Builder("filtered", "kube-system and shop crash-loop", ["2026-11-20T08:00:00Z"])
    crash_loop_pods(b, "kube-system")
    crash_loop_pods(b, "shop")
    scenario = scenarios.from_dict(b.to_dict())
    with Sandbox(scenario) as sandbox:
        scripts = {"startup__guance_monitor_k8s_pod_restart": (market.deploy(source, demo.sandbox_values(sandbox)),
                                                               "<startup>")}
        runtime = func_runtime.FuncRuntime(library=func_runtime.OverlayLibrary(func_runtime.PackageLibrary(), scripts),
                                           state_dir=str(tmp_path), echo=lambda line: None)
        sandbox.set_run(0)
        with clock.frozen(scenario.runs[0]):
            assert runtime.run("startup__guance_monitor_k8s_pod_restart.run").ok
        assert [e["dimension_tags"]["namespace"] for e in sandbox.events] == ["shop"]


# -- bad inputs -------------------------------------------------------------------------------

def test_bad_studio_configs_give_a_clear_warning_event_then_ok_once_fixed(tmp_path):
    b = Builder("bad-configs", "configs of the wrong type", ["2026-11-20T08:00:00Z", "2026-11-20T08:30:00Z"])
    crash_loop_pods(b, "shop")
    b.configs('[{"cluster_name": "c1", "namespace": 5}]')
    data = b.to_dict()
    scenario = scenarios.from_dict(data)
    with Sandbox(scenario) as sandbox:
        lines = []
        runtime = demo.deployed_runtime(["k8s-pod-restart"], demo.sandbox_values(sandbox), str(tmp_path),
                                        echo=lines.append)
        sandbox.set_run(0)
        with clock.frozen(scenario.runs[0]):
            result = runtime.run("startup__guance_monitor_k8s_pod_restart.run")
        assert not result.ok
        assert "configs[0].namespace: expected a string or a list of strings, got 5" in str(result.error)
        assert any("configs rejected: configs[0].namespace" in line for line in lines)
        warning = sandbox.events[0]
        assert warning["status"] == "warning" and "configs[0].namespace" in warning["message"]
        rule = list(sandbox.service("guance").rules.values())[0]
        rule["jsonScript"]["callKwargs"] = {"configs": [{"cluster_name": "c1", "namespace": "shop"}]}
        sandbox.set_run(1)
        with clock.frozen(scenario.runs[1]):
            assert runtime.run("startup__guance_monitor_k8s_pod_restart.run").ok
        assert [e["status"] for e in sandbox.events] == ["warning", "critical", "ok"]


def test_bad_points_are_named_in_the_log_and_harm_nothing_else(tmp_path):
    events, results, _ = run_scenario(os.path.join(LIBRARY, "bad-data.json"), tmp_path)
    log = "\n".join(results[0].lines)
    assert "4 kube_pod series skipped (bad data)" in log
    for text in ("kube_pod points without the namespace tag", "kube_pod points without the uid tag (pod no-uid)",
                 "pod huge: restarts counter 1000000000000 is not a restart count",
                 "pod negative: restarts counter -5 is not a restart count"):
        assert text in log
    assert [e["dimension_tags"]["namespace"] for e in events] == ["orders"]


def test_no_data_is_said_and_changes_nothing(tmp_path):
    b = Builder("no-data", "a configured namespace without points", ["2026-11-20T08:00:00Z"])
    healthy_pods(b, "web")
    b.configs([{"cluster_name": "c1", "namespace": ["web", "ghost"]}])
    events, results, _ = run_scenario(b.to_dict(), tmp_path)
    assert events == []
    assert any("no data for namespace ghost of cluster c1" in line for line in results[0].lines)
    b = Builder("nothing", "no points at all", ["2026-11-20T08:00:00Z"])
    events, results, _ = run_scenario(b.to_dict(), tmp_path / "nothing")
    assert events == [] and results[0].ok
    assert any("no data: no kube_pod points for every cluster: every namespace" in line for line in results[0].lines)


def test_a_data_gap_keeps_the_alert_and_says_so(tmp_path):
    events, results, _ = run_scenario(os.path.join(LIBRARY, "data-gap.json"), tmp_path, runs=[0, 1])
    assert [(e["run"], e["status"]) for e in events] == [(0, "critical")]
    assert any("no data: c1/gap stopped reporting at 2026-11-20T08:00:00Z; its state is kept" in line
               for line in results[1].lines)


def test_no_secret_in_events_or_logs(tmp_path):
    events, results, _ = run_scenario(os.path.join(LIBRARY, "crash-loop.json"), tmp_path)
    scenario = scenarios.load(os.path.join(LIBRARY, "crash-loop.json"))
    secrets = [scenario.sandbox["guance_api_key_id"], scenario.sandbox["guance_api_key"], scenario.workspace["token"]]
    texts = [e["title"] + e["message"] for e in events] + [line for r in results for line in r.lines]
    assert texts and not [t for t in texts for s in secrets if s in t]


# -- the query plan ---------------------------------------------------------------------------

def run_plan(data, configs=None):
    api = SandboxAPI(data)
    checker = main.K8SPodRestartCheck(configs=configs)
    ctx = context.RunContext(api=api, store=state.MemoryStore())
    with clock.frozen(api.runs[0]):
        events = checker.run(ctx)
    return api, events, checker


def many_namespaces(count, firing=()):
    b = Builder("many", "%d namespaces" % count, ["2026-11-20T08:00:00Z"])
    for index in range(count):
        namespace = "ns%03d" % index
        if namespace in firing:
            crash_loop_pods(b, namespace)
        else:
            healthy_pods(b, namespace, count=2)
    return b.to_dict()


def test_the_number_of_queries_does_not_grow_with_the_namespaces():
    few, _, _ = run_plan(many_namespaces(3))
    lots, _, checker = run_plan(many_namespaces(60))
    # nothing changed: the five scope-wide queries, the short page of the per-cluster presence confirmed once
    assert len(few.queries) == len(lots.queries) == 6
    assert checker.stats["namespaces"] == 0 and checker.stats["dql_requests"] == 6
    texts = [q["q"] for q in lots.queries]
    assert texts[0].startswith("M::(M::`kube_pod`:(spread(`restarts`) AS `d`)  BY `cluster_name_k8s`, "
                               "`namespace`, `uid`):(count(`d`) AS `changed`, sum(`d`) AS `rises`) {`d` > 0} BY ")
    assert not [t for t in texts if "ns0" in t]                  # no namespace is named in any query


def test_details_are_queried_only_for_the_namespaces_that_may_fire():
    api, events, checker = run_plan(many_namespaces(20, firing=("ns004",)))
    assert [e["dimension_tags"]["namespace"] for e in events] == ["ns004"]
    named = [q["q"] for q in api.queries if "ns0" in q["q"]]
    # the pod counters' short page confirmed; then Guance's history for the baseline of ns004 (issue 10: it has none
    # of its own), one nested query
    assert [q.split("(")[0] for q in named] == ["L::`kubernetes_events`:", "O::`kubelet_pod`:", "M::`kube_pod`:",
                                                "M::`kube_pod`:", "M::"]
    assert named[-1].startswith("M::(M::`kube_pod`:(spread(`restarts`) AS `d`, count(`restarts`) AS `n`) "
                                "{(`cluster_name_k8s` = 'c1' && `namespace` IN ['ns004'])} [")
    assert all("'ns004'" in q and "ns003" not in q for q in named)
    assert checker.stats["pods"] == 4 and checker.stats["namespaces"] == 1


def test_pod_counters_are_paged_by_series(monkeypatch):
    from guance_monitor_k8s_pod_restart import collect
    monkeypatch.setattr(collect, "POD_PAGE_SIZE", 1000)
    b = Builder("big", "2300 pods in one namespace, two restarting once", ["2026-11-20T08:00:00Z"])
    start = ms("2026-11-20T07:30:00Z")
    for i in range(2300):
        tags = {"cluster_name_k8s": "c1", "namespace": "big", "uid": "u%05d" % i, "pod_name": "p%05d" % i,
                "node_name": "node-1", "deployment": "d"}
        for minute in (0, 30):
            restarts = 1 if i < 2 and minute == 30 else 0
            b.metric.append({"measurement": "kube_pod", "tags": tags, "fields": {"restarts": restarts, "ready": 1},
                             "time": start + minute * MINUTE})
    api, events, checker = run_plan(b.to_dict())
    paged = [q.get("soffset") for q in api.queries if q["q"].startswith("M::`kube_pod`:(first(")]
    # the short last page (300) is confirmed by one more request: the server's page cap is unknown
    assert paged == [0, 1000, 2000, 2300]
    assert all(q.get("sorder_by") for q in api.queries if q.get("slimit"))
    assert checker.stats["pods"] == 2300 and events == []          # 2 of 2300: far below min_ratio


def test_a_namespace_whose_restarts_cannot_reach_the_thresholds_is_not_looked_at_pod_by_pod():
    b = Builder("noise", "one restart in each of 30 namespaces", ["2026-11-20T08:00:00Z"])
    start = ms("2026-11-20T07:30:00Z")
    for index in range(30):
        b.add_pod(Pod("ns%02d" % index, "api-%02d" % index, containers=[Container("app", restarts=[
            (start + 10 * MINUTE, 1)])]))
    api, events, checker = run_plan(b.to_dict())
    assert events == [] and checker.stats["pods"] == 0
    assert not [q for q in api.queries if q["q"].startswith("M::`kube_pod`:(first(")]


def test_outside_func_the_checker_says_it_needs_guance():
    checker = main.K8SPodRestartCheck()
    ctx = context.RunContext(api=None, store=state.MemoryStore())
    try:
        checker.run(ctx)
    except RuntimeError as exc:
        assert "queries Guance" in str(exc)
    else:
        raise AssertionError("the checker ran without a Guance client")


def test_the_exported_market_runs_like_the_package(tmp_path):
    out = tmp_path / "market"
    market.export(str(out))
    exported = func_runtime.MarketLibrary(str(out))
    assert exported.has("guance_monitor_k8s_pod_restart__main") and \
        exported.has("guance_monitor_k8s_pod_restart__example")
    seen = {}
    for name, library in (("market", exported), ("package", func_runtime.PackageLibrary())):
        scenario = scenarios.load(os.path.join(LIBRARY, "oom.json"))
        with Sandbox(scenario) as sandbox:
            source = market.deploy(library.source("guance_monitor_k8s_pod_restart__example"),
                                   demo.sandbox_values(sandbox))
            runtime = func_runtime.FuncRuntime(
                library=func_runtime.OverlayLibrary(library, {
                    "startup__guance_monitor_k8s_pod_restart": (source, "<startup>")}),
                state_dir=str(tmp_path / name), echo=lambda line: None)
            sandbox.set_run(0)
            with clock.frozen(scenario.runs[0]):
                result = runtime.run("startup__guance_monitor_k8s_pod_restart.run")
            assert result.ok, result.error
            seen[name] = [(e["title"], e["status"], e["dimension_tags"], e["message"]) for e in sandbox.events]
    assert seen["market"] == seen["package"] and len(seen["market"]) == 1


# -- issue 10: the baseline from Guance's history -----------------------------------------------------------------

HISTORY_QUERY = "M::(M::`kube_pod`:(spread(`restarts`) AS `d`, count(`restarts`) AS `n`) {"


def history_queries(api):
    return [q for q in api.queries if q["q"].startswith(HISTORY_QUERY) and ":30m] BY" in q["q"]]


def test_the_baseline_adds_one_query_whatever_the_number_of_namespaces():
    few, _, _ = run_plan(many_namespaces(10, firing=("ns001", "ns002", "ns003")))
    lots, events, _ = run_plan(many_namespaces(40, firing=tuple("ns%03d" % n for n in range(0, 40, 2))))
    assert len(history_queries(few)) == len(history_queries(lots)) == 1
    assert len(events) == 20 and len(lots.queries) == len(few.queries)


def test_an_open_alert_keeps_the_baseline_it_fired_against_and_asks_guance_no_more():
    runs = ["2026-11-20T08:00:00Z", "2026-11-20T08:30:00Z"]
    b = Builder("open", "a crash loop through both runs", runs)
    crash_loop_pods(b, "shop")
    api = SandboxAPI(b.to_dict())
    store = state.MemoryStore()
    seen = []
    for run in runs:
        checker = main.K8SPodRestartCheck()
        before = len(api.queries)
        with clock.frozen(run):
            events = checker.run(context.RunContext(api=api, store=store))
        checker.commit()
        seen.append((len(history_queries(SandboxAPIView(api.queries[before:]))), [e["status"] for e in events]))
    assert seen == [(1, ["critical"]), (0, [])]            # fired once; the open alert needs no history
    alerts = checker.store(context.RunContext(api=api, store=store)).scoped("alerts").get("alerts")
    entry = alerts[alert_state.alert_key("c1", "shop")]
    assert entry["info"]["baseline"] == 0.0 and entry["info"]["baseline_from"] == "none"


class SandboxAPIView:
    def __init__(self, queries):
        self.queries = queries


def test_a_chronic_namespace_is_quiet_on_the_first_run_and_says_where_its_baseline_came_from(tmp_path):
    events, results, _ = run_scenario(os.path.join(LIBRARY, "chronic-namespace.json"), tmp_path)
    assert [(e["run"], e["status"]) for e in events] == [(2, "critical")]
    # run 2 judges against the inspection's own history, learnt from runs 0 and 1 (40 %)
    assert "基线 Baseline：40%（最近 2 个正常窗口的中位数 / median of the last 2 clean windows）" in events[0]["message"]
    events, _, _ = run_scenario(os.path.join(LIBRARY, "chronic-rises-first-run.json"), tmp_path / "rises")
    assert "基线 Baseline：40%（观测云历史：窗口前 4 小时内 80 个 Pod·窗口中 32 个有重启（kube_pod） / Guance's history: " \
           "32 of 80 pod-windows restarted in the 4 hours before the window (kube_pod)），触发阈值 threshold 60%" in \
        events[0]["message"]
    assert events[0]["title"] == "[c1/ledger] Pod 异常重启 / Pod restarts 80%（基线 / baseline 40%），" \
                                 "主要原因 / main cause：内存溢出 OOMKilled"


def first_report(name, tmp_path):
    """The message of the first event a library scenario gives."""
    events, _, _ = run_scenario(os.path.join(LIBRARY, name + ".json"), tmp_path)
    return events[0]["message"]


def test_node_trouble_counts_every_hit_pod(tmp_path):
    text = first_report("node-pressure-not-reboot", tmp_path)
    assert "**25%** = 4 / 16（受影响 hit：4 个容器重启 restarted + 0 个被中断 disrupted" in text
    assert "| node-3 | MemoryPressure | 2026-11-20 15:38:00 (UTC+8) → 2026-11-20 15:55:00 (UTC+8) | " \
           "NodeHasInsufficientMemory, NodeHasSufficientMemory |" in text
    assert "| node-3 | NotReady | 2026-11-20 15:48:00 (UTC+8) → 2026-11-20 15:50:00 (UTC+8) |" in text
    assert "SystemOOM: System OOM encountered, victim process: java, pid: 23451" in text
    assert "节点重启" not in text and "node reboot" not in text


def test_an_oom_without_pod_status_is_told_by_memory_and_the_node_s_oom_kills(tmp_path):
    events, _, _ = run_scenario(os.path.join(LIBRARY, "oom-no-status.json"), tmp_path)
    assert [e["dimension_tags"]["namespace"] for e in events] == ["ingest"]       # tools: not blamed, not firing
    text = events[0]["message"]
    assert "| CrashLoopBackOff（上次 / last: OOMKilled） | 内存溢出 OOMKilled · OOM kill（节点事件 / node event） | " \
           "kube\\_pod 内存在 3/3 次重启前达到 509.4Mi / 512Mi (99.5%)" in text
    assert "node-problem-detector OOMKilling ×3 @ node-1，首次 / first 2026-11-20 15:34:01 (UTC+8): Killed process " \
           "4242 (python3)（按进程名与时间 / by process name and time）" in text
    assert "将内存 limit 从 512Mi 提高到至少 768Mi（窗口内观测峰值 509.4Mi" in text


def test_an_ecs_spot_node_reclaimed_is_a_spot_reclaim_with_its_notice(tmp_path):
    text = first_report("ecs-spot-node-reclaimed", tmp_path)
    assert "| cn-hangzhou.10.0.2.11 | 抢占式实例回收 Spot reclaim | 2026-11-20 15:36:00 (UTC+8) | " \
           "ECS i-bp1spotnode01: Recycling (CO::aliyun\\_ecs) |" in text
    assert "4 个 Pod 因抢占式实例回收而中断，涉及节点 `cn-hangzhou.10.0.2.11`，最早回收通知 2026-11-20 15:36:00 (UTC+8)" in text


def test_a_rollout_is_named_with_its_revision_time_change_and_rollback(tmp_path):
    text = first_report("rollout-crash-exit2", tmp_path)
    assert "| deployment/api | api-79c4b8f6d5 | 2026-11-20 15:20:00 (UTC+8) | 3 | api-6d5f7b9c8d（5 个 Pod 正常 " \
           "healthy） | `image api`: `registry.example.com/shop/api:1.4.2` → `registry.example.com/shop/api:1.5.0`; " \
           "`label app.kubernetes.io/version`: `1.4.2` → `1.5.0` | `kubectl rollout undo deployment/api -n shop` |" in text
    assert causes.EXIT_2_APP in text and "misuse of a shell builtin (the container" not in text


def test_a_few_minutes_of_history_before_the_window_are_no_baseline(tmp_path):
    """Data that began minutes before the window (a new namespace, DataKit just installed, a scenario moved to
    now) straddles two 30-minute buckets when the run is a little late: that is not two windows of history (the
    demo's crash loop, judged against such a sliver, went quiet when moved to now)."""
    import k8s_make_scenarios
    for minutes in (0, 2, 4):
        data = k8s_make_scenarios.demo_fragment()
        data["runs"] = ["2026-11-20T08:%02d:00Z" % minutes]
        events, _, _ = run_scenario(data, tmp_path / str(minutes))
        assert sorted((e["dimension_tags"]["namespace"], e["status"]) for e in events) == \
            [("pay", "critical"), ("shop", "error")], minutes
        assert all("观测云中窗口前的历史不足 2 个窗口" in e["message"] for e in events)
