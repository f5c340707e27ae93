"""Render: the run's events from its ``Plan``, its namespaces and its facts. No I/O.

``events(plan, namespaces, obs, console)`` builds, in order: the report of each firing
(new, escalated, de-escalated, reminder) namespace (``firing_event``) or the
``ok`` that closes it (``recovered_event``); the incomplete-data warning naming
what the queries could not fetch, or its ``ok`` (``data_event``); the no-data
warnings of sources gone silent, or their ``ok`` (``silence_events``).

A firing report names, besides the figures (numerator and denominator of the ratio,
where the baseline came from): the rollout behind the crashes with its rollback command
(``rollout_rows``), the node conditions with their times (``node_rows``), each pod's state
as a user sees it (``causes.container_state``: ``CrashLoopBackOff``, ``OOMKilled``...)
and the evidence of its cause, and where its logs are: a link to the log explorer of the
account's Guance console (``console_url``; the console's paths are not documented
publicly: assumed) and one line of DQL per pod that finds them.

``log_lines`` says in the task log what was skipped or had no data. Names from
the data are escaped by the templates' ``code``/``md`` filters and ``table``;
long tables are cut with a count; no name from the data goes into a link.
"""
from guance_monitor import checker
from guance_monitor import clock
from guance_monitor import dql
from guance_monitor import openapi
from guance_monitor import report
from guance_monitor_k8s_pod_restart import alert_state
from guance_monitor_k8s_pod_restart import analyse
from guance_monitor_k8s_pod_restart import baseline as baselines
from guance_monitor_k8s_pod_restart import causes
from guance_monitor_k8s_pod_restart import nodes as node_facts
from guance_monitor_k8s_pod_restart import scopes
from guance_monitor_k8s_pod_restart import templates

NAME_LIMIT = 60          # cluster / namespace length in a title
EVENTS_PER_POD = 2       # latest Warning events shown per pod
LOG_QUERIES = 5          # pods whose log query is given
LOG_LEAD_MS = 5 * 60 * 1000   # the log query starts this long before the window
# The Guance console of each documented node (Guance's DataKit/DCA docs list them); the OpenAPI key of the account
# says which. A private deployment's console is not known: links stay relative (the event is shown in the console).
CONSOLES = {
    "default": "https://console.guance.com", "aws": "https://aws-console.guance.com",
    "cn3": "https://cn3-console.guance.com", "cn4": "https://cn4-console.guance.com",
    "cn5": "https://cn5-console.guance.com", "cn6": "https://cn6-console.guance.com",
    "us1": "https://us1-console.guance.com", "eu1": "https://eu1-console.guance.com",
    "ap1": "https://ap1-console.guance.com",
}


def console_url(guance_node):
    """The console base URL of the account's Guance node (a node key, or its documented OpenAPI URL); "" when
    unknown (a private deployment, a sandbox)."""
    key = openapi.node_key(guance_node)
    if key is None and isinstance(guance_node, str):
        url = guance_node.strip().rstrip("/")
        key = next((k for k, v in openapi.NODES.items() if v == url), None)
    return CONSOLES.get(key or "", "")


def dimension_tags(cluster, namespace):
    return {"cluster_name_k8s": cluster, "namespace": namespace}


def title_name(value):
    text = " ".join(str(value or "-").split())
    return text if len(text) <= NAME_LIMIT else text[:NAME_LIMIT - 3] + "..."


def cause_label(cause):
    if cause == "node_reboot":
        return "节点重启 Node reboot"
    return causes.CAUSE_LABEL.get(cause or "unknown", causes.CAUSE_LABEL["unknown"])


def workload_text(pod):
    kind, name = analyse.workload_of(pod)
    return "%s/%s" % (kind, name)


def baseline_text(found):
    """Where the baseline (``baseline.Baseline``) came from."""
    return baselines.text(found)


# -- the run's events ---------------------------------------------------------------------------

def events(plan, namespaces, obs, console=""):
    """Every event of the run, from its plan (``console``: the base URL of the account's Guance console, or "")."""
    start_ms, end_ms = obs.window.start_ms, obs.window.end_ms
    out = []
    for decision in plan.alerts:
        ns = namespaces.get(decision.key)
        if decision.status == "ok":
            cluster, namespace = alert_state.split_key(decision.key) or ("", decision.key)
            out.append(recovered_event(cluster, namespace, decision, plan.recover_after.get(decision.key), ns,
                                       start_ms, end_ms))
        elif ns is not None:
            uids = set(p["uid"] for p in ns.pods)
            memory = {k: v for k, v in obs.memory.items() if k[0] in uids}
            out.append(firing_event(ns, decision, plan.verdicts[decision.key], start_ms, end_ms, memory,
                                    [e for e in obs.events if e.get("uid") in uids], console))
    if plan.data is not None:
        out.append(data_event(plan, end_ms))
    out.extend(silence_events(plan.silence, end_ms))
    return out


