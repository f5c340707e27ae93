"""Root cause of a restart, per pod and per container: pure functions over the pod YAML and events.

The fallback chain for each container that restarted in the window:

1. the pod YAML's ``lastState.terminated`` (``reason``, ``exitCode``,
   ``finishedAt``) — in ``kubelet_pod``'s ``message`` while DataKit still sends
   the pod status (up to v1.84.0); a kill by signal (exit 137/143) is a probe
   kill when the events say a liveness/startup probe failed, an OOM when the
   events report one;
2. the pod's events in the window (``BackOff``, ``Unhealthy`` + ``Killing``,
   OOM messages, image pull and config errors, evictions, spot release...);
3. the waiting reason (``kubelet_pod`` ``status``: ``CrashLoopBackOff``,
   ``ImagePullBackOff``, ``CreateContainerConfigError``...).

``restarts`` in ``kube_pod`` is the maximum over the containers, so a cause is
attached to the container the data names; a pod-level event that names no
container is attributed to the pod's only regular container, or to none.

``explain_pod`` gives a restarted pod's containers and cause (``container_cause`` each);
``disruption_detail`` what a disrupted pod's object and events say (``Evicted``,
``BidFailed``…); ``oom_suspected`` tells ``collect`` which pods' container memory to fetch.
The quantities and probe figures the advice quotes are here too.
"""
import json
import math
import re

from guance_monitor import clock

# cause -> (zh, en); the order is the tie-break order (first = most specific)
CAUSES = (
    ("oom", "内存溢出 OOMKilled", "OOMKilled"),
    ("probe", "探针失败 Probe failure", "liveness/readiness probe failure"),
    ("image_config", "镜像或配置错误 Image/config error", "image or configuration error"),
    ("eviction", "驱逐或节点压力 Eviction", "eviction or node pressure"),
    ("node_spot", "节点丢失或抢占式实例回收 Node lost / spot reclaimed", "node lost or spot instance reclaimed"),
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
    "BidFailed": "node_spot", "NodeLost": "node_spot", "Shutdown": "node_spot",
}
IMAGE_CONFIG_MARKERS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
                        "CreateContainerError", "Failed to pull image", "couldn't find key", "not found in ConfigMap",
                        "secret \"", "configmap \"", "exec format error", "executable file not found")
EVENT_DISRUPTIONS = {"Evicted": "eviction", "Preempted": "eviction", "TaintManagerEviction": "node_spot",
                     "BidFailed": "node_spot", "SpotToBeReleased": "node_spot", "NodeNotReady": "node_spot"}
EXIT_CODES = {
    1: "应用错误 / application error",
    2: "误用 shell 内建命令 / misuse of a shell builtin",
    126: "命令不可执行 / command cannot execute",
    127: "命令不存在 / command not found",
    128: "退出参数无效 / invalid exit argument",
    134: "SIGABRT（程序中止 / abort）",
    137: "SIGKILL（被杀死：OOM 或超时强杀 / killed: OOM or forced stop）",
    139: "SIGSEGV（段错误 / segmentation fault）",
    143: "SIGTERM（被终止 / terminated）",
}
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


# -- the chain ----------------------------------------------------------------------------------

