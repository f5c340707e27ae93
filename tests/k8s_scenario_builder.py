"""Builds Kubernetes scenarios (the foundation's scenario format) the way DataKit would have written them.

Used by ``tests/k8s_make_scenarios.py`` (the labelled library under
``tests/scenarios/k8s/``), by the unit/e2e tests and by the demo fragment.
Points follow DataKit's shapes (``datakit-k8s-data.md``):

- ``kube_pod`` metric every ``interval`` seconds: tags ``cluster_name_k8s``,
  ``namespace``, ``uid``, ``pod``/``pod_name``, ``node_name``, the owner tag;
  fields ``restarts`` (max over regular containers) and ``ready``;
- ``kubelet_pod`` object every 5 minutes: tags ``name`` (= uid), ``uid``,
  ``pod_name``, ``namespace``, ``node_name``, ``phase``, ``status`` (phase, or the
  first waiting reason); ``message`` = JSON with the pod ``yaml`` (with or without
  ``status``, as DataKit up to v1.84.0 / after it);
- ``kubernetes_events`` logging: tags ``type``, ``reason``; fields
  ``involved_kind``/``_uid``/``_name``/``_namespace``, ``message``;
- ``kubernetes_nodes`` object every 5 minutes (``internal_ip`` tag); ``docker_containers`` metric;
- with ``Pod(mem_metrics=True)`` (DataKit's ``enable_pod_metric``), ``kube_pod``'s ``mem_usage`` and
  ``mem_limit`` (pod sums) while the pod runs;
- ``CO::aliyun_ecs`` objects as Guance's Alibaba Cloud ECS integration writes them (``ecs_instance``).
"""
import datetime
import hashlib
import json

import yaml

UTC = datetime.timezone.utc
MINUTE = 60 * 1000


def ms(text):
    return int(datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp() * 1000)