# -- firing -----------------------------------------------------------------------------------

def firing_event(ns, decision, verdict, start_ms, end_ms, memory=None, events=None, console=""):
    """The event dict for a firing namespace (``decision``: the tracker's Decision; ``verdict``: its Verdict)."""
    memory = memory or {}
    events = events or []
    abnormal = sorted(ns.abnormal(), key=lambda p: (-(p.get("delta") or 0), p.get("pod") or ""))
    main = causes.dominant([p.get("cause") or "unknown" for p in abnormal]) or "unknown"
    figs = ns.figures
    previous = (decision.previous or {}).get("status") if decision.reason in ("escalated", "deescalated") else None
    since_ms = decision.since_ms if decision.reason != "new" else None
    by_uid = {}
    for event in events:
        by_uid.setdefault(event.get("uid"), []).append(event)
    view = {
        "cluster": ns.cluster or "-", "namespace": ns.namespace,
        "change": templates.CHANGES.get(decision.reason, decision.reason),
        "previous_text": "（之前 previously %s）" % previous if previous else "",
        "start_ms": start_ms, "end_ms": end_ms, "ratio": figs.ratio,
        "baseline": ns.baseline, "baseline_text": baseline_text(ns.baseline_info),
        "threshold": verdict.threshold or 0.0, "figures": figs, "status": decision.status,
        "main_cause": cause_label(main), "since_ms": since_ms,
        "since_seconds": (end_ms - since_ms) / 1000.0 if since_ms else None,
        "cause_rows": cause_rows(abnormal),
        "rollout_lines": [rollout_line(r) for r in ns.rollouts],
        "rollout_rows": [rollout_row(r) for r in ns.rollouts],
        "node_rows": node_rows(ns),
        "pod_rows": [pod_row(p, by_uid.get(p["uid"], [])) for p in abnormal],
        "container_rows": container_rows(abnormal, memory, by_uid),
        "yaml_note": yaml_note(abnormal),
        "event_rows": event_rows(abnormal, events),
        "advice": advice(ns, abnormal, memory, events),
        "logs_link": (console or "") + templates.LOG_EXPLORER,
        "logs_note": logs_note(console),
        "log_queries": log_queries(abnormal, start_ms, end_ms),
        "links": [{"label": label, "path": (console or "") + path} for label, path in templates.LINKS],
        "queries": queries(ns, abnormal),
        "excluded_rows": excluded_rows(ns),
        "notes": list(ns.notes),
    }
    title = templates.FIRING_TITLE.format(cluster=report.md(title_name(ns.cluster)),
                                          namespace=report.md(title_name(ns.namespace)),
                                          ratio=report.pct(figs.ratio), baseline=report.pct(ns.baseline),
                                          cause=cause_label(main))
    return {"title": title, "status": decision.status, "message": report.render(templates.FIRING, **view),
            "dimension_tags": dimension_tags(ns.cluster, ns.namespace)}


def cause_rows(abnormal):
    counts = {}
    for pod in abnormal:
        counts[pod.get("cause") or "unknown"] = counts.get(pod.get("cause") or "unknown", 0) + 1
    ordered = sorted(counts, key=lambda c: (-counts[c], causes.CAUSE_ORDER.get(c, 99)))
    return [[cause_label(c), counts[c]] for c in ordered]


def rollout_line(rollout):
    """One overview line naming the rollout behind the crashes (markdown, names escaped)."""
    created = report.display_time(rollout.created_ms) if rollout.created_ms is not None else "?"
    if rollout.strong:
        return ("**发布导致 / a rollout preceded the crashes**：%s 的新版本 %s 创建于 %s，崩溃的 %d 个 Pod 都属于它，上一版本 %s "
                "的 %d 个 Pod 正常；回滚 / roll back：%s" % (
                    report.code("%s/%s" % (rollout.kind, rollout.name)), report.code(rollout.revision), created,
                    rollout.crashing, report.code(rollout.previous), rollout.previous_pods,
                    report.code(rollout.command)))
    return ("**最近的发布 / a recent rollout**：%s 的版本 %s 创建于 %s，在崩溃开始之前；回滚 / roll back：%s" % (
        report.code("%s/%s" % (rollout.kind, rollout.name)), report.code(rollout.revision), created,
        report.code(rollout.command)))


def rollout_row(rollout):
    change = "; ".join("%s: %s → %s" % (report.code(what), report.code(before), report.code(after))
                       for what, before, after in rollout.changes[:3])
    previous = "%s（%d 个 Pod %s）" % (rollout.previous or "-", rollout.previous_pods,
                                   "正常 healthy" if rollout.previous_healthy else "未确认 not confirmed healthy")
    return ["%s/%s" % (rollout.kind, rollout.name), rollout.revision,
            report.display_time(rollout.created_ms) if rollout.created_ms is not None else "-",
            rollout.crashing, previous if rollout.previous else "-",
            report.Markdown(change) if change else "DataKit 数据中未见差异 / no difference in DataKit's data",
            report.code(rollout.command)]


