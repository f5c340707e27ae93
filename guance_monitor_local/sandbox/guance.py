"""The Guance OpenAPI as the sandbox plays it, following Guance's documentation.

Endpoints: ``workspace/get``; ``self_built_checker`` get / list / create /
modify / enable / disable / delete / batch_delete; ``outer_function/execute``
(``guance__openapi.report_event``); ``events/create``; ``df/query_data_v1`` and
``df/asynchronous/query_data`` (DQL, answered from the scenario's points by ``sandbox.dql``
with the scenario's ``sandbox.dql`` settings, see ``sandbox.dql_service``).

As documented (``open-api/*``):

- every request must carry ``DF-API-KEY`` equal to the scenario's
  ``sandbox.guance_api_key_id``; otherwise HTTP 403 ``ft.InvalidAPIKey``;
- at most 20 requests a minute per API key and 200 per workspace; beyond, HTTP 401
  ``ft.TriggerApiAkCurrentLimiting`` / ``ft.TriggerApiWorkspaceCurrentLimiting`` (a
  sliding minute of the sandbox's running clock: the held run time advanced by the
  injectable monotonic clock) *[sandbox: the documents do not say which window]*;
- answers use the envelope ``{code, content, errorCode, message, success, traceId}``;
  ``list`` answers ``content.data[]`` with ``declaration`` and ``pageInfo`` beside
  ``content``; ``get`` answers ``jsonScript`` with ``name`` and ``type`` only;
  ``enable``/``disable`` answer ``content: true``; ``create``/``modify`` document no
  answer: by default ``content`` is null *[sandbox]*;
- ``outer_function/execute`` accepts ``funcBody.options.returnType`` only among
  ``ALL``, ``raw``, ``repr``, ``jsonDumps``; a function that refuses its input answers
  ``error: 599.3``, ``message: "Calling Function failed"``, ``reason: "EFuncFailed"``,
  ``detail.einfoTEXT``, inside a ``success: true`` envelope.

Not promised by any document, so not done: de-duplicating events by ``df_event_id`` —
every accepted event is stored, twice if sent twice. Stored events are also points of
``E::`monitor``` (``df_event_id``, ``df_title``, ``df_status``, ``df_source``,
``df_monitor_checker_id``, ``df_monitor_ref_key``, ``df_dimension_tags`` and each
dimension tag), dated when they arrived on the sandbox's running clock (the held run time
plus what was slept since), queryable by DQL once ``event_visible_after_s`` has passed.

Scenario settings, ``sandbox.guance`` (all optional): ``rate_limit``
(``{"per_key": 20, "per_workspace": 200}``, or ``false``), ``create_answer`` /
``modify_answer`` (``"empty"``, ``"true"`` or ``"rule"``), ``event_visible_after_s``
(0), ``keeps_event_id`` (true: a client's ``df_event_id`` is stored as sent; false: the
server makes its own).

Inspections created here take their Studio state from the scenario's
``guance.studio`` entries: an entry applies to the inspection whose function
ID names its check (``startup__guance_monitor_k8s_pod_restart.run`` is
``k8s-pod-restart``), or whose ``funcId`` / ``title`` it gives explicitly.
"""
import hashlib
import json
import re
import threading
import uuid

from guance_monitor_local.sandbox import dql, dql_service
from guance_monitor_local.sandbox.http import Response

PREFIX = "/api/v1/"
EVENT_STATUSES = ("info", "warning", "error", "critical", "ok")
RETURN_TYPES = ("ALL", "raw", "repr", "jsonDumps")
ANSWERS = ("empty", "true", "rule")
RATE_WINDOW_MS = 60 * 1000
DEFAULT_SETTINGS = {"rate_limit": {"per_key": 20, "per_workspace": 200}, "create_answer": "empty",
                    "modify_answer": "empty", "event_visible_after_s": 0, "keeps_event_id": True}
DECLARATION = {"b": [], "business": "sandbox", "organization": "sandbox-organization"}


class SettingsError(ValueError):
    """A ``sandbox.guance`` setting is unusable; the text names it."""


