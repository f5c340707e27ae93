"""Root cause of a restart, per pod and per container: pure functions weighing every source DataKit gives.

For each container that restarted in the window, the evidence (``Evidence``: what each source
says, named in the report) is weighed together (``weigh``):

1. the pod YAML's ``lastState.terminated`` (``reason``, ``exitCode``, ``finishedAt``) — in
   ``kubelet_pod``'s ``message`` while DataKit still sends the pod status (up to v1.84.0);
2. the memory before each restart: ``kube_pod`` ``mem_usage`` against ``mem_limit`` in the minute
   before the counter rose (``near`` the limit: at least ``MEMORY_NEAR`` of it);
3. OOM kills on the pod's node (``nodes.NodeOOM``, matched to the pod by node, time and process
   name): node-problem-detector's ``OOMKilling`` (a memory cgroup at its limit) and the kubelet's
   ``SystemOOM`` (the node itself out of memory);
4. the pod's events in the window (``BackOff``, ``Unhealthy`` + ``Killing`` of a liveness/startup
   probe, OOM messages, image pull and config errors, evictions, spot release...);
5. the node's conditions around the restarts (``NotReady``, ``MemoryPressure``, ``DiskPressure``,
   ``SystemOOM``): the node's doing unless the container's own evidence is specific (an OOM at its
   own limit, an image/config error, exit 0);
6. the waiting reason (``kubelet_pod`` ``status``: ``CrashLoopBackOff``, ``ImagePullBackOff``...).

Exit codes are read in context (``exit_code_text``): 137 is an OOM only with OOM evidence, and
otherwise a forced stop; 143 a requested stop; 2 is "misuse of a shell builtin" only when the
container runs a shell, else the application's own code (usually bad arguments or configuration).

``restarts`` in ``kube_pod`` is the maximum over the containers, so a cause is attached to the
container the data names; a pod-level event that names no container is attributed to the pod's
only regular container, or to none.

``explain_pod`` gives a restarted pod's containers and cause; ``disruption_detail`` what a
disrupted pod's object and events say (``Evicted``, ``BidFailed``…); ``oom_suspected`` tells
``collect`` which pods' container memory to fetch; ``container_state`` the state a user sees
(``CrashLoopBackOff``, ``OOMKilled``...). The quantities and probe figures the advice quotes are here too.
"""
import json
import math
import re

from guance_monitor import clock
from guance_monitor import report
from guance_monitor_k8s_pod_restart import nodes

# cause -> (zh, en); the order is the tie-break order (first = most specific)
CAUSES = (
    ("oom", "内存溢出 OOMKilled", "OOMKilled"),
    ("probe", "探针失败 Probe failure", "liveness/readiness probe failure"),
    ("image_config", "镜像或配置错误 Image/config error", "image or configuration error"),
    ("node_condition", "节点异常 Node condition", "node condition (NotReady, memory or disk pressure, system OOM)"),
    ("eviction", "驱逐或节点压力 Eviction", "eviction or node pressure"),
    ("spot", "抢占式实例回收 Spot reclaim", "spot instance reclaimed"),
    ("node_lost", "节点丢失 Node lost", "node lost"),
    ("app_error", "应用错误退出 Application error", "application error (exit code)"),
    ("expected", "预期内 Expected", "expected (exit 0, Job completion, rollout)"),
    ("unknown", "原因未知 Unknown", "unknown"),
)
CAUSE_ORDER = {key: index for index, (key, _, _) in enumerate(CAUSES)}
CAUSE_LABEL = {key: zh for key, zh, _ in CAUSES}
CAUSE_EN = {key: en for key, _, en in CAUSES}

CONFIG_TERMINATED = ("ContainerCannotRun", "StartError", "CreateContainerError", "CreateContainerConfigError",
                     "RunContainerError", "InvalidImageName")
WAITING_CAUSES = {
    "CrashLoopBackOff": "app_error",
    "RunContainerError": "image_config", "CreateContainerConfigError": "image_config",
    "CreateContainerError": "image_config", "ImagePullBackOff": "image_config", "ErrImagePull": "image_config",
    "InvalidImageName": "image_config", "ErrImageNeverPull": "image_config",
    "OOMKilled": "oom",
    "Evicted": "eviction", "OutOfmemory": "eviction", "OutOfcpu": "eviction",
    "BidFailed": "spot", "NodeLost": "node_lost", "Shutdown": "node_lost",
}
WAITING_REASONS = ("CrashLoopBackOff", "RunContainerError", "CreateContainerConfigError", "CreateContainerError",
                   "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull", "ContainerCreating",
                   "PodInitializing")