def node_rows(ns):
    """One row per condition or reboot of the nodes that touched the namespace's pods."""
    rows = []
    for name in sorted(ns.nodes):
        info = ns.nodes[name]
        pods = [p for p in ns.pods if p.get("node") == name and (
            p.get("trouble") or p.get("exclusion") == "node_reboot" or
            p.get("cause") in ("node_lost", "spot", "node_condition"))]
        names = ", ".join(sorted(p.get("pod") or p["uid"] for p in pods)[:5]) + (
            " (+%d)" % (len(pods) - 5) if len(pods) > 5 else "")
        for condition in info.conditions:
            rows.append([name, condition.label, node_facts.when_text(condition), _condition_evidence(condition), names])
        for reboot in info.reboots:
            rows.append([name, "重启 Reboot（不计入比例 / not counted）",
                         report.display_time(reboot.at_ms) if reboot.at_ms is not None else "-", reboot.evidence, names])
        if info.spot is not None:
            rows.append([name, "抢占式实例回收 Spot reclaim", report.display_time(info.spot.seen_ms)
                         if info.spot.seen_ms is not None else "-",
                         "ECS %s: Recycling (CO::aliyun_ecs)" % info.spot.instance_id, names])
        elif info.lost and not info.conditions:
            rows.append([name, "节点丢失 Node lost", "-", info.lost_text(), names])
    return rows


def _condition_evidence(condition):
    reasons = []
    for event in condition.events:
        if event.get("reason") not in reasons:
            reasons.append(event.get("reason"))
    text = ", ".join(reasons) or "kubernetes_nodes: node_ready"
    messages = [e.get("message") for e in condition.events if e.get("message")]
    if condition.kind == "system_oom" and messages:
        text += ": " + causes.short(messages[0], 80)
    return text


def pod_row(pod, events=()):
    if pod["category"] == "disrupted":
        restarts = "被中断 disrupted"
    else:
        restarts = pod.get("delta") or 0
    detail = pod.get("detail") or {}
    reason = cause_label(pod.get("cause"))
    if pod["category"] == "disrupted":
        text = detail.get("reason") or "; ".join(e.split(":")[0] for e in (pod.get("evidence") or [])[:1])
    else:
        text = detail.get("reason") or "; ".join(pod.get("evidence") or [])
    if text:
        reason = "%s · %s" % (reason, text)
    return [workload_text(pod), pod.get("pod") or pod["uid"], pod.get("node") or "-", restarts,
            causes.container_state(pod, events), reason, evidence_text(pod)]


def evidence_text(pod):
    """The sources behind a pod's cause, one short phrase each (what each says)."""
    detail = pod.get("detail") or {}
    found = detail.get("evidence") or []
    texts = [item["text"] for item in found]
    if pod["category"] == "disrupted":
        texts = list(pod.get("evidence") or [])
        if pod.get("notice_ms") is not None:
            texts.append("回收通知 / notice %s%s" % (report.display_time(pod["notice_ms"]),
                                                   "，释放 / released %s" % report.display_time(pod["release_ms"])
                                                   if pod.get("release_ms") else ""))
    return "; ".join(causes.short(t, 240) for t in texts[:4]) or "-"


def container_rows(abnormal, memory, by_uid=None):
    rows = []
    for pod in abnormal:
        detail = pod.get("detail") or {}
        listed = sorted(detail.get("containers") or [], key=lambda c: (not c.get("restarted"), c["name"]))
        for item in listed:
            last = item.get("last") or {}
            usage = memory.get((pod["uid"], item["name"])) or {}
            limit = item.get("memory_limit") or usage.get("mem_limit")
            peak = usage.get("mem_peak")
            if peak is None and item.get("restarted") and len([c for c in listed if c["type"] == "regular"]) == 1:
                peak, limit = pod.get("mem_peak") or None, limit or pod.get("mem_limit")
            rows.append([
                pod.get("pod") or pod["uid"], item["name"], item.get("type") or "regular",
                "是 yes" if item.get("restarted") else "",
                item_state(item, (by_uid or {}).get(pod["uid"], []), pod.get("object_status") or ""),
                last.get("reason") or ("-" if item.get("has_status") else (
                    "OOMKilled（据证据推断 / from the evidence）" if item.get("restarted") and item.get("cause") == "oom"
                    else "未知 unknown")),
                "-" if last.get("exit_code") is None else last["exit_code"],
                report.display_time(last["finished_ms"]) if last.get("finished_ms") else "-",
                resources_text(item),
                memory_text(peak, limit, item.get("state") == "waiting"),
            ])
    return rows


