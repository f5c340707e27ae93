"""The Guance OpenAPI as the sandbox plays it.

Endpoints: ``workspace/get``; ``self_built_checker`` get / list / create /
modify / enable / disable / delete / batch_delete; ``outer_function/execute``
(``guance__openapi.report_event``); ``events/create``; ``df/query_data_v1``
(DQL, answered from the scenario's points by ``sandbox.dql``).

Every request must carry ``DF-API-KEY`` equal to the scenario's
``sandbox.guance_api_key_id``. Answers use the OpenAPI envelope
``{code, content, errorCode, message, success, traceId}``.

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

from guance_monitor_local.sandbox import dql
from guance_monitor_local.sandbox.http import Response

PREFIX = "/api/v1/"
EVENT_STATUSES = ("info", "warning", "error", "critical", "ok")
_CHECK_IN_FUNC_ID = re.compile(r"guance_monitor_([a-z0-9_]+?)(?:__|\.|$)")


def check_of_func_id(func_id):
    """``k8s-pod-restart`` for ``startup__guance_monitor_k8s_pod_restart.run``; None if it names none."""
    match = _CHECK_IN_FUNC_ID.search(func_id or "")
    return match.group(1).replace("_", "-") if match else None


class GuanceService(object):
    name = "guance"

    def __init__(self, sandbox):
        self.sandbox = sandbox
        scenario = sandbox.scenario
        self.api_key_id = scenario.sandbox["guance_api_key_id"]
        self.workspace = dict(scenario.workspace)
        self.rules = {}            # uuid -> rule
        self.events = []           # reported events, in arrival order
        self.custom_events = []    # events/create
        self._event_ids = set()
        self._lock = threading.Lock()
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
            return self.error(request, 401, "ft.AuthenticationFailed",
                              "DF-API-KEY is missing or not a key of this workspace")
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
        rule = self._find(query.get("refKey"), query.get("ruleUUID"))
        if rule is None:
            raise _BadRequest("ft.NotFound", "no self-built checker with that refKey / ruleUUID", 404)
        return self.ok(rule)

    def checker_list(self, query):
        ref_keys = [k for k in (query.get("refKey") or "").split(",") if k]
        search = query.get("search")
        rules = [r for r in self.rules.values()
                 if (not ref_keys or r["refKey"] in ref_keys)
                 and (not search or search in r["jsonScript"]["title"])]
        page_size = int(query.get("pageSize") or 50)
        page_index = int(query.get("pageIndex") or 1)
        page = rules[(page_index - 1) * page_size:page_index * page_size]
        return Response(200, {"code": 200, "content": page, "errorCode": "", "message": "", "success": True,
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
        return self.ok(rule)

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
        return self.ok(rule)

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
        return self.ok(None)

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
        return self.ok(None)

    # -- events ----------------------------------------------------------------------------

    def outer_function_execute(self, body):
        func_id = body.get("funcId")
        func_body = body.get("funcBody") or {}
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
        accepted = 0
        with self._lock:
            for event in events:
                event_id = event.get("df_event_id")
                if event_id and event_id in self._event_ids:
                    continue
                if event_id:
                    self._event_ids.add(event_id)
                rule = self._find(ref_key=event.get("df_monitor_ref_key")) if event.get("df_monitor_ref_key") else None
                event["check"] = rule.get("check") if rule else None
                event["rule_uuid"] = rule["uuid"] if rule else None
                event["run"] = self.sandbox.run_index
                event["received_ms"] = self.sandbox.now_ms()
                self.events.append(event)
                self.sandbox.event_received(event)
                accepted += 1
        return self.ok({"error": 200, "message": "", "detail": None,
                        "data": {"result": {"accepted": accepted, "duplicates": len(events) - accepted}}})

    def _function_failed(self, error, message, detail):
        return self.ok({"error": error, "message": message, "detail": detail, "data": None})

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
        queries = body.get("queries")
        if not isinstance(queries, list) or not queries:
            raise _BadRequest("ft.InvalidParam", "queries: expected a non-empty list")
        data = []
        for index, item in enumerate(queries):
            if not isinstance(item, dict) or item.get("qtype") != "dql" or not isinstance(item.get("query"), dict):
                raise _BadRequest("ft.InvalidParam",
                                  "queries[%d]: expected {\"qtype\": \"dql\", \"query\": {\"q\": ...}}" % index)
            try:
                data.append(dql.execute(self.store, item["query"], self.sandbox.now_ms()))
            except dql.DQLError as exc:
                raise _BadRequest(exc.code, "queries[%d]: %s" % (index, exc))
        return self.ok({"data": data})


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
