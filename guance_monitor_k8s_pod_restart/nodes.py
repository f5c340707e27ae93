"""Nodes in the window: what happened to each node, from its objects and its events. Pure functions.

``node_infos(nodes, events, start_ms, end_ms, recycling)`` gives one ``NodeInfo`` per node:

- **lost**: gone (no report for 12 minutes), NotReady at the end, or tainted unreachable;
- **conditions** (``Condition``): ``NotReady``, ``MemoryPressure``, ``DiskPressure``,
  ``PIDPressure`` as intervals from the kubelet's and node controller's events
  (``NodeNotReady`` -> ``NodeReady``, ``NodeHasInsufficientMemory`` -> ``NodeHasSufficientMemory``,
  ``NodeHasDiskPressure`` -> ``NodeHasNoDiskPressure``, ...; ``EvictionThresholdMet`` as a
  moment of pressure), ``SystemOOM`` (kubelet: the node ran out of memory) as moments; a node
  object NotReady at the end keeps ``NotReady`` open;
- **reboots** (``Reboot``): only a true reboot — the kubelet's ``Rebooted`` event (a new boot
  ID, named in its message) or a Node object registered in the window (the node started
  anew). A node that flapped ``NotReady`` did not reboot;
- **OOM kills** on the node (``NodeOOM``): node-problem-detector's ``OOMKilling`` ("Killed
  process 4242 (python3)") and the kubelet's ``SystemOOM`` ("victim process: python3"), which
  Kubernetes attaches to the Node, not the pod: ``oom_candidates`` matches them to a pod by node,
  time and process name (or the pod's uid when the message carries its cgroup);
- **spot**: the ECS spot instance behind the node when Guance's ECS integration saw it holding
  the ``Recycling`` lock (``facts.RecyclingInstance``), matched by private IP, instance ID or
  host name (``spot_instance``).

``suspected_reboots`` keeps the older inference for nodes Kubernetes recorded nothing about:
nearly every pod of several workloads restarting once or twice.
"""
import re
from dataclasses import dataclass
from dataclasses import field
from typing import List
from typing import Optional

from guance_monitor import report
from guance_monitor_k8s_pod_restart import facts

WINDOW_MS = facts.WINDOW_MS
MINUTE_MS = facts.MINUTE_MS
REBOOT_MAX_RESTARTS = 2          # a node reboot restarts a pod's containers once (twice at most)
BEFORE_MS = 2 * MINUTE_MS        # a restart this long before a node condition started is still its doing ...
AFTER_MS = 5 * MINUTE_MS         # ... and this long after it ended
OOM_BEFORE_MS = 3 * MINUTE_MS    # an OOM kill event this long before / after the minute a counter rose matches it
OOM_AFTER_MS = 2 * MINUTE_MS

# event reason -> (condition, True: it starts / False: it ends / None: a moment)
CONDITION_EVENTS = {
    "NodeNotReady": ("not_ready", True), "NodeReady": ("not_ready", False),
    "NodeHasInsufficientMemory": ("memory_pressure", True), "NodeHasSufficientMemory": ("memory_pressure", False),
    "NodeHasDiskPressure": ("disk_pressure", True), "NodeHasNoDiskPressure": ("disk_pressure", False),
    "NodeHasInsufficientPID": ("pid_pressure", True), "NodeHasSufficientPID": ("pid_pressure", False),
    "SystemOOM": ("system_oom", None),
}
CONDITION_LABELS = {"not_ready": "NotReady", "memory_pressure": "MemoryPressure", "disk_pressure": "DiskPressure",
                    "pid_pressure": "PIDPressure", "system_oom": "SystemOOM"}
NODE_EVENT_REASONS = tuple(CONDITION_EVENTS) + ("EvictionThresholdMet", "Rebooted", "NodeShutdown", "OOMKilling")
_BOOT_ID = re.compile(r"boot id:\s*([0-9a-fA-F-]+)")
_KILLED = re.compile(r"Killed process (\d+) \(([^)]+)\)")
_VICTIM = re.compile(r"victim process:\s*([^,\s]+)(?:,\s*pid:\s*(\d+))?")
_TASK = re.compile(r"task=([^,\s]+)")


