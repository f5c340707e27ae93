"""Spot instances as plain dicts, from either source: pure functions, no I/O.

Both the Guance Aliyun-ECS integration (``CO::aliyun_ecs`` rows: tags, the ``OperationLocks``
JSON field and the ``message`` field holding the DescribeInstances JSON) and ECS
``DescribeInstances`` (PascalCase objects) become the same dict, which is also what the
startup script's filter functions receive::

    {"instance_id", "instance_name", "host_name", "region_id", "zone_id", "instance_type",
     "instance_type_family", "cpu" (vCPUs), "memory_gib", "status", "charge_type",
     "spot_strategy", "spot_price_limit" (per hour, None when not set),
     "spot_duration" (hours of protection), "interruption_behavior", "creation_time" (ISO text),
     "os_type" ("linux" / "windows"), "tags" {key: value}, "private_ips" [..],
     "locks" [{"reason", "message"}] (None = unknown), "source" ("guance" / "describe_instances"),
     "notes" [text]}   # what was wrong with this instance's data

A data problem (malformed ``OperationLocks``, no ``message``) becomes a note, never an exception.
"""
import json

NOT_SPOT = "NoSpot"
SPOT_STRATEGIES = ("SpotWithPriceLimit", "SpotAsPriceGo")
RECYCLING = "Recycling"


def number(value):
    """A number from API or object data (text included), or None (also for NaN and booleans)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if result == result else None


def _int(value):
    parsed = number(value)
    return int(parsed) if parsed is not None else None


def parse_tags(value):
    """``{"Tag": [{"TagKey", "TagValue"}]}``, a bare list, or a dict -> {key: value}."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    if isinstance(value, dict) and "Tag" in value:
        value = value.get("Tag")
    if isinstance(value, dict):
        return dict((str(k), "" if v is None else str(v)) for k, v in value.items())
    out = {}
    for tag in value if isinstance(value, list) else []:
        if isinstance(tag, dict):
            key = tag.get("TagKey", tag.get("Key"))
            if key:
                val = tag.get("TagValue", tag.get("Value"))
                out[str(key)] = "" if val is None else str(val)
    return out


def parse_locks(value):
    """``OperationLocks`` in any shape the sources use -> (locks list, problem text or None).

    Shapes: ``{"LockReason": [{"LockReason", "LockMsg"}]}`` (the API), a bare list of those
    (the integration's field), their JSON text, ``""``/``None``/``[]`` (no lock).
    """
    if value is None:
        return [], None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return [], None
        try:
            value = json.loads(text)
        except ValueError:
            return None, "OperationLocks is not valid JSON (%s)" % _clip(text)
    if isinstance(value, dict):
        if "LockReason" not in value:
            return None, "OperationLocks has no LockReason list (%s)" % _clip(json.dumps(value, ensure_ascii=False))
        value = value["LockReason"]
        if isinstance(value, str):   # {"LockReason": "Recycling"}
            return [{"reason": value, "message": ""}], None
    if not isinstance(value, list):
        shown = _clip(json.dumps(value, ensure_ascii=False))
        return None, "OperationLocks is neither a list nor an object (%s)" % shown
    locks = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("LockReason"), str):
            locks.append({"reason": item["LockReason"], "message": str(item.get("LockMsg") or "")})
        elif isinstance(item, str):
            locks.append({"reason": item, "message": ""})
        else:
            return None, "OperationLocks entry without a LockReason (%s)" % _clip(json.dumps(item, ensure_ascii=False))
    return locks, None


def _clip(text, limit=60):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def is_recycling(locks):
    return locks is not None and any(lock.get("reason") == RECYCLING for lock in locks)


def _private_ips(api):
    vpc = api.get("VpcAttributes") or {}
    ips = (vpc.get("PrivateIpAddress") or {}).get("IpAddress") if isinstance(vpc, dict) else None
    if not ips:
        inner = api.get("InnerIpAddress")
        ips = inner.get("IpAddress") if isinstance(inner, dict) else None
    return [str(ip) for ip in ips or [] if ip]


