"""Benchmark of the spot survival inspection at fleet scale (not a timed test).

    python benchmarks/bench_spot_alive.py [--instances 10000] [--regions 8] [--json] [--warm] [--day]

Generates a scenario (by default 10,000 spot instances in 8 regions, 200 instance types, 50 of them
being recycled, 7 days of hourly prices in 3 zones per region), serves it from the sandbox in a
child process (Alibaba Cloud and Guance are not in the inspection's process in real life, and the
sandbox's own CPU would otherwise compete for this process's GIL), adds 20 ms to every Alibaba Cloud
call (sandbox faults ``{"service": "ecs", "latency_ms": 20}`` and the same for ``cms``), deploys the
spot startup script as the script market does and runs it once through the local Func runtime, with
the clock at the scenario's run time and an empty state (cold caches).

``--json`` prints exactly one JSON object: ``instances``, ``wall_s`` (the run, as Func would time it),
``aliyun_calls`` (per action, from ``sandbox.calls``), ``minimal_calls`` (Recycling listing pages and
CloudMonitor pages + one DescribeSpotPriceHistory chain per (region, type) involved, in pages of
1,000 points + DescribeSpotAdvice per region, 10 types per call + one DescribeAvailableResource per
region), ``dql_queries``, ``guance_requests`` (every Guance OpenAPI request of the run: registration,
DQL, events), ``peak_rss_mb`` (ru_maxrss of this process) and ``events``. ``--warm`` adds a second run
two minutes later (caches warm) and, with ``--json``, a ``warm`` object.

``--day`` then goes on with a day of cron runs (``*/2 * * * *``: 720 runs, or ``--day-runs N``) on the
injectable clock (``clock.Simulated``: wall and monotonic time move only by the cron schedule and what
the code sleeps), and adds a ``day`` object: ``runs``, ``guance_requests_per_run`` (``avg``, ``max``),
``busiest_minute`` (``requests``, ``at``: the most Guance requests in any 60 s of the simulated day),
``aliyun_calls_per_run`` (``avg``, ``max``), ``dql_queries``, ``events``, ``longest_run_s`` and
``wall_s``. The sandbox's clock lives in the child process and does not follow the simulated one, so
its rate limiting is switched off there (``sandbox.guance.rate_limit: false``); requests are counted
per minute on the simulated clock here, in the parent, where the inspection sends them.
Targets: 10,000 instances in under 10 s wall; Alibaba Cloud calls at most 1.2 x ``minimal_calls``;
on average at most 4 Guance requests per run over a day.
"""
import argparse
import json
import math
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

RUN_TIME = "2026-11-20T08:00:00Z"
WARM_TIME = "2026-11-20T08:02:00Z"
CRON_S = 120
DAY_RUNS = 24 * 3600 // CRON_S
GUANCE_PATH = "/api/v1/"
HOUR_MS = 3600 * 1000
REGIONS = ["cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-zhangjiakou", "cn-shenzhen", "cn-qingdao",
           "cn-chengdu", "cn-hongkong"]
FAMILIES = [("g7", 4), ("c7", 2), ("r7", 8), ("g6", 4), ("c6", 2), ("r6", 8), ("g8i", 4), ("c8i", 2), ("r8i", 8),
            ("g7a", 4), ("c7a", 2), ("r7a", 8), ("g8a", 4), ("c8a", 2), ("r8a", 8), ("g6e", 4), ("c6e", 2),
            ("r6e", 8), ("hfg7", 4), ("hfc7", 2), ("hfr7", 8), ("g8y", 4), ("c8y", 2), ("r8y", 8), ("u1", 4)]
SIZES = [("large", 2), ("xlarge", 4), ("2xlarge", 8), ("3xlarge", 12), ("4xlarge", 16), ("6xlarge", 24),
         ("8xlarge", 32), ("16xlarge", 64)]
ZONE_SUFFIXES = ("h", "i", "j")
PRICE_PAGE = 1000


def region_names(count):
    return [REGIONS[i] if i < len(REGIONS) else "cn-bench%d" % i for i in range(count)]