IMAGE_CONFIG_MARKERS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
                        "CreateContainerError", "Failed to pull image", "couldn't find key", "not found in ConfigMap",
                        "secret \"", "configmap \"", "exec format error", "executable file not found")
EVENT_DISRUPTIONS = {"Evicted": "eviction", "Preempted": "eviction", "TaintManagerEviction": "node_lost",
                     "BidFailed": "spot", "SpotToBeReleased": "spot", "NodeNotReady": "node_lost"}
EXIT_CODES = {
    1: "应用以错误退出 / the application exited with an error",
    126: "命令不可执行 / command cannot execute",
    127: "命令不存在 / command not found",
    128: "退出参数无效 / invalid exit argument",
    134: "SIGABRT（程序中止 / abort）",
    139: "SIGSEGV（段错误 / segmentation fault）",
    255: "退出码 255：致命错误或状态未知 / fatal error or unknown exit status",
}
EXIT_2_SHELL = "shell 内建命令误用（容器运行的是 shell 脚本）/ misuse of a shell builtin (the container runs a shell)"
EXIT_2_APP = ("应用自身的退出码 2，常见为命令行参数或配置错误（容器命令不是 shell，\"shell 内建命令误用\"不适用）/ the "
              "application's own exit code 2, usually invalid arguments or configuration (the command is not a shell)")
EXIT_2_UNKNOWN = ("应用自身的退出码 2，常见为参数或配置错误；入口为 shell 脚本时为内建命令误用 / the application's own exit "
                  "code 2, usually invalid arguments or configuration (a shell builtin misuse only if the entrypoint is "
                  "a shell script)")
EXIT_137_OOM = "SIGKILL（OOM）/ killed by the OOM killer"
EXIT_137_PLAIN = ("SIGKILL，无 OOM 证据（未标记 OOMKilled、内存未到 limit、无 OOM 事件）：被强制停止，常见为 liveness 探针或超过 "
                  "terminationGracePeriodSeconds / SIGKILL without OOM evidence (not OOMKilled, memory below the limit, "
                  "no OOM event): a forced stop, usually a liveness probe or a stop past terminationGracePeriodSeconds")
EXIT_143 = ("SIGTERM：容器被要求停止（探针、preStop、节点排空或应用自身）/ SIGTERM: the container was asked to stop (a "
            "probe, preStop, a node drain, or the application itself)")
MEMORY_NEAR = 0.95               # memory at least this share of the limit just before a restart: an OOM's signature
MEMORY_LOW = 0.8                 # below this share of the limit, the container did not reach its limit
_CONTAINER_IN_MESSAGE = re.compile(r"(?:[Cc]ontainer|container) ([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)")
_QUANTITY = re.compile(r"^\s*([0-9.]+(?:[eE][-+]?[0-9]+)?)\s*([a-zA-Z]*)\s*$")
_BINARY = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60}
_DECIMAL = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18, "m": 1e-3}
MEMORY_STEP = 64 * 2 ** 20


# -- the pod YAML -------------------------------------------------------------------------------

def pod_from_message(message):
    """(the pod object parsed from a ``kubelet_pod`` message, problem or None).

    ``message`` is the JSON DataKit writes (its ``yaml`` key holds the pod);
    DataKit cuts it at 256 KiB, which leaves broken JSON: that is a problem, not an error.
    """
    if not message:
        return None, "no message"
    try:
        data = json.loads(message) if isinstance(message, str) else message
    except ValueError:
        return None, "the message is not complete JSON (DataKit cuts it at 256 KiB)"
    if not isinstance(data, dict):
        return None, "the message is not a JSON object"
    text = data.get("yaml")
    if not text:
        return None, "the message has no pod YAML"
    if isinstance(text, dict):
        return text, None
    try:
        import yaml
    except ImportError:
        return None, "PyYAML is not installed"
    loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    try:
        pod = yaml.load(text, Loader=loader)
    except yaml.YAMLError:
        return None, "the pod YAML does not parse"
    if not isinstance(pod, dict):
        return None, "the pod YAML is not an object"
    return pod, None