def from_api(api, source="describe_instances"):
    """The instance dict of a DescribeInstances ``Instance`` object."""
    notes = []
    locks, problem = parse_locks(api.get("OperationLocks"))
    if problem:
        notes.append(problem)
    memory_mib = number(api.get("Memory"))
    strategy = api.get("SpotStrategy") or None
    limit = number(api.get("SpotPriceLimit"))
    duration = _int(api.get("SpotDuration"))
    os_type = str(api.get("OSType") or "").lower() or None
    instance_type = api.get("InstanceType") or None
    return {
        "instance_id": api.get("InstanceId") or None,
        "instance_name": api.get("InstanceName") or None,
        "host_name": api.get("HostName") or None,
        "region_id": api.get("RegionId") or None,
        "zone_id": api.get("ZoneId") or None,
        "instance_type": instance_type,
        "instance_type_family": api.get("InstanceTypeFamily") or family_of(instance_type),
        "cpu": _int(api.get("Cpu")),
        "memory_gib": round(memory_mib / 1024.0, 3) if memory_mib is not None else None,
        "status": api.get("Status") or None,
        "charge_type": api.get("InstanceChargeType") or None,
        "spot_strategy": strategy,
        "spot_price_limit": limit if limit else None,
        "spot_duration": duration,
        "interruption_behavior": api.get("SpotInterruptionBehavior") or None,
        "creation_time": api.get("CreationTime") or None,
        "os_type": os_type if os_type in ("linux", "windows") else None,
        "tags": parse_tags(api.get("Tags")),
        "private_ips": _private_ips(api),
        "locks": locks,
        "source": source,
        "notes": notes,
    }


def from_object_row(row):
    """(instance dict or None, problem text or None) for one ``CO::aliyun_ecs`` row.

    ``message`` (the DescribeInstances JSON) holds the spot fields; without it the row
    cannot tell whether the instance is a spot instance: (None, problem).
    """
    instance_id = row.get("InstanceId") or row.get("name")
    message = row.get("message")
    api = None
    problem = None
    if message in (None, ""):
        problem = "CO::aliyun_ecs object %s has no `message` field (the DescribeInstances JSON): " \
                  "cannot tell whether it is a spot instance" % (instance_id or "?")
    else:
        if isinstance(message, dict):
            api = message
        else:
            try:
                api = json.loads(message)
            except (TypeError, ValueError):
                problem = "CO::aliyun_ecs object %s: `message` is not valid JSON (%s)" % (
                    instance_id or "?", _clip(message))
        if api is not None and not isinstance(api, dict):
            problem = "CO::aliyun_ecs object %s: `message` is not a JSON object" % (instance_id or "?")
            api = None
    if api is None:
        return None, problem
    merged = dict(api)
    # Tags and fields of the object fill what the message lacks; the lock field is the integration's own.
    for key in ("InstanceId", "InstanceName", "RegionId", "ZoneId", "InstanceType", "InstanceTypeFamily",
                "Status", "InstanceChargeType", "CreationTime", "Cpu", "Memory", "HostName", "OSType"):
        if merged.get(key) in (None, "") and row.get(key) not in (None, ""):
            merged[key] = row[key]
    if not merged.get("InstanceId"):
        merged["InstanceId"] = instance_id
    if row.get("OperationLocks") is not None:
        merged["OperationLocks"] = row["OperationLocks"]
    instance = from_api(merged, source="guance")
    return instance, None


def is_spot(instance):
    """True for SpotWithPriceLimit / SpotAsPriceGo; False for NoSpot or no strategy."""
    return instance.get("spot_strategy") in SPOT_STRATEGIES


def family_of(instance_type):
    parts = (instance_type or "").split(".")
    return ".".join(parts[:2]) if len(parts) >= 3 else None


def for_filters(instance):
    """The copy of an instance given to the startup script's filter functions."""
    out = dict(instance)
    out.pop("notes", None)
    out["tags"] = dict(instance.get("tags") or {})
    out["locks"] = list(instance.get("locks") or []) if instance.get("locks") is not None else None
    return out


KUBERNETES_TAG_PREFIXES = ("ack.aliyun.com", "ack.alibabacloud.com", "kubernetes.io/", "k8s.io/", "k8s.aliyun.com",
                           "kubernetes.do.not.delete", "acs:ack", "cs.aliyun.com")


def kubernetes_node(instance):
    """(True, why) when the instance looks like a Kubernetes node (ACK tags, or a ``k8s``/``kube`` name)."""
    for key, value in sorted((instance.get("tags") or {}).items()):
        low = key.lower()
        if any(low.startswith(prefix) for prefix in KUBERNETES_TAG_PREFIXES):
            return True, "tag %s=%s" % (key, value)
    for name in (instance.get("instance_name"), instance.get("host_name")):
        low = (name or "").lower()
        if low and ("k8s" in low or "kube" in low or low.startswith("worker-k8s")):
            return True, "name %s" % name
    return False, None


def node_name(instance):
    """ACK's node name for an instance: ``<region>.<private IP>``, or None without an IP."""
    ips = instance.get("private_ips") or []
    if instance.get("region_id") and ips:
        return "%s.%s" % (instance["region_id"], ips[0])
    return None
