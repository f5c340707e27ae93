"""Scenario files: the contract between the sandbox, the tests, the demo and the benchmarks.

See the README ("Scenario format") for the whole format. ``load`` reads a
file, ``from_dict`` validates a dict; a malformed scenario raises
``ScenarioError`` naming the bad path (``guance.points.metric[3].time``):
a Studio entry must name a known inspection (or a ``funcId`` / ``title``),
and the Alibaba Cloud fields the sandbox and the inspections read must have
their API's type (``ALIYUN_FIELDS``: numbers, times, strings, lists).
Unknown keys are ignored. Points are normalised to
``{"measurement", "tags", "fields", "time_ms"}``; times may be ISO 8601 UTC
or epoch milliseconds.

``Scenario.moved_to(now, index)`` shifts every time of a scenario so that one of its
runs is the current minute (``timeshift`` says what is moved).

Benchmarks that generate millions of points skip the dicts: ``add_frame``
attaches a pandas DataFrame (``time_ms`` + tag columns + field columns).
"""
import difflib
import json
import os

from guance_monitor import clock
from guance_monitor_local import timeshift

NAMESPACES = {
    "metric": "M",
    "object": "O",
    "custom_object": "CO",
    "logging": "L",
    "keyevent": "E",
}
ALIYUN_LISTS = ("instances", "spot_price_history", "spot_advice", "available_resource", "system_events")

# The fields of the Alibaba Cloud objects that the sandbox or the inspections read, with their type
# (a trailing ``!``: required). Other fields are answered as given.
TEXT, NUMBER, TIME, TEXTS = "text", "number", "time", "texts"
_KIND_TEXT = {TEXT: "a string", NUMBER: "a number", TEXTS: "a list of strings",
              TIME: "a time (ISO 8601 UTC or epoch milliseconds)"}
_VISIBLE = {"_visible_from": TIME, "_visible_until": TIME}
REGION_FIELDS = {"_zones": TEXTS, "_currency": TEXT}
ALIYUN_FIELDS = {
    "instances": dict(_VISIBLE, **{
        "InstanceId!": TEXT, "InstanceName": TEXT, "HostName": TEXT, "InstanceType": TEXT,
        "InstanceTypeFamily": TEXT, "RegionId": TEXT, "ZoneId": TEXT, "Status": TEXT,
        "InstanceChargeType": TEXT, "SpotStrategy": TEXT, "SpotPriceLimit": NUMBER, "SpotDuration": NUMBER,
        "Cpu": NUMBER, "Memory": NUMBER, "CreationTime": TIME, "StartTime": TIME, "ExpiredTime": TIME,
        "AutoReleaseTime": TIME, "OperationLocks": ("LockReason", {"LockReason": TEXT}),
        "Tags": ("Tag", {"TagKey": TEXT, "TagValue": TEXT})}),
    "spot_price_history": dict(_VISIBLE, **{
        "InstanceType": TEXT, "ZoneId": TEXT, "NetworkType": TEXT, "IoOptimized": TEXT, "OSType": TEXT,
        "_os_type": TEXT, "SpotDuration": NUMBER, "_spot_duration": NUMBER,
        "SpotPrice!": NUMBER, "OriginPrice": NUMBER, "Timestamp!": TIME}),
    "spot_advice": dict(_VISIBLE, **{
        "ZoneId": TEXT,
        "AvailableSpotResources": ("AvailableSpotResource", dict(_VISIBLE, **{
            "InstanceType": TEXT, "AverageSpotDiscount": NUMBER, "InterruptionRate": NUMBER,
            "InterruptRateDesc": TEXT, "_cores": NUMBER, "_memory": NUMBER, "_gpu_amount": NUMBER,
            "_family": TEXT, "_family_level": TEXT, "_gpu_spec": TEXT}))}),
    "available_resource": dict(_VISIBLE, **{
        "ZoneId": TEXT, "Status": TEXT, "StatusCategory": TEXT,
        "AvailableResources": ("AvailableResource", {
            "Type": TEXT,
            "SupportedResources": ("SupportedResource", {"Value": TEXT, "Status": TEXT, "StatusCategory": TEXT})})}),
    "system_events": dict(_VISIBLE, **{
        "Id": TEXT, "Product": TEXT, "Name": TEXT, "Level": TEXT, "Status": TEXT, "Time!": TIME,
        "GroupId": TEXT, "RegionId": TEXT, "ResourceId": TEXT, "InstanceName": TEXT, "_event_type": TEXT,
        "EventType": TEXT}),
}
CHECKS = ("spot-alive", "k8s-pod-restart")