@dataclass
class Condition:
    """A node condition in the window: from ``start_ms`` (None: already on when the window began) to
    ``end_ms`` (None: still on at its end); a moment (``SystemOOM``) has both equal."""
    kind: str
    start_ms: Optional[int]
    end_ms: Optional[int]
    events: List[dict] = field(default_factory=list)

    @property
    def label(self):
        return CONDITION_LABELS.get(self.kind, self.kind)

    def covers(self, at_ms, window_start, window_end):
        """Whether a restart in the minute ``at_ms`` falls within this condition (with margins)."""
        start = (self.start_ms if self.start_ms is not None else window_start) - BEFORE_MS
        end = (self.end_ms if self.end_ms is not None else window_end) + AFTER_MS
        return start <= at_ms <= end


@dataclass
class Reboot:
    at_ms: Optional[int]
    evidence: str


@dataclass
class NodeOOM:
    """An OOM kill reported on a node: ``kind`` ``OOMKilling`` (node-problem-detector: a memory cgroup hit its
    limit) or ``SystemOOM`` (kubelet: the node itself ran out of memory)."""
    kind: str
    at_ms: Optional[int]
    process: str
    pid: Optional[int]
    message: str
    uid_in_message: str = ""


@dataclass
class NodeInfo:
    """What is known about one node in the window: objects and node events."""
    name: str
    reported: bool = False
    gone: bool = False
    not_ready: bool = False
    lost_taint: Optional[str] = None
    age: Optional[float] = None
    last_ms: Optional[int] = None
    internal_ip: str = ""
    events: List[dict] = field(default_factory=list)      # node events of the window, oldest first
    conditions: List[Condition] = field(default_factory=list)
    reboots: List[Reboot] = field(default_factory=list)
    ooms: List[NodeOOM] = field(default_factory=list)
    spot: Optional[facts.RecyclingInstance] = None

    @property
    def lost(self):
        """Gone, NotReady or tainted unreachable: pods that vanished from it were lost with it."""
        return self.gone or self.not_ready or bool(self.lost_taint)

    @property
    def shutdown(self):
        return any(e["reason"] == "NodeShutdown" for e in self.events)

    def lost_text(self):
        if self.gone:
            return "节点 %s 已不再上报 / node %s stopped reporting" % (self.name, self.name)
        if self.not_ready:
            return "节点 %s NotReady / node %s is NotReady" % (self.name, self.name)
        if self.lost_taint:
            return "节点 %s 带有污点 %s / node %s has taint %s" % (self.name, self.lost_taint, self.name, self.lost_taint)
        return ""

    def reboot_evidence(self):
        """A text naming why the node is known to have rebooted in the window, or None."""
        return self.reboots[0].evidence if self.reboots else None

    def trouble(self, minutes, window_start, window_end):
        """The conditions (not reboots) that cover any of the ``minutes`` (ms) a pod restarted in."""
        return [c for c in self.conditions if any(c.covers(at, window_start, window_end) for at in minutes)]

    @property
    def known(self):
        """Whether Kubernetes recorded anything about the node in the window (conditions, reboots, OOM kills)."""
        return bool(self.conditions or self.reboots or self.ooms or self.events)


def node_infos(nodes, events, start_ms, end_ms, recycling=()):
    """(cluster, node name) -> NodeInfo, and (cluster or None, node name) -> NodeInfo for events of unknown nodes."""
    infos = {}
    for node in nodes:
        if not node.get("name"):
            continue
        info = infos.setdefault((node["cluster"], node["name"]), NodeInfo(node["name"]))
        info.reported = True
        gone, not_ready, info.lost_taint = facts.node_state(node, end_ms)
        info.gone = info.gone or gone
        info.not_ready = info.not_ready or not_ready
        info.age = node.get("age")
        info.last_ms = node.get("last_ms")
        info.internal_ip = node.get("internal_ip") or info.internal_ip
    by_name = {}
    for event in sorted(events, key=lambda e: e.get("time_ms") or 0):
        if event.get("kind") != "Node" or not event.get("name"):
            continue
        targets = [info for (cluster, name), info in infos.items() if name == event["name"] and
                   (not event.get("cluster") or cluster == event["cluster"])]
        if not targets:
            key = (event.get("cluster") or None, event["name"])
            targets = [by_name.setdefault(key, NodeInfo(event["name"]))]
        for info in targets:
            info.events.append(event)
    for (cluster, _), info in list(infos.items()) + list(by_name.items()):
        info.conditions = conditions(info.events, info.not_ready, start_ms, end_ms)
        info.reboots = reboots(info, start_ms)
        info.ooms = [o for o in (node_oom(e) for e in info.events) if o is not None]
        info.spot = spot_instance(info, recycling)
    return infos, by_name