def item_state(item, events=(), object_status=""):
    """A container's state (``causes.state_of``); a container that did not restart shows its YAML state only."""
    if not item.get("restarted"):
        return (item.get("state") or "").capitalize() or ("-" if item.get("has_status") else "未知 unknown")
    state = causes.state_of(item, events, object_status)
    return "未知 unknown" if state == "-" else state


def resources_text(item):
    requests = item.get("requests") or {}
    limits = item.get("limits") or {}
    return "cpu %s / %s · mem %s / %s" % (requests.get("cpu") or "-", limits.get("cpu") or "-",
                                          requests.get("memory") or "-", limits.get("memory") or "-")


def memory_text(peak, limit, waiting=False):
    if peak is None:
        if not limit:
            return "-"
        why = "容器在等待，无用量 / waiting, no usage" if waiting else "无用量数据 / no usage data"
        return "- / %s（%s）" % (causes.format_bytes(limit), why)
    if not limit:
        return "%s / 无 limit" % causes.format_bytes(peak)
    return "%s / %s (%s)" % (causes.format_bytes(peak), causes.format_bytes(limit), report.pct(peak / float(limit)))


def logs_note(console):
    if console:
        return "在查看器中粘贴下面的 DQL / paste a query below into the explorer"
    return ("在本事件所在的观测云控制台中打开，粘贴下面的 DQL / open it in the Guance console showing this event and "
            "paste a query below")


def log_queries(abnormal, start_ms, end_ms):
    """One DQL line per abnormal pod (the first ``LOG_QUERIES``): its container logs around the window, as DataKit
    tags them (``namespace``, ``pod_name``)."""
    out = []
    for pod in abnormal[:LOG_QUERIES]:
        name = pod.get("pod") or pod["uid"]
        query = "L::`*`:(`time`, `status`, `container_name`, `message`) {`cluster_name_k8s` = %s, `namespace` = %s, " \
                "`pod_name` = %s} [%d:%d]" % (_quote(pod.get("cluster") or ""), _quote(pod.get("namespace") or ""),
                                              _quote(name), start_ms - LOG_LEAD_MS, end_ms)
        out.append("%s：%s" % (report.code(name), report.code(query)))
    return out


def yaml_note(abnormal):
    states = set((p.get("detail") or {}).get("yaml") for p in abnormal if p["category"] == "restarted")
    if "spec" in states:
        return ("Pod YAML 中没有 status（DataKit v1.84.0 之后的版本不再上报），上次终止原因与退出码取自事件与等待原因。 / "
                "The pod YAML carries no status (DataKit after v1.84.0 no longer sends it): last terminated reasons "
                "and exit codes come from the events and the waiting reason.")
    if states - {"status", "spec", None}:
        return ("部分 Pod 没有可用的 YAML，原因取自事件与等待原因。 / Some pods have no usable YAML: their causes "
                "come from the events and the waiting reason.")
    return None


def event_rows(abnormal, events):
    uids = {p["uid"]: p for p in abnormal}
    per_pod = {}
    for event in events:
        if event.get("type") != "Warning" or event.get("uid") not in uids:
            continue
        bucket = per_pod.setdefault(event["uid"], [])
        if len(bucket) < EVENTS_PER_POD:
            bucket.append(event)
    picked = sorted((e for bucket in per_pod.values() for e in bucket), key=lambda e: -(e.get("time_ms") or 0))
    return [[report.display_time(e["time_ms"]) if e.get("time_ms") else "-",
             uids[e["uid"]].get("pod") or e.get("name"), e.get("reason"), causes.short(e.get("message"), 200)]
            for e in picked]


def excluded_rows(ns):
    rows = []
    for pod in sorted(ns.excluded(), key=lambda p: (p.get("exclusion"), p.get("pod") or "")):
        _, zh, en = analyse.EXCLUSIONS[pod["exclusion"]]
        why = "%s / %s" % (zh, en)
        if pod.get("evidence"):
            why += " · " + "; ".join(pod["evidence"])
        rows.append([pod.get("pod") or pod["uid"], workload_text(pod), why])
    return rows


def queries(ns, abnormal):
    where = "`cluster_name_k8s` = %s, `namespace` = %s" % (_quote(ns.cluster), _quote(ns.namespace))
    out = ["M::`kube_pod`:(max(`restarts`)) {%s} BY `pod_name`" % where,
           "L::`kubernetes_events`:(`reason`, `involved_name`, `message`) {`involved_namespace` = %s, "
           "`type` = 'Warning'}" % _quote(ns.namespace)]
    uids = [p["uid"] for p in abnormal][:20]
    if uids:
        out.append("M::`docker_containers`:(max(`mem_usage`), max(`mem_limit`)) {`pod_uid` IN [%s]} "
                   "BY `pod_name`, `container_name`" % ", ".join(_quote(u) for u in uids))
    return out


def _quote(value):
    """A DQL string literal (quotes or backslashes in the value: the documented base64 form)."""
    return dql.quote(value)


