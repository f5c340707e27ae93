"""Fault benchmark: a simulated day of cron runs of both inspections, with faults injected at random (not a timed test).

    python benchmarks/bench_faults.py [--hours 24] [--seed 1] [--fault-rate 0.05] [--timeouts 4]
                                      [--corruptions 12] [--overlaps 8] [--serial] [--json]

**The day.** The script generates a day of data with a known truth (seeded, reproducible):

- spot survival: 12 spot instances in two regions (two types, three zones). At 15 %, 50 % and 80 % of
  the day one instance is recycled: it holds the ``Recycling`` lock in ECS and in its ``CO::aliyun_ecs``
  objects (the integration writes one every 5 minutes), CloudMonitor has its
  ``Instance:PreemptibleInstanceInterruption`` notice (not the third one), and 5 minutes later it is gone.
  From 35 % to 55 % of the day the market price of one instance's zone rises to 1.5 x its usual level,
  above that instance's bid (1.3 x), then falls back. The rest stays healthy;
- pod restart: one cluster, four namespaces of two Deployments with two pods each, as DataKit writes them
  (``kube_pod`` every minute, ``kubelet_pod`` objects and ``kubernetes_nodes`` every 5 minutes,
  ``kubernetes_events``). From 20 % to 32 % and from 60 % to 72 % of the day the pods of one Deployment of
  ``payments`` then of ``search`` crash-loop: ``restarts`` rises every 5 minutes, the objects say
  ``CrashLoopBackOff`` with the last termination in their YAML, and a ``BackOff`` event follows each restart.

Both inspections' startup scripts are deployed from their ``example`` scripts as the demo does, on one
Guance API key, and run through the local Func runtime against the sandbox (in the pass's process) at
their cron times (``fixed_crontab`` of the startup scripts: 720 spot runs and 48 pod runs in 24 hours).
Time is held at each run's time and moves on by what the run sleeps (backoff, the request pacer), which
the sandbox's rate window follows too (``Sandbox.set_now``); the time budgets count real time plus what was
slept (``clock.Accelerated``), so sleeping costs no real time but counts against the timeout. Runs are
serialised on one simulated worker: a run due while another runs starts when that one ends. A request
whose client timed out is finished by the sandbox before the next run starts (in real time it would be,
minutes before).

**Two passes** over the same day, each with a fresh state and sandbox, at once in two processes (``--serial``:
one after the other, in this process):

1. *baseline*: no faults — the events it delivers are the expected alerts;
2. *faulted*: every Guance, ECS and CMS request is hit with probability ``--fault-rate`` by one of the
   faults that apply to it, drawn from ``sandbox.faults`` seeded by ``--seed``: a 5xx (the service's own
   503, or a gateway's 502 page after handling), a 429 with Retry-After, a drop before or after handling,
   a 200 with a non-JSON body, a 200 with other JSON, a stripped list key (``Instances``, ``SpotPrices``,
   ``SystemEvents``, ``content.data``), endless paging; plus ``--timeouts`` timeouts (an answer later than
   the client's read timeout, which costs real seconds), ``--corruptions`` state corruptions between runs
   (through the runtime's store: garbage text or JSON of the wrong shape in an alert state — one holding
   open alerts when there is one —, or a deleted key of the inspection, its outbox and lock aside) and
   ``--overlaps`` overlapping runs (a second run of the same inspection started, in a thread, once the first
   holds its lock).

After the day each pass makes one fault-free run of each inspection, so that the outbox can drain. The seed
fixes the data, the schedule, the corruptions and overlaps, and the fault drawn for each request in order;
the spot inspection's concurrent calls can arrive in another order, so two runs may differ in detail.

**Figures** (``--json``: one object with these keys; the text table shows the same). An event is dated by
the run in which it entered the outbox (its detection), read from the runtime's store:

- ``alerts_expected``: events the baseline delivered;
- per dimension (the inspection and the event's ``dimension_tags``) the baseline's statuses in delivery
  order are matched, in order, with the faulted pass's (the longest common subsequence: timing may shift
  by runs under faults). ``alerts_delivered``: baseline events matched;
- ``alerts_lost``: baseline events never matched, except ``lost_after_corruption``: those whose
  alert state was corrupted after the last event delivered for the dimension and no later than the
  baseline's run for them (an ``ok`` cannot follow an alert its state forgot);
- ``alerts_duplicated``: a ``df_event_id`` stored twice, plus an unmatched event that repeats the status
  last delivered for its dimension with no corruption of its inspection's alert state in between;
  ``repeated_after_corruption``: such repeats after one (by design: announced by the "open alerts may
  repeat once" warning); ``corruption_effects_unannounced``: repeats and losses after a corruption that
  no such warning of the inspection announced;
- ``false_ok``: an ``ok`` detected while the condition still held — by the day's truth for the dimensions
  it knows (a recycled instance before it is gone, a bid below the market during the rise, a namespace
  while a restart is in the inspection's 30-minute window), else by the baseline: its status after its
  first run at or after that time was not ``ok``;
- ``extra_events``: events of the faulted pass on dimensions the baseline never used (the product's own
  warnings: incomplete data, unreadable state, time budget; with their ``ok``); ``extra_transitions``:
  other unmatched events that change the dimension's status;
- ``waiting_at_end``: events still in the outboxes after the drain runs;
- ``longest_run``: per inspection, the longest run (real time plus what it slept) in seconds, its
  function's ``timeout`` and the share; ``overruns``: runs longer than their timeout (Func would have
  ended them; the local runtime's timer counts real time only);
- ``guance_requests_per_run``: per inspection, mean and max of the Guance requests a run made (retries
  and an overlapping run's included); ``busiest_minute``: the most Guance requests on the key in any 60 s;
- ``faults``: requests hit per fault kind; ``state_corruptions`` per kind; ``overlaps_planned`` (second
  runs started), ``overlapping_runs`` (those started while the first run held its lock: a first run that
  ended, or had not taken its lock, before is no overlap), ``overlaps_skipped`` (those of them that
  found the lock held through their wait and skipped) and ``overlaps_waited`` (those that took the lock
  once the first run ended within their wait, and ran after it); ``failed_runs``: tasks
  that ended in an error (a checker failed);
- ``incidents``, ``incidents_detected``: incidents of the generated truth, and those whose dimension the
  baseline reported firing;
- ``hours``, ``seed``, ``fault_rate``, ``timeouts``, ``runs`` (cron runs per inspection), ``wall_s`` (the
  whole benchmark), ``faulted_wall_s``, ``baseline`` (the baseline pass's own ``longest_run``,
  ``overruns``, ``guance_requests_per_run``, ``busiest_minute``, ``failed_runs``, ``waiting_at_end``,
  ``wall_s``).

Goals: 0 lost, 0 duplicated, 0 false ``ok``.
"""
import argparse
import datetime
import hashlib
import json
import math
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from concurrent import futures

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

START = "2026-11-20T00:00:00Z"
MINUTE_MS = 60 * 1000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
CHECKS = ("spot-alive", "k8s-pod-restart")
DEFAULTS = {"hours": 24.0, "seed": 1, "fault_rate": 0.05, "timeouts": 4, "corruptions": 12, "overlaps": 8}