DEFAULT_SANDBOX = {
    "guance_api_key_id": "sandbox-api-key-id",
    "guance_api_key": "sandbox-api-key-secret",
    "aliyun_access_key_id": "LTAIsandboxAccessKey",
    "aliyun_access_key_secret": "sandbox-aliyun-secret",
    "faults": [],
}
DEFAULT_WORKSPACE = {"uuid": "wksp_sandbox0000000000000000000001", "token": "tkn_sandbox0000000000000000000001",
                     "name": "Sandbox", "language": "zh"}


class ScenarioError(ValueError):
    """The scenario is malformed; the text starts with the path of the bad part."""


class Scenario:
    def __init__(self):
        self.name = ""
        self.description = ""
        self.source = "scenario"
        self.runs = []              # aware datetimes, in order
        self.workspace = dict(DEFAULT_WORKSPACE)
        self.studio = []            # [{check, callKwargs, disabled, ...}]
        self.points = {ns: [] for ns in NAMESPACES.values()}  # "M" -> [point]
        self.frames = {ns: [] for ns in NAMESPACES.values()}  # "M" -> [(measurement, frame, tag_columns)]
        self.aliyun = {}            # region -> {list name -> [objects]}
        self.sandbox = dict(DEFAULT_SANDBOX)
        self.labels = {}            # expected outcomes, for labelled test scenarios
        self.raw = {}

    def add_frame(self, namespace, measurement, frame, tag_columns):
        """Attach bulk points as a DataFrame (``time_ms``, tag columns, field columns)."""
        if namespace not in self.frames:
            raise ScenarioError("namespace %r: expected one of %s" % (namespace, ", ".join(self.frames)))
        if "time_ms" not in frame.columns:
            raise ScenarioError("frame %s: needs a time_ms column" % measurement)
        self.frames[namespace].append((measurement, frame, list(tag_columns)))

    def latest_point_ms(self):
        latest = None
        for points in self.points.values():
            for point in points:
                if latest is None or point["time_ms"] > latest:
                    latest = point["time_ms"]
        for frames in self.frames.values():
            for _, frame, _ in frames:
                if len(frame):
                    top = int(frame["time_ms"].max())
                    latest = top if latest is None else max(latest, top)
        return latest

    def shifted(self, delta_ms):
        """This scenario with every time in it moved by ``delta_ms`` (``timeshift``)."""
        moved = from_dict(timeshift.shift_scenario_data(self.raw, delta_ms), source=self.source)
        moved.runs = [clock.from_ms(clock.to_ms(when) + delta_ms) for when in self.runs]
        for namespace, frames in self.frames.items():
            for measurement, frame, tag_columns in frames:
                frame = frame.copy()
                frame["time_ms"] = frame["time_ms"] + delta_ms
                moved.frames[namespace].append((measurement, frame, tag_columns))
        return moved

    def run_index(self, index):
        """``index`` into ``runs`` (negative counts from the end); ScenarioError when out of range."""
        if not -len(self.runs) <= index < len(self.runs):
            raise ScenarioError("runs: no run %d; this scenario has %d run%s (0 to %d)" % (
                index, len(self.runs), "" if len(self.runs) == 1 else "s", len(self.runs) - 1))
        return index % len(self.runs)

    def moved_to(self, now, index=-1):
        """This scenario shifted by whole minutes so that ``runs[index]`` is the minute of ``now``."""
        run_ms = clock.to_ms(self.runs[self.run_index(index)])
        return self.shifted(timeshift.whole_minutes_back(run_ms, clock.to_ms(clock.parse_time(now))))

    def studio_for(self, check):
        for entry in self.studio:
            if entry.get("check") == check:
                return entry
        return None


def load(path):
    """A Scenario from a JSON file; ScenarioError for a missing or malformed file."""
    try:
        with open(path, "r", encoding="utf-8") as handle:
            data = json.load(handle)
    except IOError as exc:
        raise ScenarioError("%s: cannot read the scenario (%s)" % (path, exc.strerror or exc))
    except ValueError as exc:
        raise ScenarioError("%s: not valid JSON (%s)" % (path, exc))
    scenario = from_dict(data, source=os.path.basename(path))
    return scenario


def from_dict(data, source="scenario"):
    if not isinstance(data, dict):
        raise ScenarioError("(top level): expected a JSON object")
    scenario = Scenario()
    scenario.raw = data
    scenario.source = source
    scenario.name = _text(data.get("name", ""), "name")
    scenario.description = _text(data.get("description", ""), "description")
    labels = data.get("labels", {})
    if not isinstance(labels, dict):
        raise ScenarioError("labels: expected an object")
    scenario.labels = labels

    guance = data.get("guance", {})
    if not isinstance(guance, dict):
        raise ScenarioError("guance: expected an object")
    _load_workspace(scenario, guance.get("workspace"))
    _load_studio(scenario, guance.get("studio"))
    _load_points(scenario, guance.get("points"))
    _load_aliyun(scenario, data.get("aliyun"))
    _load_sandbox(scenario, data.get("sandbox"))
    _load_runs(scenario, data.get("runs"))
    return scenario