def has_status(pod):
    """True when the YAML carries container statuses (DataKit up to v1.84.0)."""
    status = (pod or {}).get("status") or {}
    return bool(status.get("containerStatuses") or status.get("initContainerStatuses"))


def containers(pod):
    """The pod's containers as dicts: name, type (init/sidecar/regular), resources, probes, status."""
    pod = pod or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    out = []
    statuses = _by_name(status.get("initContainerStatuses"))
    for item in spec.get("initContainers") or []:
        if isinstance(item, dict) and item.get("name"):
            kind = "sidecar" if item.get("restartPolicy") == "Always" else "init"
            out.append(_container(item, statuses.get(item["name"]), kind))
    statuses = _by_name(status.get("containerStatuses"))
    for item in spec.get("containers") or []:
        if isinstance(item, dict) and item.get("name"):
            out.append(_container(item, statuses.get(item["name"]), "regular"))
    known = set(c["name"] for c in out)
    for name, item in _by_name(status.get("containerStatuses")).items():
        if name not in known:
            out.append(_container({"name": name}, item, "regular"))
    return out


def _by_name(items):
    return {i["name"]: i for i in items or [] if isinstance(i, dict) and i.get("name")}


def _container(spec, status, kind):
    resources = spec.get("resources") or {}
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    out = {
        "name": spec["name"], "type": kind, "image": spec.get("image") or (status or {}).get("image") or "",
        "requests": {"cpu": _text(requests.get("cpu")), "memory": _text(requests.get("memory"))},
        "limits": {"cpu": _text(limits.get("cpu")), "memory": _text(limits.get("memory"))},
        "memory_limit": parse_quantity(limits.get("memory")),
        "probes": {key: spec.get(key + "Probe") for key in ("liveness", "readiness", "startup")
                   if isinstance(spec.get(key + "Probe"), dict)},
        "command": [str(c) for c in spec.get("command")] if isinstance(spec.get("command"), list) else None,
        "args": [str(c) for c in spec.get("args")] if isinstance(spec.get("args"), list) else None,
        "has_status": status is not None,
        "restart_count": None, "container_id": "", "state": "", "waiting_reason": "", "last": None,
    }
    if status:
        out["restart_count"] = status.get("restartCount")
        out["container_id"] = status.get("containerID") or ""
        state = status.get("state") or {}
        if isinstance(state.get("waiting"), dict):
            out["state"] = "waiting"
            out["waiting_reason"] = state["waiting"].get("reason") or ""
        elif isinstance(state.get("terminated"), dict):
            out["state"] = "terminated"
        elif isinstance(state.get("running"), dict):
            out["state"] = "running"
        last = (status.get("lastState") or {}).get("terminated")
        if isinstance(last, dict):
            out["last"] = {"reason": last.get("reason") or "", "exit_code": _int(last.get("exitCode")),
                           "finished_ms": _time_ms(last.get("finishedAt")),
                           "started_ms": _time_ms(last.get("startedAt")),
                           "message": _text(last.get("message")) or ""}
    return out


def pod_level_status(pod):
    """(pod status reason, pod status message) from the YAML, e.g. ("Evicted", "The node was low on ...")."""
    status = (pod or {}).get("status") or {}
    return status.get("reason") or "", status.get("message") or ""


# -- events -----------------------------------------------------------------------------------

def classify_event(event):
    """(cause, container name or None) when a pod event explains a restart or a disruption, else None."""
    reason = event.get("reason") or ""
    message = event.get("message") or ""
    lower = message.lower()
    container = container_in_message(message)
    if reason in ("OOMKilling", "SystemOOM", "OOMKilled") or "oomkilled" in lower or "out of memory" in lower:
        return "oom", container
    if reason == "Killing" and ("liveness probe" in lower or "startup probe" in lower):
        return "probe", container
    if reason == "Unhealthy" and (lower.startswith("liveness probe") or lower.startswith("startup probe")):
        return "probe", container
    if reason in EVENT_DISRUPTIONS:
        return EVENT_DISRUPTIONS[reason], container
    if any(marker in message for marker in IMAGE_CONFIG_MARKERS) or reason in ("ErrImageNeverPull", "InspectFailed"):
        return "image_config", container
    if reason == "BackOff" and "pulling image" in lower:
        return "image_config", container
    if reason == "BackOff" and "restarting failed container" in lower:
        return "app_error", container
    return None