# -- the spot fleet --------------------------------------------------------------------------------
SPOT_REGIONS = ("cn-hangzhou", "cn-shanghai")
SPOT_TYPES = (("ecs.g7.large", 2, 8, 0.46), ("ecs.c7.xlarge", 4, 8, 0.78))   # type, vCPU, GiB, pay-as-you-go /h
ZONE_LETTERS = ("h", "i", "j")
SPOT_SHARE = 0.2                 # the usual spot price, as a share of pay-as-you-go
RECYCLED_AT = (0.15, 0.5, 0.8)   # fractions of the day; the last one comes without a CloudMonitor notice
RELEASED_AFTER_MS = 5 * MINUTE_MS
PRICE_DIP = (0.35, 0.55, 1.5)    # from, to (fractions of the day), market price factor
DIP_BID = 1.3                    # the dip victim's bid, x its zone's usual price
SAFE_BID = 2.0
OBJECT_EVERY_MS = 5 * MINUTE_MS  # the ECS integration's collection interval
PRICE_EVERY_MS = 10 * MINUTE_MS  # price points during the day (hourly before it)
HISTORY_DAYS = 8

# -- the Kubernetes cluster ------------------------------------------------------------------------
CLUSTER = "prod-sh"
NAMESPACES = (("payments", ("api", "worker")), ("search", ("indexer", "query")),
              ("web", ("frontend", "gateway")), ("ops", ("agent", "exporter")))
REPLICAS = 2
CRASHES = (("payments", "api", 0.2, 0.32), ("search", "indexer", 0.6, 0.72))
RESTART_EVERY_MS = 5 * MINUTE_MS
NODES = ("node-1", "node-2", "node-3")
LOOKBACK_MS = 35 * MINUTE_MS     # data before the first run: the pod inspection's window and a margin
TAIL_MS = 45 * MINUTE_MS         # data after the day: the drain runs

# -- faults ----------------------------------------------------------------------------------------
GUANCE_ACTIONS = {
    "/api/v1/self_built_checker/list": ["content.data"],
    "/api/v1/df/query_data_v1": ["content.data"],
    "/api/v1/outer_function/execute": [],
    "/api/v1/workspace/get": [],
}
ALIYUN_ACTIONS = {
    ("ecs", "DescribeInstances"): ["Instances"],
    ("ecs", "DescribeSpotPriceHistory"): ["SpotPrices"],
    ("ecs", "DescribeSpotAdvice"): [],
    ("ecs", "DescribeAvailableResource"): [],
    ("cms", "DescribeSystemEventAttribute"): ["SystemEvents"],
}
ENDLESS = {("guance", "/api/v1/df/query_data_v1"), ("ecs", "DescribeInstances"), ("ecs", "DescribeSpotPriceHistory"),
           ("cms", "DescribeSystemEventAttribute")}
ODD_JSON = {"guance": {"ok": True, "data": []}, "ecs": {"RequestId": "odd-json"}, "cms": {"RequestId": "odd-json"}}
GATEWAY_PAGE = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
MAINTENANCE_PAGE = "<html><body><p>Service under maintenance</p></body></html>"
RETRY_AFTER_S = 2
IDLE_WAIT_S = 60                 # at most this long (real time) for the sandbox to finish a timed-out request
TIMEOUT_WINDOW_RUNS = 20         # a timeout fault waits up to this many runs for a matching request
CORRUPTIONS = ("garbage", "wrong_shape", "deleted")
GARBAGE = "\x00\x13garbage{{ not json"
STATE_WARNING_TAG = "problem"   # dimension tag of the Runner's "alert state was unreadable" warning
FAULT_KINDS = ("5xx", "429", "timeout", "drop", "drop_after_handling", "non_json_200", "odd_json_200",
               "stripped", "endless")


def _ms(text):
    from guance_monitor import clock
    return clock.to_ms(clock.parse_time(text))


def _iso(ms):
    from guance_monitor import clock
    return clock.iso(clock.from_ms(ms))


def _at(day, fraction, offset_ms=30 * 1000):
    """The time at ``fraction`` of the day, on a minute, plus ``offset_ms`` (never exactly on a cron tick)."""
    start, end = day
    moment = start + int((end - start) * fraction)
    return moment - moment % MINUTE_MS + offset_ms


def _grid(first, last, step):
    """Times ``first`` (rounded up to ``step``) .. ``last``, every ``step`` ms."""
    at = first + (-first) % step
    while at <= last:
        yield at
        at += step


def _uid(*parts):
    digest = hashlib.md5("/".join(parts).encode("utf-8")).hexdigest()
    return "%s-%s-%s-%s-%s" % (digest[:8], digest[8:12], digest[12:16], digest[16:20], digest[20:32])


# -- the day's data ------------------------------------------------------------------------------------

class Truth(object):
    """What happens in the day: incidents, each a dimension and the time its condition holds (from, to)."""

    def __init__(self):
        self.incidents = []

    def add(self, check, tags, start_ms, end_ms, what):
        self.incidents.append({"check": check, "dims": json.dumps(tags, sort_keys=True), "tags": tags,
                               "from_ms": start_ms, "to_ms": end_ms, "what": what})

    def knows(self, check, dims):
        return any(i["check"] == check and i["dims"] == dims for i in self.incidents)

    def holds(self, check, dims, at_ms):
        """Whether an incident's condition holds on this dimension at ``at_ms``."""
        return any(i["check"] == check and i["dims"] == dims and i["from_ms"] <= at_ms < i["to_ms"]
                   for i in self.incidents)


def spot_data(day, rng, truth):
    """(aliyun regions, CO::aliyun_ecs points) of the spot fleet over the day."""
    start, end = day
    fleet = []
    for r, region in enumerate(SPOT_REGIONS):
        for instance_type, cpu, memory, payg in SPOT_TYPES:
            for z, letter in enumerate(ZONE_LETTERS):
                usual = round(payg * (SPOT_SHARE + 0.02 * z + 0.01 * r), 4)
                fleet.append({"region": region, "zone": "%s-%s" % (region, letter), "type": instance_type,
                              "cpu": cpu, "memory": memory, "payg": payg, "usual": usual,
                              "id": "i-bench%s%s%s" % (region[3:5], instance_type.split(".")[1], letter)})
    roles = list(range(len(fleet)))
    rng.shuffle(roles)
    victim, recycled = fleet[roles[0]], [fleet[i] for i in roles[1:1 + len(RECYCLED_AT)]]
    dip_from, dip_to = _at(day, PRICE_DIP[0], 0), _at(day, PRICE_DIP[1], 0)
    dip_from += (-dip_from) % PRICE_EVERY_MS
    dip_to += (-dip_to) % PRICE_EVERY_MS
    for index, member in enumerate(fleet):
        member["strategy"], member["limit"] = ("SpotAsPriceGo", 0.0) if index % 2 else \
            ("SpotWithPriceLimit", round(member["usual"] * SAFE_BID, 4))
    victim["strategy"], victim["limit"] = "SpotWithPriceLimit", round(victim["usual"] * DIP_BID, 4)
    truth.add("spot-alive", _spot_tags(victim), dip_from, dip_to, "bid below the market")
    for member, fraction in zip(recycled, RECYCLED_AT):
        member["recycled_ms"] = _at(day, fraction)
        member["notice"] = fraction != RECYCLED_AT[-1]
        truth.add("spot-alive", _spot_tags(member), member["recycled_ms"],
                  member["recycled_ms"] + RELEASED_AFTER_MS, "recycled")

    regions = {}
    for region in SPOT_REGIONS:
        zones = ["%s-%s" % (region, letter) for letter in ZONE_LETTERS]
        regions[region] = {"instances": [], "spot_price_history": [], "system_events": [], "_zones": zones,
                           "spot_advice": _spot_advice(region, zones), "available_resource": _stock(zones)}
    points = []
    for member in fleet:
        data = regions[member["region"]]
        data["instances"].extend(_instance_versions(member))
        if member.get("recycled_ms") and member["notice"]:
            data["system_events"].append(_interruption_notice(member))
        points.extend(_integration_objects(member, start - LOOKBACK_MS, end + TAIL_MS))
    for region in SPOT_REGIONS:
        for instance_type, _, _, _ in SPOT_TYPES:
            for member in fleet:
                if member["region"] == region and member["type"] == instance_type:
                    dip = (dip_from, dip_to) if member is victim else None
                    regions[region]["spot_price_history"].extend(_prices(member, start, end + TAIL_MS, dip))
    return regions, points