def _text(value, where):
    if not isinstance(value, str):
        raise ScenarioError("%s: expected a string" % where)
    return value


def _load_workspace(scenario, workspace):
    if workspace is None:
        return
    if not isinstance(workspace, dict):
        raise ScenarioError("guance.workspace: expected an object")
    for key in ("uuid", "token"):
        if key in workspace and (not isinstance(workspace[key], str) or not workspace[key]):
            raise ScenarioError("guance.workspace.%s: expected a non-empty string" % key)
    scenario.workspace.update(workspace)


def _load_studio(scenario, studio):
    if studio is None:
        return
    if not isinstance(studio, list):
        raise ScenarioError("guance.studio: expected a list")
    for index, entry in enumerate(studio):
        where = "guance.studio[%d]" % index
        if not isinstance(entry, dict):
            raise ScenarioError("%s: expected an object" % where)
        for key in ("funcId", "title"):
            if key in entry and (not isinstance(entry[key], str) or not entry[key]):
                raise ScenarioError("%s.%s: expected a non-empty string" % (where, key))
        _check_studio_check(entry, where)
        call_kwargs = entry.get("callKwargs", {})
        if not isinstance(call_kwargs, dict):
            raise ScenarioError("%s.callKwargs: expected an object of argument -> value" % where)
        if not isinstance(entry.get("disabled", False), bool):
            raise ScenarioError("%s.disabled: expected true or false" % where)
        scenario.studio.append(dict(entry, callKwargs=call_kwargs, disabled=entry.get("disabled", False)))


def _check_studio_check(entry, where):
    """An entry applies by ``funcId`` or ``title`` (``check`` is then a free label), else by ``check``,
    which must name one of our inspections."""
    check = entry.get("check")
    if entry.get("funcId") or entry.get("title"):
        if check is not None and not isinstance(check, str):
            raise ScenarioError("%s.check: expected a string" % where)
        return
    if not isinstance(check, str) or not check:
        raise ScenarioError("%s.check: expected the inspection name (%s)" % (where, " or ".join(CHECKS)))
    if check not in CHECKS:
        raise ScenarioError("%s.check: unknown inspection %r%s; known: %s (or name the inspection by "
                            "funcId or title)" % (where, check, did_you_mean(check, CHECKS), ", ".join(CHECKS)))


def did_you_mean(word, choices):
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return " (did you mean %r?)" % close[0] if close else ""


def _load_points(scenario, points):
    if points is None:
        return
    if not isinstance(points, dict):
        raise ScenarioError("guance.points: expected an object of namespace -> list of points")
    for key, namespace in NAMESPACES.items():
        items = points.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            raise ScenarioError("guance.points.%s: expected a list" % key)
        out = scenario.points[namespace]
        for index, point in enumerate(items):
            out.append(normalise_point(point, "guance.points.%s[%d]" % (key, index), namespace))


def normalise_point(point, where, namespace):
    if not isinstance(point, dict):
        raise ScenarioError("%s: expected an object" % where)
    measurement = point.get("measurement")
    if measurement is None and namespace == "L":
        measurement = point.get("source")
    if measurement is None and namespace == "E":
        measurement = point.get("source") or (point.get("tags") or {}).get("df_source")
    if not isinstance(measurement, str) or not measurement:
        raise ScenarioError("%s.measurement: expected a non-empty string" % where)
    tags = point.get("tags", {})
    if not isinstance(tags, dict):
        raise ScenarioError("%s.tags: expected an object" % where)
    clean_tags = {}
    for key, value in tags.items():
        if isinstance(value, (dict, list)) or value is None:
            raise ScenarioError("%s.tags.%s: expected a string" % (where, key))
        clean_tags[key] = value if isinstance(value, str) else json.dumps(value)
    fields = point.get("fields", {})
    if not isinstance(fields, dict):
        raise ScenarioError("%s.fields: expected an object" % where)
    if "time" not in point:
        raise ScenarioError("%s.time: required (ISO 8601 UTC or epoch milliseconds)" % where)
    try:
        time_ms = clock.to_ms(clock.parse_time(point["time"]))
    except ValueError as exc:
        raise ScenarioError("%s.time: %s" % (where, exc))
    return {"measurement": measurement, "tags": clean_tags, "fields": dict(fields), "time_ms": time_ms}