# -- advice -----------------------------------------------------------------------------------

def advice(ns, abnormal, memory, events):
    """Advice sections: the rollout to roll back first, then the causes present, with this namespace's figures."""
    by_cause = {}
    for pod in abnormal:
        by_cause.setdefault(pod.get("cause") or "unknown", []).append(pod)
    sections = []
    for rollout in ns.rollouts:
        sections.append({"title": "发布 / Rollout：%s" % report.code("%s/%s" % (rollout.kind, rollout.name)),
                         "lines": rollout_advice(rollout)})
    for cause, _, en in causes.CAUSES:
        pods = by_cause.get(cause)
        if not pods:
            continue
        builder = ADVICE.get(cause)
        lines = builder(pods, memory, events) if builder else []
        sections.append({"title": "%s（%d 个 Pod / pods）" % (cause_label(cause), len(pods)), "lines": lines})
    return sections


def rollout_advice(rollout):
    lines = []
    created = report.display_time(rollout.created_ms) if rollout.created_ms is not None else "?"
    if rollout.strong:
        lines.append("崩溃的 %d 个 Pod 都属于 %s 创建于 %s 的新版本 %s，上一版本 %s 的 %d 个 Pod 正常：先回滚 %s，再排查新版本 / "
                     "the %d crashing pods all belong to revision %s created at %s while the %d pods of %s are "
                     "healthy: roll back with %s, then look into the new revision" % (
                         rollout.crashing, report.code(rollout.name), created, report.code(rollout.revision),
                         report.code(rollout.previous), rollout.previous_pods, report.code(rollout.command),
                         rollout.crashing, report.code(rollout.revision), created, rollout.previous_pods,
                         report.code(rollout.previous), report.code(rollout.command)))
    else:
        lines.append("崩溃前 %s 发布了版本 %s（创建于 %s）；如为该版本引入，回滚 %s / revision %s of %s was rolled out at %s "
                     "before the crashes; if it brought them, roll back with %s" % (
                         report.code(rollout.name), report.code(rollout.revision), created,
                         report.code(rollout.command), report.code(rollout.revision), report.code(rollout.name),
                         created, report.code(rollout.command)))
    for what, before, after in rollout.changes[:3]:
        lines.append("变化 / change：%s %s → %s" % (report.code(what), report.code(before), report.code(after)))
    return lines


def _restarted_containers(pods, cause):
    """(workload, container name) -> [(pod, container)] of the containers restarted with ``cause``."""
    out = {}
    for pod in pods:
        for item in (pod.get("detail") or {}).get("containers") or []:
            if item.get("restarted") and item.get("cause") == cause:
                out.setdefault((workload_text(pod), item["name"]), []).append((pod, item))
    return out


def _oom(pods, memory, events):
    lines = []
    for (workload, name), members in sorted(_restarted_containers(pods, "oom").items()):
        limit = max([c.get("memory_limit") or 0 for _, c in members] +
                    [(memory.get((p["uid"], name)) or {}).get("mem_limit") or 0 for p, _ in members]) or None
        peak = max([(memory.get((p["uid"], name)) or {}).get("mem_peak") or 0 for p, _ in members]) or \
            max([p.get("mem_peak") or 0 for p, _ in members if _single_container(p)] or [0]) or None
        suggested = causes.suggest_memory_limit(limit, peak)
        if limit and peak:
            lines.append("%s 容器 %s：将内存 limit 从 %s 提高到至少 %s（窗口内观测峰值 %s，为 limit 的 %s；被 OOMKill "
                         "说明实际需要超过 limit） / raise the memory limit of %s from %s to at least %s (observed "
                         "peak %s = %s of the limit)" % (
                             report.code(workload), report.code(name), causes.format_bytes(limit),
                             causes.format_bytes(suggested), causes.format_bytes(peak),
                             report.pct(peak / float(limit)), report.code(name), causes.format_bytes(limit),
                             causes.format_bytes(suggested), causes.format_bytes(peak),
                             report.pct(peak / float(limit))))
        elif limit:
            lines.append("%s 容器 %s：将内存 limit 从 %s 提高到至少 %s（窗口内没有运行中容器的用量数据） / raise the "
                         "memory limit of %s from %s to at least %s (no usage of running containers in the window)"
                         % (report.code(workload), report.code(name), causes.format_bytes(limit),
                            causes.format_bytes(suggested), report.code(name), causes.format_bytes(limit),
                            causes.format_bytes(suggested)))
        else:
            lines.append("%s 容器 %s：没有内存 limit，被节点内核 OOM 杀死；按观测峰值 %s 设置 requests/limits / "
                         "%s has no memory limit and was killed by the node's OOM killer: set requests and limits "
                         "from the observed peak %s" % (report.code(workload), report.code(name),
                                                         causes.format_bytes(peak), report.code(name),
                                                         causes.format_bytes(peak)))
    if not lines:
        lines.append("提高内存 limit，或排查内存泄漏 / raise the memory limit, or look for a memory leak")
    lines.append("JVM 等运行时请让堆上限跟随容器 limit（如 -XX:MaxRAMPercentage） / make runtimes size their heap "
                 "from the container limit (e.g. -XX:MaxRAMPercentage)")
    return lines