def _spot_tags(member):
    return {"region_id": member["region"], "zone_id": member["zone"], "instance_type": member["type"],
            "instance_id": member["id"]}


def _instance_api(member, locked):
    locks = [{"LockReason": "Recycling", "LockMsg": "spot instance being reclaimed"}] if locked else []
    return {"InstanceId": member["id"], "InstanceName": "bench-" + member["id"][2:], "HostName": member["id"],
            "RegionId": member["region"], "ZoneId": member["zone"], "InstanceType": member["type"],
            "InstanceTypeFamily": ".".join(member["type"].split(".")[:2]), "Cpu": member["cpu"],
            "Memory": member["memory"] * 1024, "Status": "Running", "InstanceChargeType": "PostPaid",
            "SpotStrategy": member["strategy"], "SpotPriceLimit": member["limit"], "SpotDuration": 1,
            "SpotInterruptionBehavior": "Terminate", "OSType": "linux", "CreationTime": "2026-11-10T02:00Z",
            "OperationLocks": {"LockReason": locks},
            "VpcAttributes": {"VpcId": "vpc-bench", "PrivateIpAddress": {"IpAddress": ["10.0.%d.%d" % (
                SPOT_REGIONS.index(member["region"]), sum(map(ord, member["id"])) % 250)]}},
            "Tags": {"Tag": [{"TagKey": "team", "TagValue": "bench"}]}}


def _instance_versions(member):
    """The instance as ECS lists it: unlocked, then (recycled) locked for 5 minutes, then gone."""
    recycled = member.get("recycled_ms")
    if recycled is None:
        return [_instance_api(member, False)]
    return [dict(_instance_api(member, False), _visible_until=recycled),
            dict(_instance_api(member, True), _visible_from=recycled, _visible_until=recycled + RELEASED_AFTER_MS)]


def _interruption_notice(member):
    return {"Id": "evt-" + member["id"], "Product": "ECS", "Name": "Instance:PreemptibleInstanceInterruption",
            "Level": "WARN", "Status": "Normal", "Time": member["recycled_ms"], "GroupId": "0",
            "RegionId": member["region"], "ResourceId": "acs:ecs:%s:1:instance/%s" % (member["region"], member["id"]),
            "InstanceName": "bench-" + member["id"][2:], "_event_type": "StatusNotification",
            "Content": json.dumps({"instanceId": member["id"], "action": "delete"})}


def _integration_objects(member, first, last):
    """``CO::aliyun_ecs`` objects of the instance, one per collection, while it exists."""
    recycled = member.get("recycled_ms")
    gone = recycled + RELEASED_AFTER_MS if recycled is not None else None
    out = []
    for at in _grid(first, last, OBJECT_EVERY_MS):
        if gone is not None and at >= gone:
            break
        api = _instance_api(member, recycled is not None and at >= recycled)
        out.append({"measurement": "aliyun_ecs", "time": at,
                    "tags": {"name": member["id"], "InstanceId": member["id"], "RegionId": member["region"],
                             "ZoneId": member["zone"], "InstanceType": member["type"], "Status": "Running",
                             "InstanceChargeType": "PostPaid"},
                    "fields": {"OperationLocks": json.dumps(api["OperationLocks"]["LockReason"]),
                               "message": json.dumps(api), "CreationTime": api["CreationTime"]}})
    return out


def _prices(member, start, last, dip):
    """Price points of the instance's (type, zone): hourly for the week before, every 10 minutes in the day."""
    times = list(_grid(start - HISTORY_DAYS * DAY_MS, start - 1, HOUR_MS)) + list(_grid(start, last, PRICE_EVERY_MS))
    out = []
    for k, at in enumerate(times):
        price = member["usual"] * (1 + 0.02 * math.sin(k / 3.0))
        if dip is not None and dip[0] <= at < dip[1]:
            price = member["usual"] * PRICE_DIP[2]
        out.append({"ZoneId": member["zone"], "InstanceType": member["type"], "NetworkType": "vpc",
                    "IoOptimized": "optimized", "SpotPrice": round(price, 4), "OriginPrice": member["payg"],
                    "Timestamp": _iso(at)})
    return out


def _spot_advice(region, zones):
    return [{"ZoneId": zone, "AvailableSpotResources": {"AvailableSpotResource": [
        {"InstanceType": t, "AverageSpotDiscount": int(SPOT_SHARE * 100), "InterruptionRate": 1.5,
         "InterruptRateDesc": "0-3%", "_cores": cpu, "_memory": memory} for t, cpu, memory, _ in SPOT_TYPES]}}
        for zone in zones]


def _stock(zones):
    return [{"ZoneId": zone, "Status": "Available", "StatusCategory": "WithStock",
             "AvailableResources": {"AvailableResource": [{"Type": "InstanceType", "SupportedResources": {
                 "SupportedResource": [{"Value": t, "Status": "Available", "StatusCategory": "WithStock"}
                                       for t, _, _, _ in SPOT_TYPES]}}]}} for zone in zones]


def pod_data(day, truth):
    """(metric, object, logging points) of the cluster over the day, as DataKit writes them."""
    start, end = day
    first, last = start - LOOKBACK_MS, end + TAIL_MS
    crashes = dict(((ns, dep), (_at(day, a), _at(day, b))) for ns, dep, a, b in CRASHES)
    for ns, dep, _, _ in CRASHES:
        restarts = _restart_times(crashes[(ns, dep)])
        # abnormal while a restart is in the inspection's window (the last 30 minutes)
        truth.add("k8s-pod-restart", {"cluster_name_k8s": CLUSTER, "namespace": ns}, restarts[0],
                  restarts[-1] + pod_window_ms(), "crash loop of deployment %s" % dep)
    metric, objects, logging_points = [], [], []
    for n, (namespace, deployments) in enumerate(NAMESPACES):
        for d, deployment in enumerate(deployments):
            for replica in range(REPLICAS):
                pod = {"namespace": namespace, "deployment": deployment,
                       "name": "%s-7d9f8c6b5-%s" % (deployment, "abcdefgh"[replica + 2 * d]),
                       "node": NODES[(n + d + replica) % len(NODES)]}
                pod["uid"] = _uid(CLUSTER, namespace, pod["name"])
                restarts = _restart_times(crashes.get((namespace, deployment)))
                metric.extend(_pod_metrics(pod, restarts, crashes.get((namespace, deployment)), first, last))
                objects.extend(_pod_objects(pod, restarts, crashes.get((namespace, deployment)), first, last))
                logging_points.extend(_backoff_events(pod, restarts))
    for node in NODES:
        objects.extend(_node_objects(node, first, last))
    return metric, objects, logging_points