def settings_of(scenario_sandbox):
    """The service's settings from the scenario's ``sandbox.guance`` (defaults filled in, each checked)."""
    given = scenario_sandbox.get("guance") or {}
    if not isinstance(given, dict):
        raise SettingsError("sandbox.guance: expected an object")
    unknown = sorted(set(given) - set(DEFAULT_SETTINGS))
    if unknown:
        raise SettingsError("sandbox.guance.%s: unknown setting (known: %s)" % (unknown[0], ", ".join(DEFAULT_SETTINGS)))
    out = dict(DEFAULT_SETTINGS)
    out.update(given)
    limit = out["rate_limit"]
    if limit is not False:
        if not isinstance(limit, dict) or any(k not in ("per_key", "per_workspace") for k in limit) or \
                any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in limit.values()):
            raise SettingsError("sandbox.guance.rate_limit: expected false or {\"per_key\": 20, \"per_workspace\": 200}")
        out["rate_limit"] = dict(DEFAULT_SETTINGS["rate_limit"], **limit)
    for key in ("create_answer", "modify_answer"):
        if out[key] not in ANSWERS:
            raise SettingsError("sandbox.guance.%s: expected one of %s" % (key, ", ".join(ANSWERS)))
    visible = out["event_visible_after_s"]
    if isinstance(visible, bool) or not isinstance(visible, (int, float)) or visible < 0:
        raise SettingsError("sandbox.guance.event_visible_after_s: expected seconds >= 0")
    if not isinstance(out["keeps_event_id"], bool):
        raise SettingsError("sandbox.guance.keeps_event_id: expected true or false")
    return out
_CHECK_IN_FUNC_ID = re.compile(r"guance_monitor_([a-z0-9_]+?)(?:__|\.|$)")


def check_of_func_id(func_id):
    """``k8s-pod-restart`` for ``startup__guance_monitor_k8s_pod_restart.run``; None if it names none."""
    match = _CHECK_IN_FUNC_ID.search(func_id or "")
    return match.group(1).replace("_", "-") if match else None


