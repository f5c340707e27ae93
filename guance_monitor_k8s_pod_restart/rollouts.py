"""Rollouts behind restarts: which revision the restarting pods belong to, and whether it is new. Pure functions.

A workload's **revision** is its ReplicaSet for a Deployment (``<deployment>-<pod-template-hash>``, read
from the pod's name) and its ``controller-revision-hash`` label for a StatefulSet or DaemonSet (read from
the pod's YAML in ``kubelet_pod``, which DataKit sends with or without the pod status).

- ``suspects(pods, objects, events, end_ms)`` (for ``collect``): the workloads worth a look at every
  pod's YAML — their restarting pods are of one revision while other pods of theirs did not restart,
  or a ``ScalingReplicaSet`` event scaled up the restarting pods' ReplicaSet;
- ``attribute(workload_pods, objects, events, window)`` (for ``analyse``): a ``Rollout`` when the
  restarting pods all belong to a revision created shortly before (``RECENT_MS``) — **named**
  (``strong``) when the previous revision's pods are healthy — with the revision, its creation time
  (the earliest creation of its pods, or the scale-up event), the differing image or version label,
  and the rollback command.
"""
from dataclasses import dataclass
from dataclasses import field
from typing import List
from typing import Optional

from guance_monitor_k8s_pod_restart import causes

RECENT_MS = 2 * 3600 * 1000      # a revision created this long before the window's end is a recent rollout
VERSION_LABELS = ("app.kubernetes.io/version", "version", "app.version", "helm.sh/chart")
REVISION_LABEL = "controller-revision-hash"
KINDS = ("deployment", "statefulset", "daemonset")


@dataclass
class Rollout:
    cluster: str
    namespace: str
    kind: str
    name: str
    revision: str                       # the ReplicaSet (Deployment) or controller revision the crashes belong to
    created_ms: Optional[int] = None
    first_restart_ms: Optional[int] = None
    crashing: int = 0                   # restarting pods of that revision
    previous: str = ""                  # the previous revision
    previous_pods: int = 0              # its pods alive at the window's end
    previous_healthy: bool = False      # ... none of which restarted or was disrupted
    changes: List[tuple] = field(default_factory=list)   # (what, before, after)
    evidence: List[str] = field(default_factory=list)

    @property
    def strong(self):
        """Named as the cause's context: the previous revision's pods are healthy."""
        return self.previous_healthy and self.previous_pods > 0

    @property
    def command(self):
        return "kubectl rollout undo %s/%s -n %s" % (self.kind, self.name, self.namespace)


def template_hash(pod_name, deployment):
    """The pod-template-hash in a Deployment pod's name (``<deployment>-<hash>-<suffix>``), or None."""
    prefix = (deployment or "") + "-"
    if not deployment or not pod_name or not pod_name.startswith(prefix):
        return None
    rest = pod_name[len(prefix):].rsplit("-", 1)
    return rest[0] if len(rest) == 2 and rest[0] and "-" not in rest[0] else None


def revision_of(pod, obj=None, parsed=None):
    """The pod's revision name, or None (``obj``: its ``kubelet_pod`` object, for the YAML's labels)."""
    kind, owner = pod.get("owner_kind"), pod.get("owner")
    if kind == "deployment":
        found = template_hash(pod.get("pod"), owner)
        return "%s-%s" % (owner, found) if found else None
    if kind in ("statefulset", "daemonset"):
        spec = parsed if parsed is not None else causes.pod_from_message((obj or {}).get("message"))[0]
        labels = ((spec or {}).get("metadata") or {}).get("labels") or {}
        value = labels.get(REVISION_LABEL)
        return str(value) if value else None
    return None


def scaled_up(events):
    """(namespace, ReplicaSet name) -> time of the ``ScalingReplicaSet`` event that scaled it up."""
    out = {}
    marker = "Scaled up replica set "
    for event in events:
        if event.get("reason") != "ScalingReplicaSet" or marker not in (event.get("message") or ""):
            continue
        words = event["message"].split(marker, 1)[1].split()
        if words:
            key = (event.get("namespace") or "", words[0])
            at = event.get("time_ms")
            out[key] = min(out.get(key, at), at) if at is not None and out.get(key) is not None else at
    return out


def _changed(pod):
    top, low = pod.get("max"), pod.get("min")
    return isinstance(top, (int, float)) and isinstance(low, (int, float)) and top > low


def suspects(pods, objects, events, end_ms, alive_ms=3 * 60 * 1000):
    """(cluster, namespace, kind, name) of the workloads whose every pod's YAML is worth fetching."""
    ups = scaled_up(events)
    groups = {}
    for pod in pods:
        if pod.get("owner_kind") in KINDS and pod.get("owner"):
            groups.setdefault((pod["cluster"], pod["namespace"], pod["owner_kind"], pod["owner"]), []).append(pod)
    out = set()
    for key, members in groups.items():
        changed = [p for p in members if _changed(p)]
        steady = [p for p in members if not _changed(p) and (p.get("last_ms") or 0) >= end_ms - alive_ms]
        if not changed:
            continue
        if key[2] == "deployment":
            new = set(revision_of(p) for p in changed) - {None}
            old = set(revision_of(p) for p in steady) - {None}
            if (len(new) == 1 and old and not (new & old)) or any((key[1], r) in ups for r in new):
                out.add(key)
        elif steady and any(revision_of(p, objects.get(p["uid"])) for p in changed):
            out.add(key)
    return out