def container_cause(container, events, waiting_reason=None):
    """(cause, reason text, source) for one restarted container: YAML, then events, then waiting reason."""
    classified = [(c, e) for c, e in ((classify_event(e), e) for e in events) if c is not None]
    mine = [(cause, e) for (cause, name), e in classified if name in (None, container.get("name"))]
    causes = set(cause for cause, _ in mine)
    last = container.get("last")
    if last and (last.get("reason") or last.get("exit_code") is not None):
        reason, code = last.get("reason") or "", last.get("exit_code")
        text = "%s (exit %s)" % (reason or "Terminated", "-" if code is None else code)
        if reason == "OOMKilled":
            return "oom", text, "yaml"
        if code == 0 or reason == "Completed":
            return "expected", text, "yaml"
        if reason in CONFIG_TERMINATED:
            return "image_config", text, "yaml"
        if code in (137, 143, None) and "probe" in causes:
            return "probe", text + " · liveness/startup probe", "yaml+events"
        if code == 137 and "oom" in causes:
            return "oom", text + " · OOM event", "yaml+events"
        meaning = EXIT_CODES.get(code)
        return "app_error", text + (" · %s" % meaning if meaning else ""), "yaml"
    if mine:
        best = sorted(mine, key=lambda item: (CAUSE_ORDER[item[0]], -(item[1].get("time_ms") or 0)))[0]
        return best[0], "%s: %s" % (best[1].get("reason"), short(best[1].get("message"))), "events"
    waiting = container.get("waiting_reason") or waiting_reason or ""
    if waiting in WAITING_CAUSES:
        return WAITING_CAUSES[waiting], waiting, "waiting"
    return "unknown", "无终止状态、事件或等待原因 / no terminated state, event or waiting reason", "none"


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


def explain_pod(pod, obj, events, start_ms, end_ms):
    """Containers of a restarted pod with their cause; the pod's cause; whether only exit-0 restarts.

    Returns ``{"containers": [...], "cause", "reason", "source", "exit0", "yaml": "status"|"spec"|problem}``.
    Each container dict gains ``restarted`` (in the window) and, when restarted, ``cause``/``reason``/``source``.
    """
    spec, problem = pod_from_message((obj or {}).get("message"))
    listed = containers(spec) if spec else []
    status_known = has_status(spec)
    waiting_reason = (obj or {}).get("status") or ""
    if waiting_reason in ("Running", "Pending", "Succeeded", "Failed", "Unknown"):
        waiting_reason = ""
    restarted = []
    if status_known:
        for item in listed:
            last = item.get("last") or {}
            finished = last.get("finished_ms")
            if item["type"] != "init" and finished is not None and start_ms <= finished <= end_ms:
                restarted.append(item)
        if not restarted:
            top = max([c.get("restart_count") or 0 for c in listed if c["type"] == "regular"] or [0])
            restarted = [c for c in listed if c["type"] == "regular" and top and c.get("restart_count") == top]
    else:
        named = set()
        for event in events:
            found = classify_event(event)
            if found and found[1]:
                named.add(found[1])
        regular = [c for c in listed if c["type"] == "regular"]
        restarted = [c for c in listed if c["name"] in named]
        if not restarted and len(regular) == 1:
            restarted = regular
        if not listed and named:
            listed = [{"name": n, "type": "regular", "image": "", "requests": {}, "limits": {}, "memory_limit": None,
                       "probes": {}, "has_status": False, "restart_count": None, "container_id": "", "state": "",
                       "waiting_reason": "", "last": None} for n in sorted(named)]
            restarted = list(listed)
    chosen = set(id(c) for c in restarted)
    for item in listed:
        item["restarted"] = id(item) in chosen
    results = []
    for item in restarted:
        cause, reason, source = container_cause(item, events, waiting_reason)
        item.update({"cause": cause, "reason": reason, "source": source})
        results.append((cause, reason, source))
    if not results:
        unnamed = dict(name="", type="regular", last=None, waiting_reason="")
        cause, reason, source = container_cause(unnamed, events, waiting_reason)
        results.append((cause, reason, source))
    causes = [c for c, _, _ in results]
    cause = most_specific([c for c in causes if c != "expected"]) or "expected"
    first = [r for r in results if r[0] == cause][0]
    if status_known:
        yaml_state = "status"
    elif spec:
        yaml_state = "spec"
    else:
        yaml_state = problem or "none"
    return {"containers": listed, "cause": cause, "reason": first[1], "source": first[2],
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
            if found and found[0] in ("eviction", "node_spot"):
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
    if code is None:
        return ""
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