def container_in_message(message):
    match = _CONTAINER_IN_MESSAGE.search(message or "")
    return match.group(1) if match else None


def probe_kind(event):
    """``liveness``/``readiness``/``startup`` for an Unhealthy or Killing event, else None."""
    lower = (event.get("message") or "").lower()
    for kind in ("liveness", "readiness", "startup"):
        if kind + " probe" in lower:
            return kind
    return None


# -- weighing the evidence ----------------------------------------------------------------------

class Context:
    """What the run knows around one restarted pod beyond its YAML and its own events.

    ``restarts``: the minutes its counter rose (``facts.restart_minutes``, with the memory before);
    ``node_ooms``: container name (or None: the pod) -> [(``nodes.NodeOOM``, how it was matched)];
    ``trouble``: the node's conditions covering its restarts (``nodes.Condition``); ``node``: its name.
    """

    def __init__(self, restarts=None, node_ooms=None, trouble=None, node=""):
        self.restarts = list(restarts or [])
        self.node_ooms = dict(node_ooms or {})
        self.trouble = list(trouble or [])
        self.node = node or ""


def evidence(kind, text):
    """One piece of evidence: ``kind`` names the source (yaml, memory, node_oom, system_oom, events, node,
    waiting, exit), ``text`` what it says."""
    return {"kind": kind, "text": text}


def memory_evidence(restarts):
    """(restarts whose memory was near the limit, restarts with a known memory, whether all were well below)."""
    known = [r for r in restarts if r.get("usage") and r.get("limit")]
    near = [r for r in known if r["usage"] >= MEMORY_NEAR * r["limit"]]
    low = bool(known) and all(r["usage"] < MEMORY_LOW * r["limit"] for r in known)
    return near, known, low


def memory_text(near, known):
    """What ``kube_pod``'s memory said before the restarts: at the limit (how often), or well below it."""
    if near:
        top = max(near, key=lambda r: r["usage"] / float(r["limit"]))
        return "kube_pod 内存在 %d/%d 次重启前达到 %s / %s (%s) / memory at %s / %s (%s) before %d of %d restarts" % (
            len(near), len(known), format_bytes(top["usage"]), format_bytes(top["limit"]),
            _pct(top["usage"] / float(top["limit"])), format_bytes(top["usage"]), format_bytes(top["limit"]),
            _pct(top["usage"] / float(top["limit"])), len(near), len(known))
    top = max(known, key=lambda r: r["usage"] / float(r["limit"]))
    return "kube_pod 内存在重启前最高 %s / %s (%s)，未到 limit / memory at most %s / %s (%s) before the restarts, " \
           "below the limit" % (format_bytes(top["usage"]), format_bytes(top["limit"]),
                                _pct(top["usage"] / float(top["limit"])), format_bytes(top["usage"]),
                                format_bytes(top["limit"]), _pct(top["usage"] / float(top["limit"])))


def oom_text(matched, node):
    """One evidence text for the OOM kills of one kind matched to a container: who reported them, how many,
    the first one's time and victim, and how they were matched."""
    oom, how = matched[0]
    who = "node-problem-detector OOMKilling" if oom.kind == "OOMKilling" else "kubelet SystemOOM"
    when = report.display_time(oom.at_ms) if oom.at_ms is not None else "?"
    victim = "Killed process %s (%s)" % (oom.pid, oom.process) if oom.process else short(oom.message, 60)
    way = {"uid": "按 Pod uid / by pod uid", "process": "按进程名与时间 / by process name and time",
           "time": "按节点与时间 / by node and time"}.get(how, how)
    return "%s ×%d @ %s，首次 / first %s: %s（%s）" % (who, len(matched), node or "?", when, victim, way)


def exit_code_text(code, container=None, oom=False):
    """What an exit code means for this container: 137 with or without OOM evidence, 2 with or without a shell."""
    if code is None:
        return ""
    if code == 137:
        return EXIT_137_OOM if oom else EXIT_137_PLAIN
    if code == 143:
        return EXIT_143
    if code == 2:
        command = (container or {}).get("command")
        if command:
            return EXIT_2_SHELL if nodes.is_shell(command) else EXIT_2_APP
        return EXIT_2_UNKNOWN
    return exit_code_meaning(code)