def _load_aliyun(scenario, aliyun):
    if aliyun is None:
        return
    if not isinstance(aliyun, dict):
        raise ScenarioError("aliyun: expected an object of region id -> resources")
    for region, resources in aliyun.items():
        where = "aliyun.%s" % region
        if not isinstance(resources, dict):
            raise ScenarioError("%s: expected an object" % where)
        _check_fields(resources, where, REGION_FIELDS)
        clean = {}
        for key in ALIYUN_LISTS:
            items = resources.get(key, [])
            if not isinstance(items, list):
                raise ScenarioError("%s.%s: expected a list" % (where, key))
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    raise ScenarioError("%s.%s[%d]: expected an object" % (where, key, index))
                _check_fields(item, "%s.%s[%d]" % (where, key, index), ALIYUN_FIELDS[key])
            clean[key] = items
        for key, value in resources.items():
            clean.setdefault(key, value)
        scenario.aliyun[region] = clean


def _check_fields(obj, where, spec):
    """Check the fields of ``obj`` named in ``spec`` (field -> kind, or (wrapper, item spec) for the
    APIs' wrapped lists); raise ScenarioError naming the path of the first bad one."""
    for key, kind in spec.items():
        required = key.endswith("!")
        key = key.rstrip("!")
        if key not in obj or obj[key] is None:
            if required:
                raise ScenarioError("%s.%s: required (%s)" % (where, key, _KIND_TEXT.get(kind, "an object")))
            continue
        if isinstance(kind, tuple):
            _check_wrapped(obj[key], "%s.%s" % (where, key), kind)
        elif not _is_kind(obj[key], kind):
            raise ScenarioError("%s.%s: expected %s, got %s" % (where, key, _KIND_TEXT[kind], _shown(obj[key])))


def _check_wrapped(value, where, kind):
    """``{"Inner": [items]}`` or a bare list of items, each checked against the item spec."""
    inner, item_spec = kind
    items = value.get(inner) if isinstance(value, dict) else value
    if isinstance(value, dict):
        where = "%s.%s" % (where, inner)
    if items is None:
        return
    if not isinstance(items, list):
        raise ScenarioError("%s: expected a list" % where)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ScenarioError("%s[%d]: expected an object" % (where, index))
        _check_fields(item, "%s[%d]" % (where, index), item_spec)


def _is_kind(value, kind):
    if kind == TEXT:
        return isinstance(value, str)
    if kind == NUMBER:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == TEXTS:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == TIME:
        if value == "":   # the APIs answer "" for a time that is not set (AutoReleaseTime)
            return True
        try:
            clock.parse_time(value)
        except ValueError:
            return False
        return True
    raise AssertionError(kind)


def _shown(value):
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _load_sandbox(scenario, sandbox):
    if sandbox is None:
        return
    if not isinstance(sandbox, dict):
        raise ScenarioError("sandbox: expected an object")
    for key in ("guance_api_key_id", "guance_api_key", "aliyun_access_key_id", "aliyun_access_key_secret"):
        if key in sandbox and (not isinstance(sandbox[key], str) or not sandbox[key]):
            raise ScenarioError("sandbox.%s: expected a non-empty string" % key)
    faults = sandbox.get("faults", [])
    if not isinstance(faults, list):
        raise ScenarioError("sandbox.faults: expected a list")
    from guance_monitor_local.sandbox.faults import FaultPlan, FaultError
    try:
        FaultPlan(faults)
    except FaultError as exc:
        raise ScenarioError(str(exc))
    _check_sandbox_behaviour(sandbox)
    scenario.sandbox.update(sandbox)


def _check_sandbox_behaviour(sandbox):
    """``sandbox.fault_seed`` and ``sandbox.dql`` (the DQL server's settings, see ``sandbox.dql_service``)."""
    seed = sandbox.get("fault_seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ScenarioError("sandbox.fault_seed: expected a whole number, got %r" % (seed,))
    from guance_monitor_local.sandbox.dql_service import check_settings
    try:
        check_settings(sandbox.get("dql"))
    except ValueError as exc:
        raise ScenarioError(str(exc))


def _load_runs(scenario, runs):
    if runs is None:
        latest = scenario.latest_point_ms()
        scenario.runs = [clock.from_ms(latest)] if latest is not None else [clock.now()]
        return
    if not isinstance(runs, list) or not runs:
        raise ScenarioError("runs: expected a non-empty list of times")
    parsed = []
    for index, value in enumerate(runs):
        try:
            parsed.append(clock.parse_time(value))
        except ValueError as exc:
            raise ScenarioError("runs[%d]: %s" % (index, exc))
    for index in range(1, len(parsed)):
        if parsed[index] < parsed[index - 1]:
            raise ScenarioError("runs[%d]: earlier than runs[%d]; runs must be in order" % (index, index - 1))
    scenario.runs = parsed