def _single_container(pod):
    return len([c for c in (pod.get("detail") or {}).get("containers") or [] if c.get("type") == "regular"]) <= 1


def _probe(pods, memory, events):
    lines = []
    uids = set(p["uid"] for p in pods)
    samples = [e for e in events if e.get("uid") in uids and e.get("reason") == "Unhealthy"
               and causes.probe_kind(e) in ("liveness", "startup")]
    for (workload, name), members in sorted(_restarted_containers(pods, "probe").items()):
        probes = members[0][1].get("probes") or {}
        kind = "liveness" if "liveness" in probes else ("startup" if "startup" in probes else None)
        summary, seconds = causes.probe_summary(probes.get(kind)) if kind else (None, None)
        if summary:
            lines.append("%s 容器 %s 的 %s 探针：%s，连续失败约 %d 秒即被重启 / the %s probe of %s restarts it "
                         "after about %d s of failures" % (report.code(workload), report.code(name), kind,
                                                           report.code(summary), seconds, kind,
                                                           report.code(name), seconds))
    if samples:
        lines.append("最近一次失败 / latest failure：%s" % report.code(causes.short(samples[0].get("message"), 120)))
    lines.append("若应用只是慢：提高 timeoutSeconds / failureThreshold，启动慢时加 startupProbe；liveness 只检查进程"
                 "自身，不检查下游依赖 / if the app is only slow, raise timeoutSeconds or failureThreshold, add a "
                 "startupProbe for slow starts, and keep liveness checks free of downstream dependencies")
    return lines


def _app_error(pods, memory, events):
    lines = []
    for (workload, name), members in sorted(_restarted_containers(pods, "app_error").items()):
        codes = sorted(set((c.get("last") or {}).get("exit_code") for _, c in members) - {None})
        container = members[0][1]
        described = ", ".join("%s（%s）" % (code, causes.exit_code_text(code, container) or "-") for code in codes)
        pod = members[0][0]
        lines.append("%s 容器 %s：%d 个 Pod 异常退出%s；查看上一次的日志 %s / read the previous container's logs" % (
            report.code(workload), report.code(name), len(members),
            "，退出码 exit code %s" % described if described else "",
            report.code("kubectl logs -n %s %s -c %s --previous" % (pod.get("namespace"), pod.get("pod"), name))))
    if not lines:
        lines.append("查看崩溃前的日志：kubectl logs --previous / read the logs before the crash: kubectl logs --previous")
    return lines


def _image_config(pods, memory, events):
    reasons = sorted(set(((p.get("detail") or {}).get("reason") or p.get("object_status") or "") for p in pods) - {""})
    lines = []
    if reasons:
        lines.append("观测到 / seen：%s" % ", ".join(report.code(r) for r in reasons[:5]))
    lines.append("核对镜像名与 tag、imagePullSecrets，以及引用的 ConfigMap/Secret 及其 key 是否存在 / check the image "
                 "name and tag, imagePullSecrets, and that referenced ConfigMaps/Secrets and keys exist")
    return lines


def _eviction(pods, memory, events):
    nodes = sorted(set(p.get("node") for p in pods if p.get("node")))
    evidence = [e for p in pods for e in p.get("evidence") or []]
    lines = ["%d 个 Pod 被驱逐或抢占，涉及节点 %s / %d pods evicted or preempted on %s" % (
        len(pods), ", ".join(report.code(n) for n in nodes[:5]) or "-", len(pods),
        ", ".join(report.code(n) for n in nodes[:5]) or "-")]
    if evidence:
        lines.append("示例 / example：%s" % report.code(causes.short(evidence[0], 160)))
    lines.append("让 requests 接近实际用量，避免节点超卖；为关键服务配置 PodDisruptionBudget 与更高的 PriorityClass / "
                 "set requests close to the real usage so nodes are not overcommitted; give key services a "
                 "PodDisruptionBudget and a higher PriorityClass")
    return lines