def weigh(container, events, waiting_reason=None, ctx=None):
    """(cause, reason text, source, [evidence]) for one restarted container, every source weighed together.

    The container's own specific evidence wins (an OOM at its own limit, an image/config error, exit 0);
    otherwise a node condition covering the restarts is the cause; then the probe kills, the exit code
    read in context, the pod's events, the waiting reason.
    """
    ctx = ctx or Context()
    name = container.get("name")
    classified = [(c, e) for c, e in ((classify_event(e), e) for e in events) if c is not None]
    mine = [(cause, e) for (cause, who), e in classified if who in (None, name)]
    by_cause = {}
    for cause, event in mine:
        by_cause.setdefault(cause, []).append(event)
    found = []
    near, known, low = memory_evidence(ctx.restarts)
    if known and (near or low):
        found.append(evidence("memory", memory_text(near, known)))
    ooms = ctx.node_ooms.get(name, []) + ctx.node_ooms.get(None, [])
    memcg = [o for o, _ in ooms if o.kind == "OOMKilling"]
    system = [o for o, _ in ooms if o.kind == "SystemOOM"]
    for kind, label in (("OOMKilling", "node_oom"), ("SystemOOM", "system_oom")):
        matched = [(o, how) for o, how in ooms if o.kind == kind]
        if matched:
            found.append(evidence(label, oom_text(matched, ctx.node)))
    trouble = ctx.trouble
    if trouble:
        labels = []
        for condition in trouble:
            if condition.label not in labels:
                labels.append(condition.label)
        found.append(evidence("node", "节点 / node %s: %s（见节点状况 / see Node conditions）" % (
            ctx.node, ", ".join(labels))))
    node_memory = bool(system) or any(c.kind in ("memory_pressure", "system_oom") for c in trouble)
    own_oom = bool(memcg or by_cause.get("oom") or near)
    for cause in ("probe", "oom", "image_config"):
        if by_cause.get(cause):
            event = sorted(by_cause[cause], key=lambda e: -(e.get("time_ms") or 0))[0]
            found.append(evidence("events", "%s: %s" % (event.get("reason"), short(event.get("message"), 100))))

    def result(cause, text, source):
        return cause, text, source, found

    last = container.get("last")
    if last and (last.get("reason") or last.get("exit_code") is not None):
        reason, code = last.get("reason") or "", last.get("exit_code")
        text = "%s (exit %s)" % (reason or "Terminated", "-" if code is None else code)
        found.insert(0, evidence("yaml", "YAML lastState: %s%s" % (text, " @ %s" % report.display_time(
            last["finished_ms"]) if last.get("finished_ms") else "")))
        if code == 0 or reason == "Completed":
            return result("expected", text, "yaml")
        if reason in CONFIG_TERMINATED:
            return result("image_config", text, "yaml")
        if reason == "OOMKilled" or (code == 137 and (own_oom or system)):
            if node_memory and low and not memcg and not near:
                return result("node_condition", text + " · " + NODE_OOM_TEXT, "yaml+node")
            if reason == "OOMKilled":
                return result("oom", text, "yaml")
            backing = "events" if by_cause.get("oom") else ("node_oom" if memcg else ("memory" if near else "node"))
            return result("oom", text + " · %s" % EXIT_137_OOM, "yaml+" + backing)
        if trouble:
            return result("node_condition", text + " · " + _trouble_text(trouble), "yaml+node")
        if code in (137, 143, None) and by_cause.get("probe"):
            return result("probe", text + " · liveness/startup probe", "yaml+events")
        meaning = exit_code_text(code, container)
        return result("app_error", text + (" · %s" % meaning if meaning else ""), "yaml")
    if by_cause.get("image_config"):
        return result("image_config", _event_text(by_cause["image_config"]), "events")
    if memcg or by_cause.get("oom"):
        if node_memory and low and not memcg:
            return result("node_condition", NODE_OOM_TEXT, "node")
        return result("oom", "OOM kill（%s）" % ("节点事件 / node event" if memcg else "Pod 事件 / pod event"),
                      "node_oom" if memcg else "events")
    if near and not trouble:
        return result("oom", "内存在重启前达到 limit / memory at the limit before the restarts", "memory")
    if system and node_memory and not near:
        return result("node_condition", NODE_OOM_TEXT, "node")
    if trouble:
        return result("node_condition", _trouble_text(trouble), "node")
    if near:
        return result("oom", "内存在重启前达到 limit / memory at the limit before the restarts", "memory")
    if mine:
        best = sorted(mine, key=lambda item: (CAUSE_ORDER[item[0]], -(item[1].get("time_ms") or 0)))[0]
        if best[0] not in ("probe", "oom", "image_config"):
            found.append(evidence("events", "%s: %s" % (best[1].get("reason"), short(best[1].get("message"), 100))))
        return result(best[0], "%s: %s" % (best[1].get("reason"), short(best[1].get("message"))), "events")
    waiting = container.get("waiting_reason") or waiting_reason or ""
    if waiting in WAITING_CAUSES:
        found.append(evidence("waiting", "等待原因 / waiting reason %s" % waiting))
        return result(WAITING_CAUSES[waiting], waiting, "waiting")
    return result("unknown", "无终止状态、事件或等待原因 / no terminated state, event or waiting reason", "none")