def node_of(infos, loose, cluster, name):
    info = infos.get((cluster, name))
    if info is None:
        info = loose.get((cluster, name)) or loose.get((None, name))
    return info


def conditions(events, not_ready_at_end, start_ms, end_ms):
    """The node's conditions in the window from its events (oldest first), and NotReady from its object."""
    out = []
    current = {}
    for event in events:
        reason = event.get("reason")
        at = event.get("time_ms")
        if reason == "EvictionThresholdMet":
            kind = "disk_pressure" if re.search(r"(?i)ephemeral|nodefs|imagefs|disk", event.get("message") or "") \
                else "memory_pressure"
            if kind in current:
                current[kind].events.append(event)
            else:
                out.append(Condition(kind, at, at, [event]))
            continue
        if reason not in CONDITION_EVENTS:
            continue
        kind, starts = CONDITION_EVENTS[reason]
        if starts is None:
            out.append(Condition(kind, at, at, [event]))
        elif starts:
            if kind not in current:
                current[kind] = Condition(kind, at, None, [event])
                out.append(current[kind])
            else:
                current[kind].events.append(event)
        else:
            opened = current.pop(kind, None)
            if opened is None:
                out.append(Condition(kind, None, at, [event]))
            else:
                opened.end_ms = at
                opened.events.append(event)
    if not_ready_at_end and not any(c.kind == "not_ready" and c.end_ms is None for c in out):
        out.append(Condition("not_ready", end_ms, None, []))
    return sorted(out, key=lambda c: (c.start_ms if c.start_ms is not None else start_ms, c.kind))


def reboots(info, start_ms):
    """True reboots of the node in the window: a ``Rebooted`` event (a new boot ID) or the node registered anew."""
    out = []
    for event in info.events:
        if event.get("reason") == "Rebooted":
            found = _BOOT_ID.search(event.get("message") or "")
            text = "Rebooted" + (" (boot id %s)" % found.group(1) if found else "")
            out.append(Reboot(event.get("time_ms"), text))
    age = info.age
    if not out and isinstance(age, (int, float)) and not isinstance(age, bool) and 0 <= age < WINDOW_MS / 1000.0:
        at = info.last_ms - int(age * 1000) if info.last_ms is not None else None
        out.append(Reboot(at, "node registered %ds before its last report (age %ds)" % (int(age), int(age))))
    return out


def node_oom(event):
    """A ``NodeOOM`` from an ``OOMKilling`` or ``SystemOOM`` node event, else None."""
    reason = event.get("reason")
    message = event.get("message") or ""
    if reason not in ("OOMKilling", "SystemOOM"):
        return None
    process, pid = "", None
    killed = _KILLED.search(message)
    victim = _VICTIM.search(message)
    task = _TASK.search(message)
    if killed:
        pid, process = int(killed.group(1)), killed.group(2)
    elif victim:
        process = victim.group(1)
        pid = int(victim.group(2)) if victim.group(2) else None
    elif task:
        process = task.group(1)
    uid = re.search(r"pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})", message)
    return NodeOOM(reason, event.get("time_ms"), process, pid, message,
                   uid.group(1).replace("_", "-") if uid else "")


def process_names(container):
    """The process names a container's spec suggests (``command``/``args``, a shell's script), kernel-length."""
    words = []
    value = container.get("command") or container.get("args")
    if isinstance(value, list) and value:
        words.append(str(value[0]))
        script = [str(v) for v in value[1:] if not str(v).startswith("-")]
        if is_shell(value) and script and script[0].split():
            words.append(script[0].split()[0])
    names = set()
    for word in words:
        base = word.rsplit("/", 1)[-1]
        if base:
            names.add(base[:15])
    return names


def is_shell(command):
    """Whether a container's command (a list) runs a shell (``sh -c ...``, ``bash script.sh``)."""
    return bool(command) and str(command[0]).rsplit("/", 1)[-1] in SHELLS