def iso(value):
    return datetime.datetime.fromtimestamp(value / 1000.0, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def uid_for(*parts):
    digest = hashlib.md5("/".join(parts).encode("utf-8")).hexdigest()
    return "%s-%s-%s-%s-%s" % (digest[:8], digest[8:12], digest[12:16], digest[16:20], digest[20:32])


class Container:
    """A container of a pod: its spec and how it restarts.

    ``restarts``: [(time ms, restartCount)] steps; ``terminations``: [(time ms,
    reason, exit code)] — the last one before a report time is its lastState.
    """

    def __init__(self, name="app", kind="regular", image=None, memory_limit="512Mi", memory_request="256Mi",
                 cpu_limit="500m", cpu_request="100m", liveness=None, restarts=None, terminations=None,
                 waiting=None, usage=None, command=None, args=None):
        self.name = name
        self.command = command
        self.args = args
        self.kind = kind
        self.image = image or "registry.example.com/%s:1.0" % name
        self.memory_limit = memory_limit
        self.memory_request = memory_request
        self.cpu_limit = cpu_limit
        self.cpu_request = cpu_request
        self.liveness = liveness
        self.restarts = sorted(restarts or [])
        self.terminations = sorted(terminations or [])
        self.waiting = waiting or []         # [(from ms, to ms, reason)]
        self.usage = usage                   # memory bytes of the running container, or None

    def count_at(self, at):
        value = 0
        for when, count in self.restarts:
            if when <= at:
                value = count
        return value

    def last_termination(self, at):
        last = None
        for item in self.terminations:
            if item[0] <= at:
                last = item
        return last

    def waiting_at(self, at):
        for start, end, reason in self.waiting:
            if start <= at < end:
                return reason
        return None


class Pod:
    def __init__(self, namespace, name, cluster="c1", node="node-1", owner=("deployment", None), uid=None,
                 containers=None, start=None, end=None, phase=None, status_reason=None, status_message=None,
                 labels=None, interval=60, yaml_status=True, ready=None, extra_tags=None, created=None,
                 mem_metrics=False):
        self.namespace = namespace
        self.name = name
        self.cluster = cluster
        self.node = node
        self.owner = owner
        self.uid = uid or uid_for(cluster, namespace, name)
        self.containers = containers or [Container()]
        self.start = start
        self.end = end
        self.phase = phase or []             # [(from ms, phase)]
        self.status_reason = status_reason   # pod-level reason when Failed (Evicted, BidFailed)
        self.status_message = status_message
        self.labels = labels or {}
        self.interval = interval
        self.yaml_status = yaml_status
        self.ready = ready                   # [(from ms, ready containers)] or None: all regular containers
        self.extra_tags = extra_tags or {}
        self.created = created               # creation time (ms): the object's age; None: its start, or long ago
        self.mem_metrics = mem_metrics       # kube_pod mem_usage / mem_limit (DataKit's enable_pod_metric)

    def phase_at(self, at):
        value = "Running"
        for when, phase in self.phase:
            if when <= at:
                value = phase
        return value

    def ready_at(self, at):
        if self.ready is not None:
            value = 0
            for when, count in self.ready:
                if when <= at:
                    value = count
            return value
        if self.phase_at(at) != "Running":
            return 0
        return sum(1 for c in self.containers if c.kind == "regular" and not c.waiting_at(at))

    def memory_at(self, at):
        """(kube_pod mem_usage, mem_limit) of the pod at ``at``: sums over its running containers, or None."""
        if not self.mem_metrics or self.phase_at(at) != "Running":
            return None
        usage = 0
        for c in self.containers:
            if c.usage is not None and not c.waiting_at(at):
                usage += c.usage(at) if callable(c.usage) else c.usage
        return int(usage), sum(_bytes(c.memory_limit) for c in self.containers)

    def restarts_at(self, at):
        counts = [c.count_at(at) for c in self.containers if c.kind == "regular"]
        return max(counts) if counts else 0

    def owner_tags(self):
        kind, name = self.owner
        return {kind: name} if kind and name else {}

    def yaml_at(self, at):
        spec = {"containers": [], "restartPolicy": "Always", "nodeName": self.node}
        inits = []
        for c in self.containers:
            item = {"name": c.name, "image": c.image,
                    "resources": {"limits": {"cpu": c.cpu_limit, "memory": c.memory_limit},
                                  "requests": {"cpu": c.cpu_request, "memory": c.memory_request}}}
            if c.liveness:
                item["livenessProbe"] = c.liveness
            if c.command:
                item["command"] = list(c.command)
            if c.args:
                item["args"] = list(c.args)
            if c.kind == "regular":
                spec["containers"].append(item)
            else:
                if c.kind == "sidecar":
                    item["restartPolicy"] = "Always"
                inits.append(item)
        if inits:
            spec["initContainers"] = inits
        kind, owner = self.owner
        labels = dict(self.labels)
        if kind == "deployment" and owner and self.name.startswith(owner + "-") and \
                len(self.name[len(owner) + 1:].rsplit("-", 1)) == 2:
            labels.setdefault("pod-template-hash", self.name[len(owner) + 1:].rsplit("-", 1)[0])
        metadata = {"name": self.name, "namespace": self.namespace, "labels": labels}
        if kind and owner:
            metadata["ownerReferences"] = [{"kind": "ReplicaSet" if kind == "deployment" else kind.capitalize(),
                                            "name": owner}]
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
        if self.yaml_status:
            statuses = []
            init_statuses = []
            for c in self.containers:
                status = {"name": c.name, "image": c.image, "restartCount": c.count_at(at),
                          "containerID": "containerd://" + hashlib.sha1((self.uid + c.name).encode()).hexdigest(),
                          "ready": not c.waiting_at(at)}
                waiting = c.waiting_at(at)
                status["state"] = {"waiting": {"reason": waiting}} if waiting else \
                    {"running": {"startedAt": iso(at - 60000)}}
                last = c.last_termination(at)
                if last:
                    status["lastState"] = {"terminated": {"reason": last[1], "exitCode": last[2],
                                                          "startedAt": iso(last[0] - 120000),
                                                          "finishedAt": iso(last[0])}}
                else:
                    status["lastState"] = {}
                (statuses if c.kind == "regular" else init_statuses).append(status)
            pod["status"] = {"phase": self.phase_at(at), "containerStatuses": statuses}
            if init_statuses:
                pod["status"]["initContainerStatuses"] = init_statuses
            if self.phase_at(at) == "Failed" and self.status_reason:
                pod["status"]["reason"] = self.status_reason
                pod["status"]["message"] = self.status_message or ""
        return pod

    def status_tag(self, at):
        phase = self.phase_at(at)
        if phase == "Failed" and self.status_reason:
            return phase
        for c in self.containers:
            if c.kind == "regular" and c.waiting_at(at):
                return c.waiting_at(at)
        return phase


class Builder:
    def __init__(self, name, description, runs, object_every=5):
        self.name = name
        self.object_every = object_every * MINUTE      # DataKit's object_collect_interval is 5 minutes
        self.description = description
        self.runs = list(runs)
        self.metric = []
        self.object = []
        self.logging = []
        self.custom_object = []
        self.studio = []
        self.labels = {}
        self.span = (ms(self.runs[0]) - 35 * MINUTE, ms(self.runs[-1]))

    # -- pods ----------------------------------------------------------------------------

    def add_pod(self, pod, gaps=()):
        start = pod.start if pod.start is not None else self.span[0]
        end = pod.end if pod.end is not None else self.span[1]
        at = start - start % (pod.interval * 1000)
        if at < start:
            at += pod.interval * 1000
        base = {"cluster_name_k8s": pod.cluster, "namespace": pod.namespace, "uid": pod.uid,
                "pod": pod.name, "pod_name": pod.name, "node_name": pod.node}
        base.update(pod.owner_tags())
        base.update(pod.extra_tags)
        while at <= end:
            if not any(g0 <= at < g1 for g0, g1 in gaps):
                fields = {"restarts": pod.restarts_at(at), "ready": pod.ready_at(at)}
                memory = pod.memory_at(at)
                if memory:
                    fields["mem_usage"], fields["mem_limit"] = memory
                self.metric.append({"measurement": "kube_pod", "tags": dict(base), "fields": fields, "time": at})
                for c in pod.containers:
                    if c.usage is not None and not c.waiting_at(at) and pod.phase_at(at) == "Running":
                        tags = {"cluster_name_k8s": pod.cluster, "namespace": pod.namespace,
                                "pod_name": pod.name, "pod_uid": pod.uid, "container_name": c.name,
                                "container_id": "c-" + pod.uid[:8]}
                        usage = c.usage(at) if callable(c.usage) else c.usage
                        self.metric.append({"measurement": "docker_containers", "tags": tags,
                                            "fields": {"mem_usage": int(usage),
                                                       "mem_limit": _bytes(c.memory_limit),
                                                       "mem_request": _bytes(c.memory_request)},
                                            "time": at})
            at += pod.interval * 1000
        at = start - start % self.object_every + self.object_every
        while at <= end:
            if not any(g0 <= at < g1 for g0, g1 in gaps):
                self.add_pod_object(pod, at)
            at += self.object_every
        return pod

    def add_pod_object(self, pod, at):
        tags = {"name": pod.uid, "uid": pod.uid, "pod_name": pod.name, "namespace": pod.namespace,
                "node_name": pod.node, "host": pod.node, "phase": pod.phase_at(at), "status": pod.status_tag(at),
                "cluster_name_k8s": pod.cluster}
        tags.update(pod.owner_tags())
        document = dict(tags)
        document["yaml"] = yaml.safe_dump(pod.yaml_at(at), sort_keys=False)
        created = pod.created if pod.created is not None else (
            pod.start if pod.start is not None else self.span[0] - 10 * 86400 * 1000)
        self.object.append({"measurement": "kubelet_pod", "tags": tags,
                            "fields": {"restarts": pod.restarts_at(at), "age": max(0, (at - created) // 1000),
                                       "message": json.dumps(document)},
                            "time": at})

    # -- events, nodes -------------------------------------------------------------------

    def event(self, at, reason, message, pod=None, kind="Pod", name=None, namespace=None, type="Warning",
              cluster=None, uid=None):
        tags = {"type": type, "reason": reason, "uid": uid_for("event", reason, str(at), name or ""),
                "from_node": "node-1"}
        if cluster or pod is not None:
            tags["cluster_name_k8s"] = cluster or pod.cluster
        fields = {"involved_kind": kind,
                  "involved_uid": uid if uid is not None else (pod.uid if pod is not None else ""),
                  "involved_name": name or (pod.name if pod is not None else ""),
                  "involved_namespace": namespace if namespace is not None else (pod.namespace if pod else ""),
                  "source_component": "kubelet", "source_host": pod.node if pod is not None else "",
                  "message": message, "status": "warn" if type == "Warning" else "info"}
        self.logging.append({"measurement": "kubernetes_events", "source": "kubernetes_events", "tags": tags,
                             "fields": fields, "time": at})

    def node(self, name, cluster="c1", ready="true", start=None, end=None, taints=None, age=86400 * 30,
             ready_from=None, internal_ip=None):
        start = start if start is not None else self.span[0]
        end = end if end is not None else self.span[1]
        at = start - start % (5 * MINUTE) + 5 * MINUTE
        while at <= end:
            state = ready
            if ready_from:
                for when, value in ready_from:
                    if when <= at:
                        state = value
            fields = {"node_ready": state, "unschedulable": "no", "age": age + (at - start) // 1000,
                      "kubelet_version": "v1.30.1", "message": "{}"}
            if taints:
                fields["taints"] = json.dumps(taints)
            tags = {"name": uid_for(cluster, name), "uid": uid_for(cluster, name), "node_name": name, "role": "node",
                    "cluster_name_k8s": cluster}
            if internal_ip:
                tags["internal_ip"] = internal_ip
            self.object.append({"measurement": "kubernetes_nodes", "tags": tags, "fields": fields, "time": at})
            at += 5 * MINUTE

    def node_event(self, at, reason, message, node, cluster="c1", type="Warning", component="kubelet"):
        """An event about a Node, as DataKit writes it (no namespace; the node is the involved object)."""
        tags = {"type": type, "reason": reason, "uid": uid_for("event", reason, str(at), node),
                "from_node": node, "cluster_name_k8s": cluster}
        fields = {"involved_kind": "Node", "involved_uid": uid_for(cluster, node), "involved_name": node,
                  "involved_namespace": "", "source_component": component, "source_host": node, "message": message,
                  "status": "warn" if type == "Warning" else "info"}
        self.logging.append({"measurement": "kubernetes_events", "source": "kubernetes_events", "tags": tags,
                             "fields": fields, "time": at})

    def ecs_instance(self, instance_id, private_ip, times, locks_from=None, spot="SpotAsPriceGo", region="cn-hangzhou",
                     name=None):
        """``CO::aliyun_ecs`` objects of one ECS instance at ``times`` (ms), as Guance's ECS integration writes them:
        tags, ``OperationLocks`` (JSON text) holding ``Recycling`` from ``locks_from`` on, ``message`` = the
        DescribeInstances JSON."""
        for at in times:
            locks = [{"LockReason": "Recycling", "LockMsg": "spot instance is being recycled"}] \
                if locks_from is not None and at >= locks_from else []
            api = {"InstanceId": instance_id, "InstanceName": name or instance_id, "HostName": name or instance_id,
                   "RegionId": region, "InstanceChargeType": "PostPaid", "SpotStrategy": spot, "Status": "Running",
                   "OperationLocks": {"LockReason": locks},
                   "VpcAttributes": {"PrivateIpAddress": {"IpAddress": [private_ip]}}}
            self.custom_object.append({
                "measurement": "aliyun_ecs", "time": at,
                "tags": {"name": instance_id, "InstanceId": instance_id, "InstanceName": api["InstanceName"],
                         "HostName": api["HostName"], "RegionId": region, "InstanceChargeType": "PostPaid",
                         "Status": "Running"},
                "fields": {"OperationLocks": json.dumps(locks), "message": json.dumps(api)}})

    # -- studio, labels ------------------------------------------------------------------

    def configs(self, configs, disabled=False):
        self.studio = [{"check": "k8s-pod-restart", "callKwargs": {"configs": configs}, "disabled": disabled}]

    def expect(self, *expected, **extra):
        self.labels = {"expected": list(expected)}
        self.labels.update(extra)

    def to_dict(self):
        studio = self.studio or [{"check": "k8s-pod-restart", "callKwargs": {}, "disabled": False}]
        points = {"metric": self.metric, "object": self.object, "logging": self.logging}
        if self.custom_object:
            points["custom_object"] = self.custom_object
        return {"name": self.name, "description": self.description, "runs": self.runs,
                "guance": {"studio": studio, "points": points}, "labels": self.labels}


def _bytes(quantity):
    units = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30}
    if quantity is None:
        return 0
    for unit, factor in units.items():
        if quantity.endswith(unit):
            return int(float(quantity[:-2]) * factor)
    return int(quantity)


def expected(run, namespace, status, cause=None, cluster="c1"):
    item = {"run": run, "cluster_name_k8s": cluster, "namespace": namespace, "status": status}
    if cause:
        item["cause"] = cause
    return item


# -- running a scenario through the startup script, as the demo does -------------------------------

def run_scenario(data, state_dir, runs=None):
    """Run the deployed ``example`` startup script against a sandbox at each run time of ``data``.

    Returns (events as the sandbox received them, each with ``run``; the task results; the sandbox calls).
    """
    from guance_monitor import clock
    from guance_monitor_local import demo
    from guance_monitor_local import scenario as scenarios
    from guance_monitor_local.sandbox import Sandbox

    scenario = data if isinstance(data, scenarios.Scenario) else (
        scenarios.load(data) if isinstance(data, str) else scenarios.from_dict(data))
    results = []
    with Sandbox(scenario) as sandbox:
        lines = []
        runtime = demo.deployed_runtime(["k8s-pod-restart"], demo.sandbox_values(sandbox), str(state_dir),
                                        echo=lines.append)
        for index, when in enumerate(scenario.runs):
            if runs is not None and index not in runs:
                continue
            sandbox.set_run(index)
            with clock.frozen(when):
                result = runtime.run(demo.startup_func("k8s-pod-restart"))
            result.lines = list(lines)
            del lines[:]
            results.append(result)
        events = [dict(e) for e in sandbox.events]
        calls = list(sandbox.calls)
    return events, results, calls


class SandboxAPI:
    """Stands for ``GuanceOpenAPI``: answers DQL from a scenario's points in-process, recording every query
    (``options``: the DQL server's behaviour, e.g. ``Options(endless=True)``)."""

    def __init__(self, data, options=None):
        from guance_monitor import clock
        from guance_monitor_local import scenario as scenarios
        from guance_monitor_local.sandbox import dql as sandbox_dql

        scenario = data if isinstance(data, scenarios.Scenario) else scenarios.from_dict(data)
        self.execute = sandbox_dql.execute
        self.store = sandbox_dql.PointStore()
        for namespace, points in scenario.points.items():
            if points:
                self.store.add_points(namespace, points)
        self.now_ms = clock.to_ms(scenario.runs[0])
        self.runs = scenario.runs
        self.options = options          # the server's behaviour (``sandbox.dql.Options``), or None
        self.queries = []

    def post(self, path, body, **kwargs):
        query = body["queries"][0]["query"]
        self.queries.append(query)
        return {"data": [self.execute(self.store, query, self.now_ms, self.options)]}