NODE_OOM_TEXT = ("节点内存耗尽，容器未到自身 limit / the node ran out of memory while the container was below its "
                 "limit")


def _trouble_text(trouble):
    return "节点异常 / node trouble: %s" % ", ".join(sorted(set(c.label for c in trouble)))


def _event_text(events):
    event = sorted(events, key=lambda e: -(e.get("time_ms") or 0))[0]
    return "%s: %s" % (event.get("reason"), short(event.get("message")))


def _pct(value):
    text = ("%.1f" % (value * 100)).rstrip("0").rstrip(".")
    return text + "%"


def container_cause(container, events, waiting_reason=None, ctx=None):
    """(cause, reason text, source) for one restarted container (``weigh`` without the evidence list)."""
    return weigh(container, events, waiting_reason, ctx)[:3]


def dominant(causes):
    """The most frequent cause (ties: the more specific, by ``CAUSES`` order); None for none."""
    counts = {}
    for cause in causes:
        if cause:
            counts[cause] = counts.get(cause, 0) + 1
    if not counts:
        return None
    return sorted(counts, key=lambda c: (-counts[c], CAUSE_ORDER.get(c, 99)))[0]


def most_specific(causes):
    present = [c for c in causes if c]
    return sorted(present, key=lambda c: CAUSE_ORDER.get(c, 99))[0] if present else None


def restarted_containers(listed, status_known, events, ctx, start_ms, end_ms):
    """The containers that restarted in the window: by their YAML status, else those the events or node OOM
    kills name, else the only regular container."""
    if status_known:
        restarted = []
        for item in listed:
            finished = (item.get("last") or {}).get("finished_ms")
            if item["type"] != "init" and finished is not None and start_ms <= finished <= end_ms:
                restarted.append(item)
        if not restarted:
            top = max([c.get("restart_count") or 0 for c in listed if c["type"] == "regular"] or [0])
            restarted = [c for c in listed if c["type"] == "regular" and top and c.get("restart_count") == top]
        return restarted
    named = set(n for n in ctx.node_ooms if n)
    for event in events:
        found = classify_event(event)
        if found and found[1]:
            named.add(found[1])
    regular = [c for c in listed if c["type"] == "regular"]
    restarted = [c for c in listed if c["name"] in named]
    if not restarted and len(regular) == 1:
        restarted = regular
    return restarted