SHELLS = ("sh", "bash", "ash", "dash", "zsh", "ksh")


def oom_candidates(oom, pods, names_of):
    """The pods an OOM kill on their node explains: [(pod, container name or None, how matched)].

    ``pods``: restarted pods on the node with ``restart_minutes``; ``names_of(pod)``: container name ->
    the process names its command suggests (``process_names``). The pod uid in the message wins; then a
    restart near the event of a container whose command names the process; then, when only one pod
    restarted near the event and its commands are unknown, that pod (matched by node and time alone).
    """
    if oom.uid_in_message:
        return [(p, None, "uid") for p in pods if p.get("uid") == oom.uid_in_message]
    near = [p for p in pods if any(_near(oom.at_ms, m["at"]) for m in p.get("restart_minutes") or [])]
    named = []
    for pod in near:
        for container, names in sorted(names_of(pod).items()):
            if oom.process and oom.process[:15] in names:
                named.append((pod, container, "process"))
    if named:
        return named
    if len(near) == 1 and not any(names_of(near[0]).values()):
        return [(near[0], None, "time")]
    return []


def _near(event_ms, minute_ms):
    if event_ms is None or minute_ms is None:
        return False
    return minute_ms - OOM_BEFORE_MS <= event_ms <= minute_ms + MINUTE_MS + OOM_AFTER_MS


def spot_instance(info, recycling):
    """The ECS spot instance behind the node being reclaimed (``facts.RecyclingInstance``), or None."""
    for instance in recycling or ():
        if info.internal_ip and info.internal_ip in instance.private_ips:
            return instance
        names = set(n for n in (instance.instance_id, instance.host_name, instance.name) if n)
        if info.name in names or (instance.instance_id and instance.instance_id in info.name):
            return instance
        if any(info.name.endswith("." + ip) or info.name == ip for ip in instance.private_ips):
            return instance
    return None


def suspected_reboots(pods, infos=None, loose=None, min_pods=3, min_workloads=2, share=0.8):
    """(cluster, node) -> text for nodes where nearly every pod restarted once or twice, and Kubernetes recorded
    nothing about the node (no condition, reboot or OOM event: what it did record says what happened).

    The pattern of a node reboot: at least ``min_pods`` pods of ``min_workloads`` workloads, and ``share`` of
    the node's pods, restarted at most ``REBOOT_MAX_RESTARTS`` times.
    """
    by_node = {}
    for pod in pods:
        if not pod.get("node") or (pod.get("category") == "excluded" and pod.get("exclusion") in ("job", "configured")):
            continue
        by_node.setdefault((pod["cluster"], pod["node"]), []).append(pod)
    out = {}
    for key, members in by_node.items():
        info = node_of(infos or {}, loose or {}, key[0], key[1])
        if info is not None and info.known:
            continue
        live = [p for p in members if p.get("alive")]
        once = [p for p in live if 0 < (p.get("delta") or 0) <= REBOOT_MAX_RESTARTS]
        workloads = set(_workload(p) for p in once)
        if len(once) >= min_pods and len(workloads) >= min_workloads and len(once) >= share * len(live):
            out[key] = "%d/%d 个 Pod 同时重启 1-2 次，节点无任何事件 / %d of %d pods restarted once or twice, no " \
                       "node event" % (len(once), len(live), len(once), len(live))
    return out


def _workload(pod):
    if pod.get("owner"):
        return pod.get("owner_kind") or "replicaset", pod["owner"]
    return "pod", pod.get("pod") or pod.get("uid")


def when_text(condition):
    """When a condition held, in the display zone: ``15:38 → 15:55``, one time for a moment."""
    if condition.start_ms is not None and condition.start_ms == condition.end_ms:
        return report.display_time(condition.start_ms)
    start = report.display_time(condition.start_ms) if condition.start_ms is not None else "窗口前 / before the window"
    end = report.display_time(condition.end_ms) if condition.end_ms is not None else "仍在 / still on"
    return "%s → %s" % (start, end)


def condition_text(condition):
    """``MemoryPressure 2026-11-20 15:38:00 (UTC+8) → ...``: the condition and when it held."""
    return "%s %s" % (condition.label, when_text(condition))