def instance_types(count=200):
    types = []
    for family, ratio in FAMILIES:
        for size, cpu in SIZES:
            types.append(("ecs.%s.%s" % (family, size), cpu, cpu * ratio))
    return types[:count]


def _unit(*keys):
    """A deterministic number in [0, 1) from the keys."""
    value = 0
    for key in keys:
        for ch in str(key):
            value = (value * 131 + ord(ch)) % 1000003
    return (value * 7919 % 1000003) / 1000003.0


def generate(instances=10000, regions=8, types=200, types_per_region=25, recycling=50, history_days=7,
             latency_ms=20, day=False):
    """The benchmark scenario (a dict in the scenario format) and its figures."""
    from guance_monitor import clock
    now = clock.to_ms(clock.parse_time(RUN_TIME))
    names = region_names(regions)
    catalogue = instance_types(types)
    per_region = min(types_per_region, len(catalogue))
    region_types = {}
    for index, region in enumerate(names):
        start = (index * len(catalogue) // max(1, len(names))) % len(catalogue)
        region_types[region] = [catalogue[(start + j) % len(catalogue)] for j in range(per_region)]
    aliyun = dict((r, {"instances": [], "spot_price_history": [], "spot_advice": [], "available_resource": [],
                       "system_events": [], "_zones": ["%s-%s" % (r, z) for z in ZONE_SUFFIXES]}) for r in names)
    points = []
    # spread over regions and types: every (instances / recycling)-th instance, shifted by one each time
    chosen = set((i * instances // max(1, recycling) + i) % instances for i in range(min(recycling, instances)))
    recycled = 0
    used_pairs = set()
    for k in range(instances):
        region = names[k % len(names)]
        instance_type, cpu, memory = region_types[region][(k // len(names)) % per_region]
        zone = "%s-%s" % (region, ZONE_SUFFIXES[(k // (len(names) * per_region)) % len(ZONE_SUFFIXES)])
        origin = round(cpu * (0.09 + 0.012 * memory / cpu), 4)
        share = 0.12 + 0.2 * _unit(region, instance_type, zone)
        strategy = "SpotWithPriceLimit" if _unit(k, "s") < 0.6 else "SpotAsPriceGo"
        limit = 0.0
        if strategy == "SpotWithPriceLimit":
            pick = _unit(k, "limit")
            factor = 0.9 if pick < 0.04 else (1.05 if pick < 0.08 else 1.6)
            limit = round(origin * share * factor * 1.06, 3)
        instance_id = "i-bench%06d" % k
        locks = []
        api = {"InstanceId": instance_id, "InstanceName": "node-%06d" % k, "HostName": "node-%06d" % k,
               "RegionId": region, "ZoneId": zone, "InstanceType": instance_type,
               "InstanceTypeFamily": ".".join(instance_type.split(".")[:2]), "Cpu": cpu, "Memory": memory * 1024,
               "Status": "Running", "InstanceChargeType": "PostPaid", "SpotStrategy": strategy,
               "SpotPriceLimit": limit, "SpotDuration": 1, "SpotInterruptionBehavior": "Terminate",
               "OSType": "linux", "CreationTime": "2026-11-1%dT0%d:00Z" % (k % 9, k % 10),
               "OperationLocks": {"LockReason": locks},
               "VpcAttributes": {"VpcId": "vpc-bench", "PrivateIpAddress": {"IpAddress": ["10.%d.%d.%d" % (
                   k % 200, (k // 200) % 250, k % 250)]}},
               "Tags": {"Tag": [{"TagKey": "ack.aliyun.com", "TagValue": "c-bench"}]} if k % 3 == 0 else {"Tag": []}}
        if k in chosen:
            recycled += 1
            locks.append({"LockReason": "Recycling", "LockMsg": "spot instance being reclaimed"})
            if recycled % 2:
                aliyun[region]["system_events"].append({
                    "Id": "evt-%d" % k, "Product": "ECS", "Name": "Instance:PreemptibleInstanceInterruption",
                    "Level": "WARN", "Status": "Normal", "Time": now - 90 * 1000, "GroupId": "0", "RegionId": region,
                    "ResourceId": "acs:ecs:%s:1:instance/%s" % (region, instance_id),
                    "InstanceName": api["InstanceName"],
                    "_event_type": "StatusNotification",
                    "Content": json.dumps({"instanceId": instance_id, "action": "delete"})})
        listed = dict(api)
        if locks:
            listed["_visible_until"] = clock.iso(clock.from_ms(now + 4 * 60 * 1000))
        aliyun[region]["instances"].append(listed)
        used_pairs.add((region, instance_type))
        points.append({"measurement": "aliyun_ecs", "time": now - 60 * 1000,
                       "tags": {"name": instance_id, "InstanceId": instance_id, "RegionId": region, "ZoneId": zone,
                                "InstanceType": instance_type, "Status": "Running", "InstanceChargeType": "PostPaid"},
                       "fields": {"OperationLocks": json.dumps([{"LockReason": l["LockReason"],
                                                                 "LockMsg": l["LockMsg"]} for l in locks]),
                                  "message": json.dumps(api), "CreationTime": api["CreationTime"]}})
    hours = history_days * 24 + 2
    pages = {}
    for region in names:
        zones = aliyun[region]["_zones"]
        advice_zones = dict((z, []) for z in zones)
        stock_zones = dict((z, []) for z in zones)
        for instance_type, cpu, memory in region_types[region]:
            origin = round(cpu * (0.09 + 0.012 * memory / cpu), 4)
            in_window = 0
            for zone in zones:
                share = 0.12 + 0.2 * _unit(region, instance_type, zone)
                for h in range(hours):
                    at = now - (hours - h) * HOUR_MS
                    price = origin * share * (1 + 0.04 * math.sin(h / 5.0 + len(zone)))
                    aliyun[region]["spot_price_history"].append({
                        "ZoneId": zone, "InstanceType": instance_type, "NetworkType": "vpc",
                        "IoOptimized": "optimized", "SpotPrice": round(price, 4), "OriginPrice": origin,
                        "Timestamp": clock.iso(clock.from_ms(at))})
                    if at >= now - 60 * 1000 - history_days * 24 * HOUR_MS:
                        in_window += 1
                rate = 0.5 + 12 * _unit(zone, instance_type, "rate") ** 20
                desc = "0-3%" if rate < 3 else ("3-5%" if rate < 5 else ("5-10%" if rate < 10 else "10-100%"))
                advice_zones[zone].append({"InstanceType": instance_type, "AverageSpotDiscount": int(share * 100),
                                           "InterruptionRate": round(rate, 1), "InterruptRateDesc": desc,
                                           "_cores": cpu, "_memory": memory})
                sold_out = _unit(zone, instance_type, "stock") < 0.02
                stock_zones[zone].append({"Value": instance_type, "Status": "SoldOut" if sold_out else "Available",
                                          "StatusCategory": "WithoutStock" if sold_out else "WithStock"})
            pages[(region, instance_type)] = max(1, int(math.ceil(in_window / float(PRICE_PAGE))))
        aliyun[region]["spot_advice"] = [{"ZoneId": z, "AvailableSpotResources": {"AvailableSpotResource": r}}
                                         for z, r in sorted(advice_zones.items())]
        aliyun[region]["available_resource"] = [
            {"ZoneId": z, "Status": "Available", "StatusCategory": "WithStock",
             "AvailableResources": {"AvailableResource": [{"Type": "InstanceType",
                                                            "SupportedResources": {"SupportedResource": s}}]}}
            for z, s in sorted(stock_zones.items())]
    events = sum(len(r["system_events"]) for r in aliyun.values())
    minimal = {
        "listing_pages": sum(max(1, int(math.ceil(sum(1 for i in aliyun[r]["instances"]
                                                      if i["OperationLocks"]["LockReason"]) / 100.0)))
                             for r in names if any(p[0] == r for p in used_pairs)),
        "cms_pages": max(1, int(math.ceil(events / 100.0))),
        "price_pages": sum(pages[p] for p in used_pairs),
        "advice": sum(int(math.ceil(len(set(t for rr, t in used_pairs if rr == r)) / 10.0)) for r in names),
        "stock": len(set(r for r, _ in used_pairs)),
    }
    data = {"name": "bench spot-alive: %d instances" % instances, "runs": [RUN_TIME, WARM_TIME],
            "guance": {"points": {"custom_object": points}}, "aliyun": aliyun,
            "sandbox": {"faults": [{"service": "ecs", "latency_ms": latency_ms},
                                   {"service": "cms", "latency_ms": latency_ms}]}}
    if day:
        data["sandbox"]["guance"] = {"rate_limit": False}    # its clock does not follow the simulated day
    figures = {"instances": instances, "pairs": len(used_pairs), "recycling": recycled,
               "minimal": minimal, "minimal_calls": sum(minimal.values())}
    return data, figures


# -- the sandbox in a child process --------------------------------------------------------------

def _serve(conn, options):
    from guance_monitor_local import demo
    from guance_monitor_local import scenario as scenarios
    from guance_monitor_local.sandbox import Sandbox
    data, figures = generate(**options)
    scenario = scenarios.from_dict(data)
    box = Sandbox(scenario).start()
    conn.send({"values": demo.sandbox_values(box), "figures": figures})
    while True:
        command, argument = conn.recv()
        if command == "run":
            box.set_run(argument)
            cpu = _cpu()
            conn.send(True)
        elif command == "at":
            box.run_index, _ = argument
            box.set_now(argument[1])
            cpu = _cpu()
            conn.send(True)
        elif command == "report":
            conn.send({"sandbox_cpu_s": round(_cpu() - cpu, 2),
                       "calls": [dict(c) for c in box.calls if c["run"] == argument],
                       "events": [{"status": e["status"], "title": e["title"]} for e in box.events
                                  if e.get("run") == argument]})
        else:
            box.stop()
            conn.send(True)
            return


def _cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(instances, regions, warm=False, progress=None, latency_ms=20, types_per_region=25, day_runs=0):
    from guance_monitor import clock
    from guance_monitor_local import demo

    progress = progress or (lambda text: None)
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    server = context.Process(target=_serve, args=(child, {"instances": instances, "regions": regions,
                                                                    "latency_ms": latency_ms, "day": day_runs > 0,
                                                                    "types_per_region": types_per_region}), daemon=True)
    progress("generating %d instances in %d regions and starting the sandbox ..." % (instances, regions))
    server.start()
    hello = parent.recv()
    values, figures = hello["values"], hello["figures"]
    state = tempfile.mkdtemp(prefix="bench-spot-")
    os.environ["GUANCE_MONITOR_STATE_DIR"] = os.path.join(state, "home")
    os.environ.setdefault("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
    results = []
    try:
        log = []
        runtime = _runtime(values, state, log.append, day_runs > 0)
        for index, when in enumerate([RUN_TIME, WARM_TIME][:2 if warm else 1]):
            parent.send(("run", index))
            parent.recv()
            progress("run %d at %s ..." % (index + 1, when))
            with clock.frozen(when):
                started, cpu = time.monotonic(), _cpu()
                result = runtime.run(demo.startup_func("spot-alive"))
                wall, cpu = time.monotonic() - started, _cpu() - cpu
            if not result.ok:
                raise SystemExit("the inspection failed: %s" % result.error)
            parent.send(("report", index))
            report = parent.recv()
            calls = report["calls"]
            aliyun = {}
            for call in calls:
                if call["service"] in ("ecs", "cms"):
                    aliyun[call["action"]] = aliyun.get(call["action"], 0) + 1
            results.append({
                "instances": figures["instances"],
                "wall_s": round(wall, 3),
                "aliyun_calls": dict(sorted(aliyun.items())),
                "minimal_calls": figures["minimal_calls"],
                "dql_queries": sum(1 for c in calls if c["action"] == "/api/v1/df/query_data_v1"),
                "guance_requests": sum(1 for c in calls if c["service"] == "guance"),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
                "events": len(report["events"]),
                "_statuses": _count(e["status"] for e in report["events"]),
                "_minimal": figures["minimal"], "_pairs": figures["pairs"], "_recycling": figures["recycling"],
                "_log": [line for line in log if "spot-alive:" in line and "seconds" in line][-1:],
                "_cpu_s": round(cpu, 2), "_sandbox_cpu_s": report["sandbox_cpu_s"],
            })
            del log[:]
        if day_runs:
            results.append(_day(runtime, parent, day_runs, len(results), progress))
    finally:
        parent.send(("stop", None))
        parent.recv()
        server.join(10)
        shutil.rmtree(state, ignore_errors=True)
    return results


def _runtime(values, state, echo, day):
    """The spot startup script deployed as the market does; for a day, objects stay visible all day.

    The generated ``CO::aliyun_ecs`` objects carry one time (the first run's); over a simulated day
    the integration would write them again every collection, so the day's account reads them over
    ``object_window: 25h`` instead of generating 10,000 objects per collection.
    """
    from guance_monitor_local import demo
    from guance_monitor_local import func_runtime
    base = func_runtime.PackageLibrary()
    scripts = demo.startup_scripts(["spot-alive"], values, base)
    if day:
        scripts = dict((sid, (source.replace('    "aliyun_endpoint": ', '    "object_window": "25h",\n'
                                                                        '    "aliyun_endpoint": ', 1), name))
                       for sid, (source, name) in scripts.items())
    return func_runtime.FuncRuntime(library=func_runtime.OverlayLibrary(base, scripts), state_dir=state, echo=echo)


def _day(runtime, parent, runs, first_index, progress):
    """A day of cron runs on the simulated clock, after the runs above: Guance requests per run and per minute."""
    import requests
    from guance_monitor import clock
    from guance_monitor_local import demo

    sent = []                                   # simulated epoch ms of every Guance request
    original = requests.Session.request

    def counted(session, method, url, *args, **kwargs):
        if GUANCE_PATH in url:
            sent.append(clock.now_ms())
        return original(session, method, url, *args, **kwargs)

    start = clock.to_ms(clock.parse_time(RUN_TIME))
    simulated = clock.Simulated(RUN_TIME).install()
    requests.Session.request = counted
    per_run, aliyun_per_run, longest, dql, events = [], [], 0.0, 0, 0
    started = time.monotonic()
    try:
        for n in range(runs):
            index = first_index + n
            when = start + (first_index + n) * CRON_S * 1000
            simulated.set(clock.from_ms(when))
            parent.send(("at", (index, clock.iso(clock.from_ms(when)))))
            parent.recv()
            if n % 60 == 0:
                progress("day: run %d/%d at %s ..." % (n + 1, runs, clock.iso(clock.from_ms(when))))
            began = time.monotonic()
            result = runtime.run(demo.startup_func("spot-alive"))
            longest = max(longest, time.monotonic() - began)
            if not result.ok:
                raise SystemExit("run %d of the day failed: %s" % (n + 1, result.error))
            parent.send(("report", index))
            report = parent.recv()
            per_run.append(sum(1 for c in report["calls"] if c["service"] == "guance"))
            aliyun_per_run.append(sum(1 for c in report["calls"] if c["service"] in ("ecs", "cms")))
            dql += sum(1 for c in report["calls"] if c["action"] == "/api/v1/df/query_data_v1")
            events += len(report["events"])
    finally:
        requests.Session.request = original
        clock.Simulated.uninstall()
    busiest, at = 0, None
    sent.sort()
    low = 0
    for high, moment in enumerate(sent):
        while moment - sent[low] >= 60 * 1000:
            low += 1
        if high - low + 1 > busiest:
            busiest, at = high - low + 1, sent[low]
    return {"runs": runs, "guance_requests_per_run": {"avg": round(sum(per_run) / float(runs), 2), "max": max(per_run)},
            "busiest_minute": {"requests": busiest, "at": clock.iso(clock.from_ms(at)) if at is not None else None},
            "aliyun_calls_per_run": {"avg": round(sum(aliyun_per_run) / float(runs), 1), "max": max(aliyun_per_run)},
            "dql_queries": dql, "events": events, "longest_run_s": round(longest, 2),
            "wall_s": round(time.monotonic() - started, 1)}


def _count(items):
    out = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def public(result):
    return dict((k, v) for k, v in result.items() if not k.startswith("_"))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Benchmark the spot survival inspection at fleet scale.")
    parser.add_argument("--instances", type=int, default=10000, help="spot instances (default 10000)")
    parser.add_argument("--regions", type=int, default=8, help="regions (default 8)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--warm", action="store_true", help="also run again two minutes later (warm caches)")
    parser.add_argument("--latency-ms", type=float, default=20, help="added to every Alibaba Cloud call (default 20)")
    parser.add_argument("--types-per-region", type=int, default=25,
                        help="instance types used in each region, out of the 200 (default 25: each region its own 25)")
    parser.add_argument("--day", action="store_true",
                        help="then run a day of cron runs (*/2) on the simulated clock: Guance requests per run and "
                             "per minute")
    parser.add_argument("--day-runs", type=int, default=DAY_RUNS,
                        help="runs of the --day (default %d: 24 hours every 2 minutes)" % DAY_RUNS)
    args = parser.parse_args(argv)
    if args.instances < 1 or args.regions < 1:
        parser.error("--instances and --regions must be at least 1")
    if args.day_runs < 1:
        parser.error("--day-runs must be at least 1")
    progress = (lambda text: None) if args.json else (lambda text: print(text, file=sys.stderr))
    results = measure(args.instances, args.regions, warm=args.warm, progress=progress, latency_ms=args.latency_ms,
                      types_per_region=args.types_per_region, day_runs=args.day_runs if args.day else 0)
    day = results.pop() if args.day else None
    cold = results[0]
    if args.json:
        out = public(cold)
        if args.warm:
            out["warm"] = public(results[1])
        if day is not None:
            out["day"] = day
        print(json.dumps(out, sort_keys=True))
        return 0
    if day is not None:
        print("spot-alive, a day of cron runs: %d runs at %d instances" % (day["runs"], cold["instances"]))
        print("  Guance requests  %.2f per run on average (target <= 4), at most %d in a run; busiest minute %d "
              "(%s)" % (day["guance_requests_per_run"]["avg"], day["guance_requests_per_run"]["max"],
                        day["busiest_minute"]["requests"], day["busiest_minute"]["at"]))
        print("  Alibaba Cloud    %.1f calls per run on average, at most %d; DQL queries %d; events %d" % (
            day["aliyun_calls_per_run"]["avg"], day["aliyun_calls_per_run"]["max"], day["dql_queries"], day["events"]))
        print("  longest run      %.2f s; the day took %.0f s" % (day["longest_run_s"], day["wall_s"]))
    for label, result in zip(("cold caches", "warm caches"), results):
        total = sum(result["aliyun_calls"].values())
        print("spot-alive, %s: %d instances, %d (region, type) pairs, %d being recycled" % (
            label, result["instances"], result["_pairs"], result["_recycling"]))
        print("  wall time        %.2f s   (target < 10 s); CPU: inspection %.2f s, sandbox process %.2f s" % (
            result["wall_s"], result["_cpu_s"], result["_sandbox_cpu_s"]))
        print("  Alibaba Cloud    %d calls, minimal %d (%s) -> ratio %.2f (target <= 1.2)" % (
            total, result["minimal_calls"], ", ".join("%s %d" % kv for kv in sorted(result["_minimal"].items())),
            total / float(result["minimal_calls"])))
        for action, count in sorted(result["aliyun_calls"].items()):
            print("    %-30s %d" % (action, count))
        print("  DQL queries      %d; Guance requests %d" % (result["dql_queries"], result["guance_requests"]))
        print("  events           %d %s" % (result["events"], result["_statuses"]))
        print("  peak RSS         %.1f MB" % result["peak_rss_mb"])
        for line in result["_log"]:
            print("  task log         %s" % line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