def explain_pod(pod, obj, events, start_ms, end_ms, ctx=None, parsed=None):
    """Containers of a restarted pod with their cause; the pod's cause; whether only exit-0 restarts.

    Returns ``{"containers": [...], "cause", "reason", "source", "evidence", "exit0",
    "yaml": "status"|"spec"|problem}``. Each container dict gains ``restarted`` (in the window) and, when
    restarted, ``cause``/``reason``/``source``/``evidence``. ``ctx``: a ``Context`` (memory, node OOM kills,
    node conditions); ``parsed``: ``pod_from_message``'s answer when the caller already has it.
    """
    ctx = ctx or Context()
    spec, problem = parsed if parsed is not None else pod_from_message((obj or {}).get("message"))
    listed = containers(spec) if spec else []
    status_known = has_status(spec)
    waiting_reason = (obj or {}).get("status") or ""
    if waiting_reason in ("Running", "Pending", "Succeeded", "Failed", "Unknown"):
        waiting_reason = ""
    restarted = restarted_containers(listed, status_known, events, ctx, start_ms, end_ms)
    if not listed and not status_known:
        named = sorted(set([n for n in ctx.node_ooms if n] +
                           [f[1] for f in (classify_event(e) for e in events) if f and f[1]]))
        listed = [_container({"name": n}, None, "regular") for n in named]
        restarted = list(listed)
    chosen = set(id(c) for c in restarted)
    for item in listed:
        item["restarted"] = id(item) in chosen
    results = []
    for item in restarted:
        cause, reason, source, found = weigh(item, events, waiting_reason, ctx)
        item.update({"cause": cause, "reason": reason, "source": source, "evidence": found})
        results.append((cause, reason, source, found))
    if not results:
        unnamed = dict(name="", type="regular", last=None, waiting_reason="")
        results.append(weigh(unnamed, events, waiting_reason, ctx))
    causes = [c for c, _, _, _ in results]
    cause = most_specific([c for c in causes if c != "expected"]) or "expected"
    first = [r for r in results if r[0] == cause][0]
    if status_known:
        yaml_state = "status"
    elif spec:
        yaml_state = "spec"
    else:
        yaml_state = problem or "none"
    return {"containers": listed, "cause": cause, "reason": first[1], "source": first[2], "evidence": first[3],
            "exit0": all(c == "expected" for c in causes), "yaml": yaml_state, "spec": spec}


def disruption_detail(obj, events):
    """What a disrupted pod's object and events say: ``{"cause", "reason", "containers", "yaml"}``.

    The pod-level status reason (``Evicted``, ``BidFailed``…) names the cause when the YAML
    has it; otherwise the latest eviction or node/spot event about the pod does.
    """
    spec, _ = pod_from_message((obj or {}).get("message"))
    reason, message = pod_level_status(spec)
    cause = WAITING_CAUSES.get(reason)
    if cause is None:
        for event in events:
            found = classify_event(event)
            if found and found[0] in ("eviction", "node_lost", "spot"):
                cause = found[0]
                break
    text = ("%s: %s" % (reason, message)).strip(": ") if reason else ""
    return {"cause": cause, "reason": text or None, "containers": containers(spec) if spec else [],
            "yaml": "status" if has_status(spec) else ("spec" if spec else "none")}


def oom_suspected(obj, events):
    """True when a pod's object or events speak of an OOM kill (its containers' memory is then worth a look)."""
    if (obj or {}).get("status") == "OOMKilled" or "OOMKilled" in str((obj or {}).get("message") or ""):
        return True
    return any((classify_event(e) or (None,))[0] == "oom" for e in events)


def state_of(container, events, object_status=""):
    """A container's state as a user sees it: its YAML waiting reason; ``CrashLoopBackOff`` when the kubelet's
    ``BackOff`` "restarting failed container" events name it (or no container); the object's waiting status;
    its YAML state; ``-`` when nothing says."""
    if container.get("waiting_reason"):
        return container["waiting_reason"]
    name = container.get("name")
    for event in events:
        lower = (event.get("message") or "").lower()
        if event.get("reason") == "BackOff" and "restarting failed container" in lower and \
                container_in_message(event.get("message")) in (None, name):
            return "CrashLoopBackOff"
    if object_status in WAITING_REASONS:
        return object_status
    state = container.get("state")
    return state.capitalize() if state else (object_status or "-")


def last_text(container):
    """``OOMKilled, exit 137`` of a container's last termination, or ""."""
    last = container.get("last") or {}
    if not (last.get("reason") or last.get("exit_code") is not None):
        return ""
    code = last.get("exit_code")
    return "%s%s" % (last.get("reason") or "Terminated", ", exit %s" % code if code is not None else "")