def _node_condition(pods, memory, events):
    troubled = {}
    for pod in pods:
        for condition in pod.get("trouble") or []:
            troubled.setdefault(pod.get("node") or "-", set()).add(condition.label)
    lines = []
    for node, labels in sorted(troubled.items()):
        lines.append("节点 %s：%s；%s / node %s: %s; %s" % (
            report.code(node), ", ".join(sorted(labels)), report.code("kubectl describe node %s" % node),
            report.code(node), ", ".join(sorted(labels)), report.code("kubectl describe node %s" % node)))
    if not lines:
        lines.append("节点内存耗尽杀死了容器进程（容器未到自身 limit） / the node ran out of memory and killed the containers' "
                     "processes (they were below their own limits)")
    lines.append("这些重启是节点的问题，计入比例：检查节点上没有 limit 的 Pod（BestEffort/Burstable）、system-reserved / "
                 "kube-reserved 与驱逐阈值；必要时 cordon 并替换该节点 / these restarts are the node's doing and count: "
                 "look for pods without memory limits on it, system-reserved / kube-reserved and the eviction "
                 "thresholds; cordon and replace the node if needed")
    return lines


def _spot(pods, memory, events):
    notices = sorted(set(p["notice_ms"] for p in pods if p.get("notice_ms") is not None))
    nodes = sorted(set(p.get("node") for p in pods if p.get("node")))
    lines = ["%d 个 Pod 因抢占式实例回收而中断，涉及节点 %s%s / %d pods stopped because their spot instance was reclaimed, "
             "nodes %s%s" % (
                 len(pods), ", ".join(report.code(n) for n in nodes[:5]) or "-",
                 "，最早回收通知 %s" % report.display_time(notices[0]) if notices else "",
                 len(pods), ", ".join(report.code(n) for n in nodes[:5]) or "-",
                 ", first notice at %s" % report.display_time(notices[0]) if notices else "")]
    lines.append("抢占式节点池使用多种实例规格（ECI：k8s.aliyun.com/eci-use-specs 填写多个规格，可开启 "
                 "k8s.aliyun.com/eci-spot-fallback），关键服务保留按量付费副本 / use several instance types in spot "
                 "pools (ECI: several specs in k8s.aliyun.com/eci-use-specs, k8s.aliyun.com/eci-spot-fallback) and "
                 "keep pay-as-you-go replicas for key services")
    lines.append("为工作负载配置 PodDisruptionBudget，并用 topologySpreadConstraints 把副本分散到多个可用区和节点 / "
                 "give the workloads PodDisruptionBudgets and spread replicas over zones and nodes with "
                 "topologySpreadConstraints")
    return lines


def _node_lost(pods, memory, events):
    nodes = sorted(set(p.get("node") for p in pods if p.get("node")))
    lines = ["%d 个 Pod 随节点丢失而中断，涉及节点 %s / %d pods lost with their node, nodes %s" % (
        len(pods), ", ".join(report.code(n) for n in nodes[:5]) or "-", len(pods),
        ", ".join(report.code(n) for n in nodes[:5]) or "-")]
    lines.append("为工作负载配置 PodDisruptionBudget，并用 topologySpreadConstraints 把副本分散到多个可用区和节点 / "
                 "give the workloads PodDisruptionBudgets and spread replicas over zones and nodes with "
                 "topologySpreadConstraints")
    lines.append("检查节点为何丢失（kubelet、网络、云厂商事件） / find out why the node was lost (kubelet, network, the cloud "
                 "provider's events)")
    return lines


def _unknown(pods, memory, events):
    return ["没有找到终止状态、事件或等待原因：检查 DataKit 容器采集器是否上报 kubelet_pod 与 kubernetes_events / no "
            "terminated state, event or waiting reason was found: check that DataKit's container input sends "
            "kubelet_pod and kubernetes_events"]


def _expected(pods, memory, events):
    return ["预期内的重启，无需处理 / expected restarts, nothing to do"]


ADVICE = {"oom": _oom, "probe": _probe, "app_error": _app_error, "image_config": _image_config,
          "node_condition": _node_condition, "eviction": _eviction, "spot": _spot, "node_lost": _node_lost,
          "unknown": _unknown, "expected": _expected}


# -- recovered --------------------------------------------------------------------------------

def recovered_event(cluster, namespace, decision, runs, ns=None, start_ms=None, end_ms=None):
    """The ``ok`` event closing a namespace's alert."""
    figs = ns.figures if ns is not None else analyse.Figures(ratio=0.0)
    baseline = ns.baseline if ns is not None else 0.0
    since_ms = decision.since_ms
    view = {"cluster": cluster or "-", "namespace": namespace, "runs": runs, "ratio": figs.ratio,
            "figures": figs, "baseline": baseline, "start_ms": start_ms, "end_ms": end_ms, "since_ms": since_ms,
            "since_seconds": (end_ms - since_ms) / 1000.0 if since_ms and end_ms else None,
            "previous": (decision.previous or {}).get("status")}
    title = templates.RECOVERED_TITLE.format(cluster=report.md(title_name(cluster)),
                                             namespace=report.md(title_name(namespace)),
                                             ratio=report.pct(figs.ratio), baseline=report.pct(baseline))
    return {"title": title, "status": "ok", "message": report.render(templates.RECOVERED, **view),
            "dimension_tags": dimension_tags(cluster, namespace)}