def attribute(members, objects, events, start_ms, end_ms, parsed=None):
    """The ``Rollout`` behind a workload's restarts, or None.

    ``members``: the workload's pods in the window (categorised: ``restarted``, ``disrupted``,
    ``healthy``, ``excluded``...); ``objects``: uid -> ``kubelet_pod`` object (the YAML); ``parsed``: uid ->
    the pod YAML already parsed (``causes.pod_from_message``'s first item), filled in here when missing.
    """
    crashing = [p for p in members if p.get("category") == "restarted"]
    if not crashing:
        return None
    first = crashing[0]
    kind, name = first.get("owner_kind"), first.get("owner")
    ups = scaled_up(events)
    if kind == "deployment":
        by_name = set(revision_of(p) for p in members)
        if len(by_name) == 1 and not any((first["namespace"], r) in ups for r in by_name):
            return None                  # one revision and no scale-up: no rollout, no YAML to read
    parsed = parsed if parsed is not None else {}
    for pod in members:
        if pod["uid"] not in parsed:
            parsed[pod["uid"]] = causes.pod_from_message((objects.get(pod["uid"]) or {}).get("message"))[0]
    revisions = {p["uid"]: revision_of(p, objects.get(p["uid"]), parsed.get(p["uid"])) for p in members}
    new = set(revisions[p["uid"]] for p in crashing)
    if len(new) != 1 or None in new:
        return None
    revision = new.pop()
    own = [p for p in members if revisions[p["uid"]] == revision]
    created = [_created_ms(objects.get(p["uid"])) for p in own]
    created = [c for c in created if c is not None]
    evidence = []
    up = ups.get((first["namespace"], revision)) if kind == "deployment" else None
    if up is not None:
        created.append(up)
        evidence.append("ScalingReplicaSet: Scaled up replica set %s" % revision)
    created_ms = min(created) if created else None
    starts = [m["at"] for p in crashing for m in p.get("restart_minutes") or []]
    first_restart = min(starts) if starts else None
    recent = created_ms is not None and created_ms >= end_ms - RECENT_MS and \
        (first_restart is None or created_ms <= first_restart)
    others = [p for p in members if revisions[p["uid"]] not in (None, revision)]
    alive_others = [p for p in others if p.get("alive")]
    if not recent or not (others or up is not None):
        return None
    previous = _latest_other(alive_others or others, objects, revisions)
    previous_pods = [p for p in alive_others if revisions[p["uid"]] == previous]
    healthy = bool(previous_pods) and all(p.get("category") in ("healthy", None) or
                                          (p.get("category") == "excluded" and p.get("exclusion") == "exit0")
                                          for p in previous_pods)
    changes = differences(parsed.get(_any_uid(others, revisions, previous)), parsed.get(crashing[0]["uid"]))
    if created:
        evidence.append("Pod 创建时间 / pods created (kubelet_pod age)")
    return Rollout(first["cluster"], first["namespace"], kind, name, revision, created_ms, first_restart,
                   len(crashing), previous or "", len(previous_pods), healthy, changes, evidence)


def _latest_other(pods, objects, revisions):
    """The revision of the most recently created other pods (the one rolled out before)."""
    best, best_ms = None, None
    for pod in pods:
        created = _created_ms(objects.get(pod["uid"])) or 0
        if best is None or created > best_ms:
            best, best_ms = revisions[pod["uid"]], created
    return best


def _any_uid(pods, revisions, revision):
    for pod in pods:
        if revisions[pod["uid"]] == revision:
            return pod["uid"]
    return None


def _created_ms(obj):
    """When the pod was created: the object's time minus its ``age`` (seconds), or None."""
    if not obj:
        return None
    age, at = obj.get("age"), obj.get("last_ms")
    if isinstance(age, bool) or not isinstance(age, (int, float)) or at is None:
        return None
    return int(at - age * 1000)


def differences(before, after):
    """[(what, before, after)]: the images and version labels that differ between two pod YAMLs (None: unknown)."""
    if not before or not after:
        return []
    out = []
    old = _images(before)
    for name, image in sorted(_images(after).items()):
        if name in old and old[name] != image:
            out.append(("image %s" % name, old[name], image))
    old_labels = ((before.get("metadata") or {}).get("labels") or {})
    new_labels = ((after.get("metadata") or {}).get("labels") or {})
    for label in VERSION_LABELS:
        if label in new_labels and old_labels.get(label) != new_labels.get(label):
            out.append(("label %s" % label, old_labels.get(label) or "-", new_labels[label]))
    return out


def _images(pod):
    spec = pod.get("spec") or {}
    return {c["name"]: c.get("image") or "" for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
            if isinstance(c, dict) and c.get("name")}