def pod_window_ms():
    from guance_monitor_k8s_pod_restart import analyse
    return analyse.WINDOW_MS


def _restart_times(crash):
    if crash is None:
        return []
    return list(range(crash[0], crash[1], RESTART_EVERY_MS))


def _count(restarts, at):
    return sum(1 for r in restarts if r <= at)


def _crashing(crash, at):
    return crash is not None and crash[0] <= at < crash[1]


def _pod_tags(pod):
    return {"cluster_name_k8s": CLUSTER, "namespace": pod["namespace"], "uid": pod["uid"], "pod": pod["name"],
            "pod_name": pod["name"], "node_name": pod["node"], "deployment": pod["deployment"]}


def _pod_metrics(pod, restarts, crash, first, last):
    tags = _pod_tags(pod)
    return [{"measurement": "kube_pod", "tags": tags, "time": at,
             "fields": {"restarts": _count(restarts, at), "ready": 0 if _crashing(crash, at) else 1}}
            for at in _grid(first, last, MINUTE_MS)]


def _pod_yaml(pod, restarts, crash, at):
    waiting = _crashing(crash, at)
    done = [r for r in restarts if r <= at]
    status = {"name": "app", "restartCount": len(done), "ready": not waiting,
              "state": {"waiting": {"reason": "CrashLoopBackOff"}} if waiting else {"running": {}}}
    if done:
        status["lastState"] = {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": _iso(done[-1])}}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": pod["name"], "namespace": pod["namespace"],
                         "ownerReferences": [{"kind": "ReplicaSet", "name": pod["deployment"] + "-7d9f8c6b5"}]},
            "spec": {"nodeName": pod["node"], "restartPolicy": "Always", "containers": [
                {"name": "app", "image": "registry.example.com/%s:1.4" % pod["deployment"],
                 "resources": {"limits": {"memory": "512Mi", "cpu": "500m"}}}]},
            "status": {"phase": "Running", "containerStatuses": [status]}}


def _pod_objects(pod, restarts, crash, first, last):
    out = []
    for at in _grid(first, last, OBJECT_EVERY_MS):
        tags = {"name": pod["uid"], "uid": pod["uid"], "pod_name": pod["name"], "namespace": pod["namespace"],
                "node_name": pod["node"], "host": pod["node"], "phase": "Running",
                "status": "CrashLoopBackOff" if _crashing(crash, at) else "Running", "cluster_name_k8s": CLUSTER,
                "deployment": pod["deployment"]}
        message = dict(tags, yaml=json.dumps(_pod_yaml(pod, restarts, crash, at)))
        out.append({"measurement": "kubelet_pod", "tags": tags, "time": at,
                    "fields": {"restarts": _count(restarts, at), "age": 86400, "message": json.dumps(message)}})
    return out


def _backoff_events(pod, restarts):
    return [{"measurement": "kubernetes_events", "time": at + 20 * 1000,
             "tags": {"type": "Warning", "reason": "BackOff", "uid": _uid("event", pod["uid"], str(at)),
                      "cluster_name_k8s": CLUSTER, "from_node": pod["node"]},
             "fields": {"involved_kind": "Pod", "involved_uid": pod["uid"], "involved_name": pod["name"],
                        "involved_namespace": pod["namespace"], "source_component": "kubelet",
                        "source_host": pod["node"], "status": "warn",
                        "message": "Back-off restarting failed container app in pod %s" % pod["name"]}}
            for at in restarts]


def _node_objects(node, first, last):
    return [{"measurement": "kubernetes_nodes", "time": at,
             "tags": {"name": _uid(CLUSTER, node), "uid": _uid(CLUSTER, node), "node_name": node, "role": "node",
                      "cluster_name_k8s": CLUSTER},
             "fields": {"node_ready": "true", "unschedulable": "no", "age": 86400 * 30, "kubelet_version": "v1.30.1",
                        "message": "{}"}} for at in _grid(first, last, OBJECT_EVERY_MS)]


def generate(hours=DEFAULTS["hours"], seed=DEFAULTS["seed"]):
    """(scenario dict without faults, the day (start_ms, end_ms), Truth)."""
    start = _ms(START)
    day = (start, start + int(hours * HOUR_MS))
    rng = random.Random(seed)
    truth = Truth()
    regions, objects = spot_data(day, rng, truth)
    metric, pod_objects, logging_points = pod_data(day, truth)
    data = {"name": "bench faults: %g hours" % hours,
            "guance": {"studio": [{"check": "k8s-pod-restart", "callKwargs": {}, "disabled": False}],
                       "points": {"metric": metric, "object": pod_objects, "custom_object": objects,
                                  "logging": logging_points}},
            "aliyun": regions}
    return data, day, truth


# -- what runs when ------------------------------------------------------------------------------------

class Run(object):
    """One scheduled task: the cron time, the inspection, and what the faulted pass does around it."""

    def __init__(self, tick_ms, check, drain=False):
        self.tick_ms = tick_ms
        self.check = check
        self.drain = drain
        self.corruption = None       # a kind of CORRUPTIONS, applied before the run (faulted pass)
        self.overlap = False         # a second run of the same inspection while this one runs (faulted pass)


def schedule(crons, day):
    """The runs of the day in time order (at one time, in CHECKS order), then one drain run per inspection."""
    from croniter import croniter
    from guance_monitor import clock
    from guance_monitor_local.scheduler import FUNC_ZONE

    start, end = day
    runs = []
    drains = []
    for order, check in enumerate(CHECKS):
        times = croniter(crons[check], clock.from_ms(start - 1000).astimezone(FUNC_ZONE))
        while True:
            tick = clock.to_ms(times.get_next(datetime.datetime))
            if tick >= end:
                drains.append((tick, order, Run(tick, check, drain=True)))
                break
            runs.append((tick, order, Run(tick, check)))
    runs.sort(key=lambda item: item[:2])
    drains.sort(key=lambda item: item[:2])
    return [run for _, _, run in runs] + [run for _, _, run in drains]


def plan_disturbances(runs, corruptions, overlaps, rng):
    """Mark seeded, distinct runs (not the first hour's, not the drain runs) for corruption and overlap."""
    eligible = [i for i, run in enumerate(runs) if not run.drain and run.tick_ms - runs[0].tick_ms >= HOUR_MS]
    chosen = rng.sample(eligible, min(len(eligible), corruptions + overlaps))
    for n, index in enumerate(chosen[:corruptions]):
        runs[index].corruption = CORRUPTIONS[n % len(CORRUPTIONS)]
    for index in chosen[corruptions:]:
        runs[index].overlap = True