def container_state(pod, events):
    """The state a user sees for a pod: its restarted container's (``state_of``: ``CrashLoopBackOff``,
    ``Running``...) with the last termination (``OOMKilled, exit 137``; OOM when the evidence says so and the YAML
    cannot), or what disrupted it (``Evicted``, ``BidFailed``, ``TaintManagerEviction``...)."""
    detail = pod.get("detail") or {}
    status = pod.get("object_status") or ""
    if pod.get("category") == "disrupted":
        reason = (detail.get("reason") or "").split(":")[0]
        evidence_reason = ((pod.get("evidence") or [""])[0]).split(":")[0].split("（")[0].strip()
        return reason or (status if status and status != "Running" else "") or evidence_reason or "已中断 / disrupted"
    listed = [c for c in detail.get("containers") or [] if c.get("restarted")] or detail.get("containers") or []
    if not listed:
        return status or "-"
    state = state_of(listed[0], events, status)
    last = last_text(listed[0]) or ("OOMKilled" if pod.get("cause") == "oom" else "")
    if not last:
        return state
    if state == "-":
        return "上次 / last: %s" % last
    return "%s（上次 / last: %s）" % (state, last)


# -- quantities and advice figures --------------------------------------------------------------

def parse_quantity(value):
    """Kubernetes memory quantity (``512Mi``, ``1G``, ``134217728``) -> bytes; None when unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) and value >= 0 else None
    match = _QUANTITY.match(str(value))
    if not match:
        return None
    number, unit = match.groups()
    try:
        amount = float(number)
    except ValueError:
        return None
    factor = _BINARY.get(unit) or _DECIMAL.get(unit)
    if factor is None:
        return None
    return amount * factor


def format_bytes(value):
    """``536870912`` -> ``512Mi``; ``1.5Gi``; None -> ``-``."""
    if value is None:
        return "-"
    value = float(value)
    for unit, factor in (("Gi", 2 ** 30), ("Mi", 2 ** 20), ("Ki", 2 ** 10)):
        if value >= factor:
            amount = value / factor
            text = ("%.1f" % amount).rstrip("0").rstrip(".")
            return text + unit
    return "%dB" % int(value)


def suggest_memory_limit(limit, peak):
    """A memory limit to suggest after OOM kills: max(peak x 1.2, limit x 1.5), up to a multiple of 64Mi."""
    candidates = [v for v in ((peak or 0) * 1.2, (limit or 0) * 1.5) if v]
    if not candidates:
        return None
    wanted = max(candidates)
    return int(math.ceil(wanted / MEMORY_STEP) * MEMORY_STEP)


def probe_summary(probe):
    """``HTTP GET /healthz:8080 · delay 5s · every 10s · timeout 1s · 3 failures`` and the seconds to a kill."""
    if not isinstance(probe, dict):
        return None, None
    target = ""
    if isinstance(probe.get("httpGet"), dict):
        http = probe["httpGet"]
        target = "HTTP GET %s:%s" % (http.get("path") or "/", http.get("port") or "")
    elif isinstance(probe.get("tcpSocket"), dict):
        target = "TCP :%s" % probe["tcpSocket"].get("port")
    elif isinstance(probe.get("exec"), dict):
        target = "exec %s" % " ".join(str(c) for c in probe["exec"].get("command") or [])[:60]
    elif isinstance(probe.get("grpc"), dict):
        target = "gRPC :%s" % probe["grpc"].get("port")
    delay = _int(probe.get("initialDelaySeconds")) or 0
    period = _int(probe.get("periodSeconds")) or 10
    timeout = _int(probe.get("timeoutSeconds")) or 1
    failures = _int(probe.get("failureThreshold")) or 3
    text = "%s · initialDelaySeconds %d · periodSeconds %d · timeoutSeconds %d · failureThreshold %d" % (
        target or "probe", delay, period, timeout, failures)
    return text.strip(" ·"), period * failures


def exit_code_meaning(code):
    """The usual meaning of an exit code without context (``exit_code_text`` reads 2, 137 and 143 in context)."""
    if code is None:
        return ""
    if code in (2, 137, 143):
        return exit_code_text(code)
    return EXIT_CODES.get(code) or ("信号 %d / signal %d" % (code - 128, code - 128) if 128 < code < 160 else "")


# -- small helpers ------------------------------------------------------------------------------

def short(text, limit=160):
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _text(value):
    return None if value is None else str(value)


def _int(value):
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _time_ms(value):
    if not value:
        return None
    try:
        return clock.to_ms(clock.parse_time(value))
    except (ValueError, TypeError):
        return None