# -- what the run could not see -----------------------------------------------------------------

DATA_TAGS = {"check": "k8s-pod-restart", "issue": "data"}


def data_event(plan, now_ms):
    """The incomplete-data warning (what is missing, what it means), or its ``ok`` once the data is whole."""
    if plan.data.status == "ok":
        return {"title": templates.DATA_OK_TITLE, "status": "ok", "dimension_tags": dict(DATA_TAGS),
                "message": report.render(templates.DATA_OK, now_ms=now_ms)}
    unknown = [alert_state.split_key(k) or ("", k) for k in plan.unknown]
    return {"title": templates.DATA_TITLE % len(plan.gaps), "status": "warning", "dimension_tags": dict(DATA_TAGS),
            "message": report.render(templates.DATA, gaps=plan.gaps, now_ms=now_ms,
                                     unknown=["%s/%s" % pair for pair in unknown])}


def silence_events(silences, now_ms):
    """The no-data warning (or ``ok``) of each source gone silent (or back)."""
    out = []
    for item in silences:
        if item.cluster is None and item.namespace is None:
            what = "所有 Pod 的 kube_pod 指标 / kube_pod points of every pod in scope"
            tags = {"check": "k8s-pod-restart", "problem": "no_data"}
        elif item.namespace is None:
            what = "集群 %s 的 kube_pod 指标 / kube_pod points of cluster %s" % (item.cluster, item.cluster)
            tags = {"cluster_name_k8s": item.cluster, "problem": "no_data"}
        else:
            where = item.cluster or "*"
            what = "命名空间 %s/%s 的 Pod / pods of namespace %s/%s" % (where, item.namespace, where, item.namespace)
            tags = {"cluster_name_k8s": where, "namespace": item.namespace, "problem": "no_data"}
        out.append(checker.silence_event(TITLE, item.decision, item.info, what, templates.SILENCE_HINT, tags,
                                         now_ms))
    return out


TITLE = "Kubernetes Pod 异常重启巡检 / Pod restart inspection"


def window_text(start_ms, end_ms):
    return "%s - %s" % (clock.iso(clock.from_ms(start_ms)), clock.iso(clock.from_ms(end_ms)))


# -- the task log -------------------------------------------------------------------------------

def stats(obs, namespaces, verdicts, events):
    """The run's figures for the Runner's summary and the task log."""
    return {"dql_requests": obs.requests, "pods": len(obs.pods), "namespaces": len(namespaces),
            "firing": sum(1 for v in verdicts.values() if v.verdict == "fire"), "events": len(events),
            "window": window_text(obs.window.start_ms, obs.window.end_ms)}


def log_lines(plan, namespaces, problems, obs, scope_list, open_state):
    """What the task log says about the run: bad series, node reboots, what had no data."""
    window = window_text(obs.window.start_ms, obs.window.end_ms)
    lines = []
    if problems:
        lines.append("%d kube_pod series skipped (bad data): %s%s" % (
            len(problems), "; ".join("%s/%s: %s" % (c or "-", n or "-", p) for c, n, p in problems[:5]),
            " ..." if len(problems) > 5 else ""))
    by_node = {}
    for ns in namespaces.values():
        for pod in ns.pods:
            if pod.get("exclusion") == "node_reboot":
                by_node.setdefault((ns.cluster, pod["node"]), []).append(pod)
    for (cluster, node), members in sorted(by_node.items()):
        lines.append("%d pod restarts attributed to the reboot of node %s/%s, not to the applications: %s" % (
            len(members), cluster, node, (members[0].get("evidence") or [""])[-1]))
    if obs.complete("presence") and not obs.cluster_minutes:
        lines.append("no data: no kube_pod points for %s in %s; nothing fires and nothing recovers (check "
                     "DataKit's container input)" % ("; ".join(s.describe() for s in scope_list), window))
    seen = set(obs.namespace_pods)
    for cluster, namespace in scopes.explicit_namespaces(scope_list):
        if obs.complete("named namespaces") and not any(
                n == namespace and (cluster is None or c == cluster) for c, n in seen):
            lines.append("no data for namespace %s%s in %s" % (namespace, " of cluster %s" % cluster if cluster
                                                                else "", window))
    for ns in namespaces.values():
        if ns.data == "stale":
            lines.append("no data: %s/%s stopped reporting at %s; its state is kept" % (
                ns.cluster, ns.namespace, clock.iso(clock.from_ms(ns.latest_ms)) if ns.latest_ms else "?"))
    for key, entry in sorted(open_state.items()):
        pair = alert_state.split_key(key)
        if key not in namespaces and pair is not None:
            lines.append("no data for %s/%s (%s still open) in %s: nothing fires and nothing recovers" % (
                pair[0], pair[1], entry.get("status"), window))
    for gap in plan.gaps:
        lines.append("incomplete data: %s" % gap)
    return lines
