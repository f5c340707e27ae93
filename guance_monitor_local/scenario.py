"""Scenario files: the contract between the sandbox, the tests, the demo and the benchmarks.

See the README ("Scenario format") for the whole format. ``load`` reads a
file, ``from_dict`` validates a dict; a malformed scenario raises
``ScenarioError`` naming the bad path (``guance.points.metric[3].time``).
Unknown keys are ignored. Points are normalised to
``{"measurement", "tags", "fields", "time_ms"}``; times may be ISO 8601 UTC
or epoch milliseconds.

Benchmarks that generate millions of points skip the dicts: ``add_frame``
attaches a pandas DataFrame (``time_ms`` + tag columns + field columns).
"""
import json
import os

from guance_monitor import clock

NAMESPACES = {
    "metric": "M",
    "object": "O",
    "custom_object": "CO",
    "logging": "L",
    "keyevent": "E",
}
ALIYUN_LISTS = ("instances", "spot_price_history", "spot_advice", "available_resource", "system_events")
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


class Scenario(object):
    def __init__(self):
        self.name = ""
        self.description = ""
        self.source = "scenario"
        self.runs = []              # aware datetimes, in order
        self.workspace = dict(DEFAULT_WORKSPACE)
        self.studio = []            # [{check, callKwargs, disabled, ...}]
        self.points = dict((ns, []) for ns in NAMESPACES.values())  # "M" -> [point]
        self.frames = dict((ns, []) for ns in NAMESPACES.values())  # "M" -> [(measurement, frame, tag_columns)]
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
        if not isinstance(entry.get("check"), str) or not entry["check"]:
            raise ScenarioError("%s.check: expected the inspection name (%s)" % (where, " or ".join(CHECKS)))
        call_kwargs = entry.get("callKwargs", {})
        if not isinstance(call_kwargs, dict):
            raise ScenarioError("%s.callKwargs: expected an object of argument -> value" % where)
        if not isinstance(entry.get("disabled", False), bool):
            raise ScenarioError("%s.disabled: expected true or false" % where)
        scenario.studio.append(dict(entry, callKwargs=call_kwargs, disabled=entry.get("disabled", False)))


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
        clean = {}
        for key in ALIYUN_LISTS:
            items = resources.get(key, [])
            if not isinstance(items, list):
                raise ScenarioError("%s.%s: expected a list" % (where, key))
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    raise ScenarioError("%s.%s[%d]: expected an object" % (where, key, index))
            clean[key] = items
        for key, value in resources.items():
            clean.setdefault(key, value)
        scenario.aliyun[region] = clean


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