class GuanceService:
    name = "guance"

    def __init__(self, sandbox):
        self.sandbox = sandbox
        scenario = sandbox.scenario
        self.api_key_id = scenario.sandbox["guance_api_key_id"]
        self.settings = settings_of(scenario.sandbox)
        self.workspace = dict(scenario.workspace)
        self.rules = {}            # uuid -> rule
        self.events = []           # reported events, in arrival order
        self.custom_events = []    # events/create
        self._lock = threading.Lock()
        self._requests = {"key": [], "workspace": []}   # arrival times in the last minute
        self._unpublished = []     # (visible_ms, point) of reported events not yet queryable
        self.store = dql.PointStore()
        for namespace, points in scenario.points.items():
            if points:
                self.store.add_points(namespace, points)
        for namespace, frames in scenario.frames.items():
            for measurement, frame, tag_columns in frames:
                self.store.add_frame(namespace, measurement, frame, tag_columns)
        self.routes = {
            ("GET", "workspace/get"): self.workspace_get,
            ("GET", "self_built_checker/get"): self.checker_get,
            ("GET", "self_built_checker/list"): self.checker_list,
            ("POST", "self_built_checker/create"): self.checker_create,
            ("POST", "self_built_checker/modify"): self.checker_modify,
            ("POST", "self_built_checker/enable"): self.checker_enable,
            ("POST", "self_built_checker/disable"): self.checker_disable,
            ("POST", "self_built_checker/delete"): self.checker_delete,
            ("POST", "self_built_checker/batch_delete"): self.checker_delete,
            ("POST", "outer_function/execute"): self.outer_function_execute,
            ("POST", "events/create"): self.events_create,
            ("POST", "df/query_data_v1"): self.query_data_v1,
            ("POST", "df/asynchronous/query_data"): self.query_data_asynchronous,
        }

    # -- service interface -----------------------------------------------------------------

    def identify(self, request):
        if request.path.startswith(PREFIX):
            return request.path, None
        return None

    def error(self, request, status, code=None, message=None, retry_after=None):
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        return Response(status, {"code": status, "content": None, "errorCode": code or "Sandbox.Fault",
                                 "message": message or "injected fault", "success": False,
                                 "traceId": uuid.uuid4().hex}, headers)

    def handle(self, request, action):
        if request.header("DF-API-KEY") != self.api_key_id:
            return self.error(request, 403, "ft.InvalidAPIKey", "无效的 API Key / invalid API key")
        limited = self._rate_limited()
        if limited is not None:
            return self.error(request, 401, limited[0], limited[1])
        self._publish_due_events()
        route = self.routes.get((request.method, action[len(PREFIX):]))
        if route is None:
            return self.error(request, 404, "ft.NotFound", "no such endpoint: %s %s" % (request.method, action))
        if request.method == "POST":
            try:
                body = request.json()
            except ValueError:
                return self.error(request, 400, "ft.InvalidJSON", "the request body is not JSON")
            if body is None:
                body = {}
            if not isinstance(body, dict):
                return self.error(request, 400, "ft.InvalidJSON", "the request body must be a JSON object")
        else:
            body = request.query
        try:
            return route(body)
        except _BadRequest as exc:
            return self.error(request, exc.status, exc.code, str(exc))

    def _rate_limited(self):
        """(errorCode, message) when this request is over the documented limits, else None (and it is counted)."""
        limits = self.settings["rate_limit"]
        if limits is False:
            return None
        now = self.sandbox.running_ms()
        with self._lock:
            for name in ("key", "workspace"):
                self._requests[name] = [t for t in self._requests[name] if now - RATE_WINDOW_MS < t <= now + 1]
            if len(self._requests["key"]) >= limits["per_key"]:
                return "ft.TriggerApiAkCurrentLimiting", "触发API限流-AK级别 / API key rate limit (%d a minute)" % \
                    limits["per_key"]
            if len(self._requests["workspace"]) >= limits["per_workspace"]:
                return "ft.TriggerApiWorkspaceCurrentLimiting", "触发API限流-工作空间级别 / workspace rate limit (%d a " \
                    "minute)" % limits["per_workspace"]
            self._requests["key"].append(now)
            self._requests["workspace"].append(now)
        return None

    @staticmethod
    def ok(content):
        return Response(200, {"code": 200, "content": content, "errorCode": "", "message": "",
                              "success": True, "traceId": uuid.uuid4().hex})

    # -- workspace -------------------------------------------------------------------------

    def workspace_get(self, query):
        return self.ok(dict(self.workspace))

    # -- self-built checkers ---------------------------------------------------------------

    def _find(self, ref_key=None, rule_uuid=None):
        for rule in self.rules.values():
            if (ref_key and rule["refKey"] == ref_key) or (rule_uuid and rule["uuid"] == rule_uuid):
                return rule
        return None

    def checker_get(self, query):
        """The rule as ``get.md`` shows it: ``jsonScript`` holds only ``name`` and ``type``."""
        rule = self._find(query.get("refKey"), query.get("ruleUUID"))
        if rule is None:
            raise _BadRequest("ft.NotFound", "no self-built checker with that refKey / ruleUUID", 404)
        shown = {k: v for k, v in rule.items() if k != "check"}
        shown["jsonScript"] = {"name": rule["jsonScript"]["name"], "type": rule["jsonScript"]["type"]}
        return self.ok(shown)

    def checker_list(self, query):
        ref_keys = [k for k in (query.get("refKey") or "").split(",") if k]
        search = query.get("search")
        rules = [r for r in self.rules.values()
                 if (not ref_keys or r["refKey"] in ref_keys)
                 and (not search or search in r["jsonScript"]["title"])]
        page_size = int(query.get("pageSize") or 50)
        page_index = int(query.get("pageIndex") or 1)
        page = [{k: v for k, v in r.items() if k != "check"}
                for r in rules[(page_index - 1) * page_size:page_index * page_size]]
        return Response(200, {"code": 200, "content": {"data": page, "declaration": dict(DECLARATION)},
                              "errorCode": "", "message": "", "success": True, "traceId": uuid.uuid4().hex,
                              "pageInfo": {"count": len(page), "pageIndex": page_index,
                                           "pageSize": page_size, "totalCount": len(rules)}})

    def checker_create(self, body):
        ref_key = _required_text(body, "refKey")
        title = _required_text(body, "title")
        func_info = _func_info(body)
        with self._lock:
            if self._find(ref_key=ref_key) is not None:
                raise _BadRequest("ft.Duplicated", "a checker with this refKey exists")
            studio = self._studio_entry(func_info, title)
            disabled = bool(body.get("isDisabled", False))
            call_kwargs = {}
            if studio is not None:
                disabled = bool(studio.get("disabled", disabled))
                call_kwargs = dict(studio.get("callKwargs") or {})
            rule_uuid = "rul_" + uuid.uuid4().hex
            rule = {
                "uuid": rule_uuid,
                "type": "self_built_trigger",
                "refKey": ref_key,
                "status": 2 if disabled else 0,
                "monitorUUID": body.get("monitorUUID") or "",
                "alertPolicyInfos": [{"uuid": u} for u in body.get("alertPolicyUUIDs") or []],
                "secret": hashlib.md5(rule_uuid.encode()).hexdigest(),
                "createdWay": "func",
                "check": check_of_func_id(func_info.get("funcId")),
                "jsonScript": {"type": "selfBuiltCheck", "name": func_info.get("funcId", ""), "title": title,
                               "callKwargs": call_kwargs, "refFuncInfo": func_info},
            }
            self.rules[rule_uuid] = rule
        return self.ok(self._answer("create_answer", rule))

    def _studio_entry(self, func_info, title):
        check = check_of_func_id(func_info.get("funcId"))
        for entry in self.sandbox.scenario.studio:
            if entry.get("funcId") and entry["funcId"] == func_info.get("funcId"):
                return entry
            if entry.get("title") and entry["title"] == title:
                return entry
            if check and entry.get("check") == check and not entry.get("funcId") and not entry.get("title"):
                return entry
        return None

    def checker_modify(self, body):
        rule_uuid = _required_text(body, "ruleUUID")
        with self._lock:
            rule = self.rules.get(rule_uuid)
            if rule is None:
                raise _BadRequest("ft.NotFound", "no self-built checker %s" % rule_uuid, 404)
            if body.get("refKey") and body["refKey"] != rule["refKey"]:
                raise _BadRequest("ft.InvalidParam", "refKey cannot be changed")
            if "title" in body:
                rule["jsonScript"]["title"] = _required_text(body, "title")
            if "refFuncInfo" in body:
                rule["jsonScript"]["refFuncInfo"] = _func_info(body)
            if "monitorUUID" in body:
                rule["monitorUUID"] = body.get("monitorUUID") or ""
        return self.ok(self._answer("modify_answer", rule))

    def _answer(self, setting, rule):
        """What ``create`` / ``modify`` answer: undocumented, so the scenario chooses (null by default)."""
        answer = self.settings[setting]
        if answer == "true":
            return True
        if answer == "rule":
            return {k: v for k, v in rule.items() if k != "check"}
        return None

    def _set_status(self, body, status):
        uuids = body.get("ruleUUIDs") or []
        if body.get("refKey"):
            rule = self._find(ref_key=body["refKey"])
            uuids = list(uuids) + ([rule["uuid"]] if rule else [])
        if not uuids:
            raise _BadRequest("ft.InvalidParam", "ruleUUIDs or refKey is required")
        with self._lock:
            for rule_uuid in uuids:
                if rule_uuid in self.rules:
                    self.rules[rule_uuid]["status"] = status
        return self.ok(True)

    def checker_enable(self, body):
        return self._set_status(body, 0)

    def checker_disable(self, body):
        return self._set_status(body, 2)

    def checker_delete(self, body):
        uuids = body.get("ruleUUIDs") or ([body["ruleUUID"]] if body.get("ruleUUID") else [])
        if body.get("refKey"):
            rule = self._find(ref_key=body["refKey"])
            uuids = list(uuids) + ([rule["uuid"]] if rule else [])
        with self._lock:
            for rule_uuid in uuids:
                self.rules.pop(rule_uuid, None)
        return self.ok(True)

    # -- events ----------------------------------------------------------------------------

    def outer_function_execute(self, body):
        func_id = body.get("funcId")
        func_body = body.get("funcBody") or {}
        if not isinstance(func_body, dict):
            raise _BadRequest("ft.InvalidParam", "funcBody: expected an object")
        options = func_body.get("options")
        if options is not None:
            return_type = options.get("returnType") if isinstance(options, dict) else None
            if not isinstance(options, dict) or ("returnType" in options and return_type not in RETURN_TYPES):
                raise _BadRequest("ft.InvalidParam", "funcBody.options.returnType: expected one of %s, got %r"
                                  % (", ".join(RETURN_TYPES), return_type))
        kwargs = func_body.get("kwargs") or {}
        if func_id != "guance__openapi.report_event":
            return self._function_failed(404, "EFuncNotFound", "outer function %r does not exist" % func_id)
        if kwargs.get("workspace_uuid") != self.workspace["uuid"] or \
                kwargs.get("workspace_token") != self.workspace["token"]:
            return self._function_failed(599.3, "EFuncFailed", "workspace_uuid / workspace_token do not match")
        data = kwargs.get("data")
        items = data if isinstance(data, list) else [data]
        try:
            events = [self._check_event(item, index) for index, item in enumerate(items)]
        except ValueError as exc:
            return self._function_failed(599.3, "EFuncFailed", str(exc))
        with self._lock:
            for event in events:
                if not self.settings["keeps_event_id"] or not event.get("df_event_id"):
                    event["df_event_id"] = "event-" + uuid.uuid4().hex
                rule = self._find(ref_key=event.get("df_monitor_ref_key")) if event.get("df_monitor_ref_key") else None
                event["check"] = rule.get("check") if rule else None
                event["rule_uuid"] = rule["uuid"] if rule else None
                event["run"] = self.sandbox.run_index
                event["received_ms"] = self.sandbox.running_ms()     # when it arrived, as Guance dates it
                self.events.append(event)
                self.sandbox.event_received(event)
                visible = self.sandbox.running_ms() + int(self.settings["event_visible_after_s"] * 1000)
                self._unpublished.append((visible, _event_point(event, rule)))
        self._publish_due_events()
        return self.ok({"ok": True, "error": 200, "message": "", "detail": None,
                        "data": {"result": {"accepted": len(events)}}})

    def _publish_due_events(self):
        """Make reported events queryable (``E::`monitor```) once they are visible."""
        now = self.sandbox.running_ms()
        with self._lock:
            due = [point for visible, point in self._unpublished if visible <= now]
            self._unpublished = [(v, p) for v, p in self._unpublished if v > now]
        if due:
            self.store.add_points("keyevent", due)

    def _function_failed(self, error, reason, detail):
        """An outer function that ran and failed, as ``outer-function/execute.md`` shows it."""
        message = "Calling Function failed" if reason == "EFuncFailed" else reason
        return self.ok({"ok": False, "error": error, "message": message, "reason": reason,
                        "detail": {"einfoTEXT": detail, "id": "task-" + uuid.uuid4().hex[:12]},
                        "reqCost": 1, "traceId": uuid.uuid4().hex})

    @staticmethod
    def _check_event(item, index):
        where = "data[%d]" % index
        if not isinstance(item, dict):
            raise ValueError("%s: expected an event object" % where)
        title = item.get("title")
        if not isinstance(title, str) or not title.strip() or "\n" in title:
            raise ValueError("%s.title: expected one non-empty line" % where)
        if not isinstance(item.get("message"), str):
            raise ValueError("%s.message: expected markdown text" % where)
        if item.get("status") not in EVENT_STATUSES:
            raise ValueError("%s.status: expected one of %s" % (where, ", ".join(EVENT_STATUSES)))
        tags = item.get("dimension_tags") or {}
        if isinstance(tags, str):
            try:
                tags = json.loads(tags)
            except ValueError:
                raise ValueError("%s.dimension_tags: not JSON" % where)
        if not isinstance(tags, dict):
            raise ValueError("%s.dimension_tags: expected an object" % where)
        event = dict(item)
        event["dimension_tags"] = tags
        return event

    def events_create(self, body):
        for key in ("title", "status"):
            if not body.get(key):
                raise _BadRequest("ft.InvalidParam", "%s is required" % key)
        with self._lock:
            self.custom_events.append(dict(body, run=self.sandbox.run_index))
        return self.ok({"df_source": "custom"})

    # -- DQL -------------------------------------------------------------------------------

    def query_data_v1(self, body):
        return self._dql(body, "query_data_v1")

    def query_data_asynchronous(self, body):
        return self._dql(body, "asynchronous")

    def _dql(self, body, endpoint):
        with self._lock:
            service = getattr(self, "_dql_service", None)
            if service is None:
                service = self._dql_service = dql_service.DQLService(
                    self.store, self.sandbox.scenario.sandbox.get("dql"), self.sandbox.now_ms)
        try:
            content = getattr(service, endpoint)(body, endless=self.sandbox.effect("endless"))
        except dql.DQLError as exc:
            raise _BadRequest(exc.code, str(exc))
        return self.ok(content)


def _event_point(event, rule):
    """The keyevent point Guance would store for a reported event (df_source ``monitor``)."""
    tags = {str(k): str(v) for k, v in (event.get("dimension_tags") or {}).items()}
    tags.update({"df_event_id": event["df_event_id"], "df_status": event["status"], "df_source": "monitor",
                 "df_monitor_checker_id": event.get("df_monitor_checker_id") or (rule or {}).get("uuid") or "",
                 "df_monitor_ref_key": event.get("df_monitor_ref_key") or ""})
    return {"measurement": "monitor", "tags": tags, "time_ms": event["received_ms"],
            "fields": {"df_title": event["title"], "df_message": event["message"],
                       "df_dimension_tags": json.dumps(event.get("dimension_tags") or {}, sort_keys=True)}}


class _BadRequest(Exception):
    def __init__(self, code, message, status=400):
        Exception.__init__(self, message)
        self.code = code
        self.status = status


def _required_text(body, key):
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _BadRequest("ft.InvalidParam", "%s is required" % key)
    return value


def _func_info(body):
    info = body.get("refFuncInfo")
    if not isinstance(info, dict) or not info.get("funcId"):
        raise _BadRequest("ft.InvalidParam", "refFuncInfo.funcId is required")
    return info