def fault_specs(rate, timeouts, runs, rng, read_timeouts):
    """``sandbox.faults``: per request ``rate`` split over the kinds that apply, and the timeouts."""
    per_action = [("guance", action, strip) for action, strip in sorted(GUANCE_ACTIONS.items())]
    per_action += [(service, action, strip) for (service, action), strip in sorted(ALIYUN_ACTIONS.items())]
    specs = []
    for service, action, strip in per_action:
        kinds = list(_fault_kinds(service, action, strip))
        for kind, spec in kinds:
            specs.append(dict(spec, service=service, action=action, probability=rate / len(kinds), note=kind))
    faulted = [i for i, run in enumerate(runs) if not run.drain]
    for n in range(timeouts):
        service = "guance" if n % 2 == 0 else "ecs"
        action = ("/api/v1/outer_function/execute", "/api/v1/df/query_data_v1")[(n // 2) % 2] \
            if service == "guance" else "*"
        first = rng.choice(faulted)
        specs.append({"service": service, "action": action, "times": 1, "note": "timeout",
                      "runs": list(range(first, first + TIMEOUT_WINDOW_RUNS)),
                      "latency_ms": (read_timeouts[service] + 1.0) * 1000})
    return specs


def _fault_kinds(service, action, strip):
    yield "5xx", {"status": 503}
    yield "5xx", {"status": 502, "body": GATEWAY_PAGE}
    yield "429", {"status": 429, "retry_after": RETRY_AFTER_S}
    yield "drop", {"drop": True}
    yield "drop_after_handling", {"drop_after_handling": True}
    yield "non_json_200", {"body": MAINTENANCE_PAGE}
    yield "odd_json_200", {"json": ODD_JSON[service]}
    for path in strip:
        yield "stripped", {"strip": [path]}
    if (service, action) in ENDLESS:
        yield "endless", {"endless": True}


def read_timeouts():
    """The clients' read timeouts (s): an answer later than this is a timeout."""
    from guance_monitor import openapi
    from guance_monitor_spot_alive import aliyun
    return {"guance": openapi.READ_TIMEOUT, "ecs": aliyun.READ_TIMEOUT_S}


# -- one pass ------------------------------------------------------------------------------------------

def watched_store_class():
    from guance_monitor import state

    class WatchedStore(state.FileStore):
        """The runtime's store, dating each event by the run in which it first entered an outbox."""

        def __init__(self, directory):
            state.FileStore.__init__(self, directory)
            self.current = None          # the run being made: (index, start_ms)
            self.detected = {}           # df_event_id -> (run index, run start ms)

        def set(self, key, value, expires=None):
            if ":spool:" in key and isinstance(value, str) and self.current is not None:
                try:
                    entries = json.loads(value)
                except ValueError:
                    entries = []
                for entry in entries if isinstance(entries, list) else []:
                    event = entry.get("event") if isinstance(entry, dict) else None
                    event_id = event.get("df_event_id") if isinstance(event, dict) else None
                    if event_id and event_id not in self.detected:
                        self.detected[event_id] = self.current
            state.FileStore.set(self, key, value, expires)

    return WatchedStore


def tracked_sandbox_class():
    from guance_monitor_local.sandbox import Sandbox

    class TrackedSandbox(Sandbox):
        """The sandbox, counting the requests it is handling: a request whose client timed out is handled a
        moment after the client gave up, which in real time is long before the next run; the harness waits
        for it (``wait_idle``) so that simulated time does not overtake it."""

        def __init__(self, scenario):
            Sandbox.__init__(self, scenario)
            self.in_flight = 0
            self._flight = threading.Condition()

        def dispatch(self, request):
            with self._flight:
                self.in_flight += 1
            try:
                return Sandbox.dispatch(self, request)
            finally:
                with self._flight:
                    self.in_flight -= 1
                    self._flight.notify_all()

        def wait_idle(self, seconds):
            with self._flight:
                return self._flight.wait_for(lambda: self.in_flight == 0, seconds)

    return TrackedSandbox


def stored_keys(store):
    """Every key the runtime's file store holds."""
    for root, _, files in os.walk(store.directory):
        for name in files:
            if name.endswith(".json"):
                try:
                    with open(os.path.join(root, name), encoding="utf-8") as handle:
                        yield json.load(handle)["key"]
                except (OSError, ValueError, KeyError):
                    continue


def corrupt(store, ref_key, kind, rng):
    """Corrupt one key of the inspection whose refKey is ``ref_key``; the key, or None when there was none."""
    keys = sorted(k for k in stored_keys(store) if ref_key in k and ":spool:" not in k and not k.endswith(":lock"))
    alerts = [k for k in keys if k.endswith(":alerts")]
    if kind == "deleted":
        if not keys:
            return None
        key = rng.choice(keys)
        store.delete(key)
        return key
    holding = [k for k in alerts if _holds_alerts(store.get(k))]
    if not (holding or alerts):
        return None
    key = rng.choice(holding or alerts)
    if kind == "garbage":
        store.set(key, GARBAGE)
    else:
        store.set(key, json.dumps({"x": {"status": "burning", "since_ms": "yesterday"}}))
    return key


def _holds_alerts(text):
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return False
    return isinstance(value, dict) and bool(value)


def waiting_events(store):
    """Events in the outboxes of every inspection."""
    count = 0
    for key in stored_keys(store):
        if ":spool:" in key and key.endswith(":events"):
            try:
                value = json.loads(store.get(key) or "[]")
            except ValueError:
                continue
            count += len(value) if isinstance(value, list) else 0
    return count


def run_pass(data, runs, faults=None, seed=0, label=None):
    """Run the day once; a dict with what the pass delivered and how its runs went (progress on standard
    error, prefixed with ``label``, when one is given)."""
    started = time.monotonic()
    with _Rig(data, runs, faults, seed) as rig:
        for index, run in enumerate(runs):
            rig.make(index, run)
            if label and index % 50 == 0:
                print("%s: run %d/%d at %s (%.0f s)" % (label, index + 1, len(runs), _iso(rig.records[-1]["start_ms"]),
                                                       time.monotonic() - started), file=sys.stderr)
        outcome = rig.outcome()
    outcome["wall_s"] = round(time.monotonic() - started, 1)
    return outcome


class _Rig(object):
    """One pass's sandbox, local Func runtime with both startup scripts, state directory and clock."""

    def __init__(self, data, runs, faults, seed):
        from guance_monitor import clock
        from guance_monitor_local import demo
        from guance_monitor_local import scenario as scenarios

        self.clock = clock
        self.runs = runs
        self.faulted = faults is not None
        self.scenario = scenarios.from_dict(dict(data, runs=[_iso(run.tick_ms) for run in runs],
                                                 sandbox={"faults": faults or [], "fault_seed": seed}))
        self.specs = faults or []
        self.rng = random.Random(seed)
        self.records, self.corruptions, self.lines = [], [], []
        self.timeline = runs[0].tick_ms
        self.funcs = dict((check, demo.startup_func(check)) for check in CHECKS)
        self.box = self.runtime = self.accelerated = self.state_dir = None

    def __enter__(self):
        from guance_monitor_local import demo
        try:
            self.state_dir = tempfile.mkdtemp(prefix="bench-faults-")
            self.accelerated = self.clock.Accelerated().install()
            self.box = tracked_sandbox_class()(self.scenario).start()
            self.runtime = demo.deployed_runtime(list(CHECKS), demo.sandbox_values(self.box), self.state_dir,
                                                 echo=lambda line: _keep(self.lines, line))
            self.runtime.store = watched_store_class()(self.runtime.store.directory)
        except BaseException:
            self.__exit__()
            raise
        self.planted = list(zip(self.specs, self.box.faults.faults))
        self.refs = dict((check, self.runtime.sign(self.funcs[check])) for check in CHECKS)
        self.timeouts = dict((check, _api_option(self.runtime, self.funcs[check], "timeout")) for check in CHECKS)
        return self

    def __exit__(self, *exc):
        if self.box is not None:
            self.box.stop()
        if self.accelerated is not None:
            self.accelerated.uninstall()
        if self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        return False

    def make(self, index, run):
        """One scheduled run: corrupt first if planned, then run (with an overlapping run if planned)."""
        if run.drain and self.box.faults.faults:
            self.box.faults.clear()
        start_ms = max(run.tick_ms, self.timeline)
        if self.faulted and run.corruption:
            self.corrupt(index, run)
        self.box.run_index = index
        self.box.set_now(start_ms)
        self.runtime.store.current = (index, start_ms)
        func = self.funcs[run.check]
        with self.clock.frozen(start_ms):
            began = self.clock.monotonic()
            if self.faulted and run.overlap:
                result, second = _overlapping(self.runtime, func, _lock_key(self.refs[run.check]))
            else:
                result, second = self.runtime.run(func), None
            seconds = self.clock.monotonic() - began
            self.timeline = self.clock.now_ms()
        self.box.wait_idle(IDLE_WAIT_S)
        self.records.append({"index": index, "check": run.check, "tick_ms": run.tick_ms, "start_ms": start_ms,
                             "drain": run.drain, "seconds": round(seconds, 3), "timeout": self.timeouts[run.check],
                             "error": _error_line(result.error), "overlap": _overlap_outcome(second)})

    def corrupt(self, index, run):
        key = corrupt(self.runtime.store, self.refs[run.check], run.corruption, self.rng)
        if key is not None:
            self.corruptions.append({"run": index, "check": run.check, "kind": run.corruption, "key": key})

    def outcome(self):
        hits = {}
        for spec, fault in self.planted:
            hits[spec["note"]] = hits.get(spec["note"], 0) + fault.hits
        return {"events": [_event_record(e, self.runtime.store.detected) for e in list(self.box.events)],
                "runs": self.records, "guance_calls": [dict(c) for c in self.box.calls if c["service"] == "guance"],
                "fault_hits": hits, "corruptions": self.corruptions, "waiting": waiting_events(self.runtime.store),
                "log_tail": list(self.lines)}


def _keep(lines, line, limit=400):
    lines.append(line)
    if len(lines) > limit:
        del lines[:len(lines) - limit]


def _api_option(runtime, func_id, name):
    script_id, _, func_name = func_id.partition(".")
    api_funcs, _ = runtime.load(script_id)
    for entry in api_funcs:
        if entry["name"] == func_name:
            return entry["extraConfig"].get(name)
    raise SystemExit("%s has no DFF.API %s" % (func_id, name))


def _lock_key(ref_key):
    """The file store key of an inspection's run lock (``DFF.CACHE`` scope of the core, Runner's namespace)."""
    from guance_monitor import host as hosts
    return "funcCache:%s:runner:%s:lock" % (hosts.STATE_SCOPE, ref_key)


def _overlapping(runtime, func_id, lock_key):
    """Run ``func_id`` in a thread and, once it holds its lock, again in this thread; (first, second) results."""
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(result=runtime.run(func_id)), name="overlapped-run")
    thread.start()
    waited = time.monotonic() + 10
    while thread.is_alive() and runtime.store.get(lock_key) is None and time.monotonic() < waited:
        time.sleep(0.001)
    held = runtime.store.get(lock_key) is not None
    second = runtime.run(func_id, origin="manual")
    thread.join()
    return outcome["result"], (second, held)


def _overlap_outcome(second):
    """None without a second run; else whether it met the first one's lock (a first run that ended, or never
    took its lock, before the second began is no overlap) and whether it skipped."""
    if second is None:
        return None
    second, held = second
    return {"met": held, "skipped": any("is in progress" in line for line in second.log),
            "error": _error_line(second.error)}


def _error_line(error):
    if error is None:
        return None
    return "%s: %s" % (type(error).__name__, (str(error).strip().splitlines() or [""])[0][:300])


def _event_record(event, detected):
    run, start_ms = detected.get(event.get("df_event_id"), (event.get("run"), event.get("received_ms")))
    return {"check": event.get("check"), "dims": json.dumps(event.get("dimension_tags") or {}, sort_keys=True),
            "status": event["status"], "title": event["title"], "df_event_id": event.get("df_event_id"),
            "run": run, "detected_ms": start_ms}


# -- the figures ---------------------------------------------------------------------------------------

def align(expected, got):
    """(i, j) pairs of an order-preserving matching of equal items with the most pairs (longest common subsequence)."""
    n, m = len(expected), len(got)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            table[i][j] = table[i + 1][j + 1] + 1 if expected[i] == got[j] else max(table[i + 1][j], table[i][j + 1])
    pairs, i, j = [], 0, 0
    while i < n and j < m:
        if expected[i] == got[j]:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def by_dimension(events):
    out = {}
    for event in events:
        out.setdefault((event["check"], event["dims"]), []).append(event)
    return out


DELIVERY_FIGURES = ("alerts_expected", "alerts_delivered", "alerts_lost", "alerts_duplicated", "false_ok",
                    "repeated_after_corruption", "lost_after_corruption", "corruption_effects_unannounced",
                    "extra_events", "extra_transitions")


def compare(baseline, faulted, corruptions, baseline_runs, truth):
    """The delivery figures of the faulted pass against the baseline (see the module docstring)."""
    figures = dict((name, 0) for name in DELIVERY_FIGURES)
    figures["alerts_expected"] = len(baseline)
    details = {"lost": [], "duplicated": [], "false_ok": [], "unannounced": [], "after_corruption": [], "extra": {}}
    unique = _stored_once(faulted, figures, details)
    state_hits = _StateHits([c for c in corruptions if c["key"].endswith(":alerts")], unique)
    expected = by_dimension(baseline)
    delivered = by_dimension(unique)
    for key in sorted(set(expected) | set(delivered)):
        wanted, got = expected.get(key), delivered.get(key, [])
        if wanted is None:
            figures["extra_events"] += len(got)
            label = _extra_label(key)
            details["extra"][label] = details["extra"].get(label, 0) + len(got)
            continue
        pairs = align([e["status"] for e in wanted], [e["status"] for e in got])
        figures["alerts_delivered"] += len(pairs)
        _count_lost(wanted, got, pairs, state_hits, figures, details)
        matched = set(j for _, j in pairs)
        for j, event in enumerate(got):
            if j not in matched:
                _count_unmatched(event, got[j - 1] if j else None, state_hits, figures, details)
            if event["status"] == "ok" and _still_held(truth, key, wanted, event, baseline_runs.get(key[0]) or []):
                figures["false_ok"] += 1
                details["false_ok"].append(event)
    return figures, details


def _stored_once(events, figures, details):
    """The events with each ``df_event_id`` once; the second copies count as duplicates."""
    seen, unique = set(), []
    for event in events:
        if event["df_event_id"] in seen:
            figures["alerts_duplicated"] += 1
            details["duplicated"].append(event)
            continue
        seen.add(event["df_event_id"])
        unique.append(event)
    return unique


class _StateHits(object):
    """The injected corruptions of alert state, and whether the product announced them."""

    def __init__(self, corruptions, events):
        self.corruptions = corruptions
        self.warnings = [e for e in events if e["status"] != "ok" and
                         json.loads(e["dims"]).get(STATE_WARNING_TAG) == "state"]

    def between(self, check, after_run, upto_run):
        """Corruptions of ``check``'s alert state before runs ``after_run`` < run <= ``upto_run``."""
        return [c for c in self.corruptions if c["check"] == check and after_run < c["run"] <= upto_run]

    def announced(self, check, hits, upto_run):
        first = min(c["run"] for c in hits)
        return any(w["check"] == check and first <= w["run"] <= upto_run for w in self.warnings)


def _count_lost(wanted, got, pairs, state_hits, figures, details):
    """Baseline events never delivered: lost, or lost after a corruption of the alert state (no ok can follow
    an alert whose state was destroyed) when one came after the last event delivered before them and no later
    than the baseline's run for them."""
    matched = dict(pairs)
    for i, event in enumerate(wanted):
        if i in matched:
            continue
        before = [got[matched[k]]["run"] for k in range(i) if k in matched]
        hits = state_hits.between(event["check"], before[-1] if before else -1, event["run"])
        if not hits:
            figures["alerts_lost"] += 1
            details["lost"].append(event)
        else:
            _after_corruption("lost_after_corruption", event, hits, state_hits, float("inf"), figures, details)


def _count_unmatched(event, previous, state_hits, figures, details):
    """A faulted-pass event the baseline has no counterpart for: a new transition, a repeat after a corruption
    of the alert state (announced or not), or a duplicate."""
    if previous is None or previous["status"] != event["status"]:
        figures["extra_transitions"] += 1
        return
    hits = state_hits.between(event["check"], previous["run"], event["run"])
    if not hits:
        figures["alerts_duplicated"] += 1
        details["duplicated"].append(event)
    else:
        _after_corruption("repeated_after_corruption", event, hits, state_hits, event["run"], figures, details)


def _after_corruption(figure, event, hits, state_hits, upto_run, figures, details):
    """Count an effect of a corruption of the alert state, and whether a state warning announced it."""
    figures[figure] += 1
    details["after_corruption"].append(dict(event, corruption=_named(hits)))
    if not state_hits.announced(event["check"], hits, upto_run):
        figures["corruption_effects_unannounced"] += 1
        details["unannounced"].append(dict(event, corruption=_named(hits)))


def _named(corruptions):
    return ", ".join("%s %s (run %d)" % (c["kind"], c["key"].split(":", 2)[-1], c["run"]) for c in corruptions)


def _still_held(truth, key, wanted, event, runs):
    """Whether the condition still held when the ``ok`` was detected: by the day's truth when it knows the
    dimension, else by the baseline at its first run at or after that time."""
    if truth.knows(*key):
        return truth.holds(key[0], key[1], event["detected_ms"])
    later = [r for r in runs if r["start_ms"] >= event["detected_ms"]]
    if not later:
        return False
    upto = later[0]["index"]
    status = None
    for one in wanted:
        if one["run"] is not None and one["run"] <= upto:
            status = one["status"]
    return status is not None and status != "ok"


def _extra_label(key):
    check, dims = key
    tags = json.loads(dims)
    what = tags.get("problem") or tags.get("issue") or ",".join(sorted(tags))
    return "%s %s" % (check, what)


def run_figures(records, calls):
    """Longest run against the timeout, overruns, Guance requests per run, the busiest minute."""
    longest, requests = {}, {}
    per_run = {}
    for call in calls:
        per_run[call["run"]] = per_run.get(call["run"], 0) + 1
    for check in CHECKS:
        mine = [r for r in records if r["check"] == check]
        if not mine:
            continue
        top = max(mine, key=lambda r: r["seconds"])
        longest[check] = {"seconds": round(top["seconds"], 1), "timeout": top["timeout"],
                          "share": round(top["seconds"] / float(top["timeout"]), 3), "at": _iso(top["start_ms"])}
        counts = [per_run.get(r["index"], 0) for r in mine]
        requests[check] = {"mean": round(sum(counts) / float(len(counts)), 2), "max": max(counts)}
    times = sorted(c["at_ms"] for c in calls)
    busiest, low = 0, 0
    for high, at in enumerate(times):
        while at - times[low] >= MINUTE_MS:
            low += 1
        busiest = max(busiest, high - low + 1)
    return {"longest_run": longest, "overruns": sum(1 for r in records if r["seconds"] > r["timeout"]),
            "guance_requests_per_run": requests, "busiest_minute": busiest}


def incidents_detected(truth, baseline):
    found = 0
    for incident in truth.incidents:
        if any(e["check"] == incident["check"] and e["dims"] == incident["dims"] and e["status"] != "ok"
               for e in baseline):
            found += 1
    return found


# -- the benchmark -------------------------------------------------------------------------------------

def measure(hours=DEFAULTS["hours"], seed=DEFAULTS["seed"], fault_rate=DEFAULTS["fault_rate"],
            timeouts=DEFAULTS["timeouts"], corruptions=DEFAULTS["corruptions"], overlaps=DEFAULTS["overlaps"],
            parallel=False, verbose=False):
    """Both passes (``parallel``: at once, one process each); (figures, details) — details hold the events
    behind the figures, for the text report. ``verbose``: progress on standard error."""
    from guance_monitor_local import demo
    from guance_monitor_local import func_runtime

    progress = (lambda text: print(text, file=sys.stderr)) if verbose else (lambda text: None)
    os.environ.setdefault("GUANCE_MONITOR_FUNC_SECRET", "bench-faults-func-secret")
    os.environ.setdefault("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    began = time.monotonic()
    data, day, truth = generate(hours, seed)
    probe = func_runtime.FuncRuntime(library=func_runtime.OverlayLibrary(
        func_runtime.PackageLibrary(), demo.startup_scripts(list(CHECKS), _placeholder_values())), echo=None)
    crons = dict((check, _api_option(probe, demo.startup_func(check), "fixedCrontab")) for check in CHECKS)
    runs = schedule(crons, day)
    rng = random.Random(seed)
    plan_disturbances(runs, corruptions, overlaps, rng)
    faults = fault_specs(fault_rate, timeouts, runs, rng, read_timeouts())
    progress("%d runs over %g hours, twice: a baseline pass and a faulted pass (fault rate %g, seed %d)%s ..." % (
        len(runs), hours, fault_rate, seed, "" if parallel else ", one after the other"))
    labels = ("baseline", "faulted") if verbose else (None, None)
    passes = [(data, runs, None, seed, labels[0]), (data, runs, faults, seed, labels[1])]
    if parallel:
        context = multiprocessing.get_context("spawn")
        with futures.ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
            baseline, faulted = [job.result() for job in [pool.submit(run_pass, *one) for one in passes]]
    else:
        baseline, faulted = [run_pass(*one) for one in passes]

    figures, details = compare(baseline["events"], faulted["events"], faulted["corruptions"],
                               _runs_by_check(baseline["runs"]), truth)
    faulted_runs = run_figures(faulted["runs"], faulted["guance_calls"])
    baseline_runs = run_figures(baseline["runs"], baseline["guance_calls"])
    overlapped = [r["overlap"] for r in faulted["runs"] if r["overlap"] is not None]
    figures.update({
        "hours": hours, "seed": seed, "fault_rate": fault_rate, "timeouts": timeouts,
        "runs": dict((check, sum(1 for r in runs if r.check == check and not r.drain)) for check in CHECKS),
        "waiting_at_end": faulted["waiting"],
        "faults": dict((kind, faulted["fault_hits"].get(kind, 0)) for kind in FAULT_KINDS),
        "state_corruptions": dict((kind, sum(1 for c in faulted["corruptions"] if c["kind"] == kind))
                                  for kind in CORRUPTIONS),
        "overlaps_planned": len(overlapped), "overlapping_runs": sum(1 for o in overlapped if o["met"]),
        "overlaps_skipped": sum(1 for o in overlapped if o["met"] and o["skipped"]),
        "overlaps_waited": sum(1 for o in overlapped if o["met"] and not o["skipped"]),
        "failed_runs": sum(1 for r in faulted["runs"] if r["error"]),
        "incidents": len(truth.incidents), "incidents_detected": incidents_detected(truth, baseline["events"]),
        "wall_s": round(time.monotonic() - began, 1),
        "baseline": dict(baseline_runs, wall_s=baseline["wall_s"], waiting_at_end=baseline["waiting"],
                         failed_runs=sum(1 for r in baseline["runs"] if r["error"])),
    })
    figures.update(faulted_runs)
    figures["faulted_wall_s"] = faulted["wall_s"]
    details.update({"truth": truth.incidents, "corruptions": faulted["corruptions"],
                    "errors": [r for r in faulted["runs"] if r["error"]][:10],
                    "baseline_errors": [r for r in baseline["runs"] if r["error"]][:10],
                    "baseline_events": baseline["events"], "faulted_events": faulted["events"]})
    return figures, details


def _placeholder_values():
    return {"Guance API Key ID": "x", "Guance API Key": "x", "Guance Node": "http://127.0.0.1:9",
            "Aliyun AccessKey ID": "x", "Aliyun AccessKey Secret": "x", "Aliyun Endpoint": "http://127.0.0.1:9"}


def _runs_by_check(records):
    out = {}
    for record in records:
        out.setdefault(record["check"], []).append(record)
    return out


def format_table(figures):
    rows = [
        ("alerts expected (baseline)", figures["alerts_expected"], ""),
        ("alerts delivered", figures["alerts_delivered"], ""),
        ("alerts lost", figures["alerts_lost"], "goal 0"),
        ("alerts duplicated", figures["alerts_duplicated"], "goal 0"),
        ("false ok", figures["false_ok"], "goal 0"),
        ("repeated after a state corruption", figures["repeated_after_corruption"], "by design, announced"),
        ("lost after a state corruption", figures["lost_after_corruption"], "by design, announced"),
        ("of these, not announced", figures["corruption_effects_unannounced"], ""),
        ("extra events (the product's warnings)", figures["extra_events"], ""),
        ("extra transitions", figures["extra_transitions"], ""),
        ("events waiting at the end", figures["waiting_at_end"], ""),
    ]
    for check, longest in sorted(figures["longest_run"].items()):
        rows.append(("longest run, %s" % check, "%.1f s" % longest["seconds"],
                     "%.0f %% of its %d s timeout (%s)" % (100 * longest["share"], longest["timeout"], longest["at"])))
    rows.append(("runs over their timeout", figures["overruns"], ""))
    for check, requests in sorted(figures["guance_requests_per_run"].items()):
        rows.append(("Guance requests per run, %s" % check, "%.2f" % requests["mean"], "max %d" % requests["max"]))
    rows.append(("busiest minute on the key", figures["busiest_minute"], "limit 20"))
    rows.append(("faults injected", sum(figures["faults"].values()),
                 ", ".join("%s %d" % kv for kv in figures["faults"].items())))
    rows.append(("state corruptions", sum(figures["state_corruptions"].values()),
                 ", ".join("%s %d" % kv for kv in figures["state_corruptions"].items())))
    rows.append(("overlapping runs", figures["overlapping_runs"],
                 "%d skipped by the lock, %d ran after the first ended; %d second runs started" % (
                     figures["overlaps_skipped"], figures["overlaps_waited"], figures["overlaps_planned"])))
    rows.append(("failed runs (a checker failed)", figures["failed_runs"], ""))
    rows.append(("incidents in the day / seen by the baseline", "%d / %d" % (
        figures["incidents"], figures["incidents_detected"]), ""))
    rows.append(("wall time", "%.1f s" % figures["wall_s"], "baseline %.1f s, faulted %.1f s" % (
        figures["baseline"]["wall_s"], figures["faulted_wall_s"])))
    width = max(len(r[0]) for r in rows)
    return "\n".join(("%-*s  %-10s %s" % (width, label, value, note)).rstrip() for label, value, note in rows)


def format_details(details, limit=8):
    lines = []
    for name in ("lost", "duplicated", "false_ok", "after_corruption", "unannounced"):
        for event in details[name][:limit]:
            lines.append("%s: run %s %s [%s] %s %s" % (name, event["run"], _iso(event["detected_ms"] or 0),
                                                     event["status"], event["title"][:100],
                                                     event.get("corruption", "")))
    for label, count in sorted(details["extra"].items()):
        lines.append("extra: %d events on %s" % (count, label))
    for record in details["errors"][:limit]:
        lines.append("failed run %d (%s at %s): %s" % (record["index"], record["check"], _iso(record["start_ms"]),
                                                       record["error"]))
    for record in details["baseline_errors"][:limit]:
        lines.append("baseline run failed %d (%s): %s" % (record["index"], record["check"], record["error"]))
    return "\n".join(lines)


OPTIONS = (("--hours", float, "hours", "length of the day, at least 1"),
           ("--seed", int, "seed", "seed of the data and the faults"),
           ("--fault-rate", float, "fault_rate", "chance that a request is hit by a fault"),
           ("--timeouts", int, "timeouts", "answers later than the client's read timeout; each costs real seconds"),
           ("--corruptions", int, "corruptions", "state corruptions between runs"),
           ("--overlaps", int, "overlaps", "runs with a second run of the same inspection overlapping them"))


def main(argv=None):
    parser = argparse.ArgumentParser(description="A simulated day of both inspections with faults injected at random.")
    for flag, kind, name, text in OPTIONS:
        parser.add_argument(flag, type=kind, default=DEFAULTS[name], help="%s (default %s)" % (text, DEFAULTS[name]))
    parser.add_argument("--serial", action="store_true",
                        help="run the two passes one after the other (default: at once, one process each)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.hours < 1 or not 0 <= args.fault_rate <= 1 or min(args.timeouts, args.corruptions, args.overlaps) < 0:
        parser.error("--hours must be at least 1, --fault-rate within 0..1, the counts at least 0")
    figures, details = measure(args.hours, args.seed, args.fault_rate, args.timeouts, args.corruptions,
                               args.overlaps, parallel=not args.serial, verbose=not args.json)
    if args.json:
        print(json.dumps(figures, sort_keys=True))
        return 0
    print(format_table(figures))
    more = format_details(details)
    if more:
        print("\n" + more)
    return 0


if __name__ == "__main__":
    sys.exit(main())
