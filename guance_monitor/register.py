"""``self_hosted_monitor``: make a DataFlux Func function a Guance self-hosted inspection (自建巡检).

    @self_hosted_monitor(account['api_key_id'], account['api_key'], account['guance_node'])
    @DFF.API('K8S-Pod 重启检测巡检', fixed_crontab='*/30 * * * *', timeout=900)
    def run(configs=None):
        ...

It must be the outermost decorator. On every run it:

1. reads the attributes ``DFF.API`` set on the function (title, doc, definition, args, kwargs);
2. derives the inspection's ``refKey`` from the function ID and the Func instance's secret
   (``DFF.SIGN(func_id)``: md5 of the secret and the ID, 32 hex);
3. gets the inspection by refKey; creates it when it does not exist (first run, or deleted in
   Studio: it comes back with a new UUID), updates title / doc / parameters when they changed;
4. returns without running when the inspection is disabled in Studio;
5. calls the function with the Studio values (``callKwargs``) over the code's arguments, inside
   a run context (Guance client, refKey, deadline from the ``timeout``, state store) that
   ``Runner`` and ``EventReporter`` use.

A checker module can declare ``INSPECTION = {"name": ..., "enabled_by_default": False}``;
an inspection whose startup script imports such a module is created disabled, as the
documented pod-restart inspection is.
"""
import functools
import hashlib
import os
import types

from guance_monitor import clock
from guance_monitor import context
from guance_monitor import openapi
from guance_monitor import redact
from guance_monitor import retry
from guance_monitor import state

FUNC_DEFAULT_TIMEOUT = 35     # DataFlux Func's task timeout when DFF.API sets none
TIMEOUT_MARGIN = 0.05         # finish this share of the timeout early
FUNC_SECRET_ENV = "GUANCE_MONITOR_FUNC_SECRET"
CHECKER_PATH = "/api/v1/self_built_checker/"


class FuncInfo(object):
    """What ``DFF.API`` recorded about a function, as Studio's ``refFuncInfo`` wants it."""

    def __init__(self, func):
        missing = [a for a in ("_DFF_FUNC_ID", "_DFF_FUNC_TITLE") if not hasattr(func, a)]
        if missing:
            raise TypeError("@self_hosted_monitor(...) must be the outermost decorator, placed above "
                            "@DFF.API(...); %r carries no DFF.API attributes" % getattr(func, "__name__", func))
        self.func_id = func._DFF_FUNC_ID
        self.name = getattr(func, "_DFF_FUNC_NAME", None) or func.__name__
        self.title = func._DFF_FUNC_TITLE or self.name
        self.description = getattr(func, "_DFF_FUNC_DESCRIPTION", None) or ""
        self.definition = getattr(func, "_DFF_FUNC_DEFINITION", None) or ""
        self.category = getattr(func, "_DFF_FUNC_CATEGORY", None) or "general"
        self.args = list(getattr(func, "_DFF_FUNC_ARGS", None) or [])
        self.kwargs = dict(getattr(func, "_DFF_FUNC_KWARGS", None) or {})
        scope = _script_scope(func)
        self.timeout = _api_timeout(scope, self.name)
        self.enabled_by_default = all(spec.get("enabled_by_default", True) for spec in _inspections(scope))

    def ref_func_info(self):
        return {"funcId": self.func_id, "description": self.description, "definition": self.definition,
                "category": self.category, "args": self.args, "kwargs": self.kwargs}

    def accepts(self, name):
        return name in self.args or any(a.startswith("**") for a in self.args)


def _script_scope(func):
    """The globals of the startup script that defined the function (under DFF.API's wrapper)."""
    inner = func
    while hasattr(inner, "__wrapped__"):
        inner = inner.__wrapped__
    return getattr(inner, "__globals__", {}) or {}


def _api_timeout(scope, name):
    """The ``timeout`` given to DFF.API, which Func keeps in ``DFF.api_funcs``; else Func's default."""
    dff = scope.get("DFF")
    for entry in getattr(dff, "api_funcs", None) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            timeout = (entry.get("extraConfig") or {}).get("timeout")
            if isinstance(timeout, int) and timeout > 0:
                return timeout
    return FUNC_DEFAULT_TIMEOUT


def _inspections(scope):
    for value in list(scope.values()):
        spec = getattr(value, "INSPECTION", None) if isinstance(value, types.ModuleType) else None
        if isinstance(spec, dict):
            yield spec


def ref_key(func_id):
    """The inspection's refKey: ``DFF.SIGN(func_id)`` inside Func (md5 of Func's secret and the ID)."""
    dff = globals().get("DFF")
    sign = getattr(dff, "SIGN", None) if dff is not None else None
    if callable(sign):
        return sign(func_id)
    secret = local_func_secret()
    return hashlib.md5((secret + "\n" + func_id).encode("utf-8")).hexdigest()


def local_func_secret():
    """Outside Func: ``$GUANCE_MONITOR_FUNC_SECRET``, else a secret made once and kept in the state dir."""
    secret = os.environ.get(FUNC_SECRET_ENV)
    if secret:
        return redact.register_secret(secret)
    store = state.FileStore()
    secret = store.get("func-secret")
    if not secret:
        secret = hashlib.sha256(os.urandom(32)).hexdigest()
        store.set("func-secret", secret)
    return redact.register_secret(secret)


def sync_rule(api, key, info):
    """The inspection's rule in Guance, created or updated to match ``info``."""
    rule = get_rule(api, key)
    if rule is None:
        rule = api.post(CHECKER_PATH + "create", {
            "refKey": key, "title": info.title, "refFuncInfo": info.ref_func_info(),
            "isDisabled": not info.enabled_by_default})
        redact.log("inspection %r registered in Guance (%s)", info.title, (rule or {}).get("uuid"))
        return rule or {}
    script = rule.get("jsonScript") or {}
    if script.get("title") != info.title or script.get("refFuncInfo") != info.ref_func_info():
        updated = api.post(CHECKER_PATH + "modify", {
            "ruleUUID": rule.get("uuid"), "refKey": key, "title": info.title,
            "refFuncInfo": info.ref_func_info()})
        if isinstance(updated, dict) and updated.get("uuid"):
            rule = updated
    return rule


def get_rule(api, key):
    try:
        rule = api.get(CHECKER_PATH + "get", refKey=key)
    except openapi.GuanceAPIError as exc:
        if exc.status == 404 or str(exc.code or "").endswith("NotFound"):
            return None
        raise
    return rule if isinstance(rule, dict) and rule.get("uuid") else None


def is_disabled(rule):
    return bool(rule.get("isDisabled")) or rule.get("status") not in (None, 0)


def studio_kwargs(rule, info):
    """The Studio values the function accepts (others are logged and ignored)."""
    call_kwargs = (rule.get("jsonScript") or {}).get("callKwargs") or {}
    if not isinstance(call_kwargs, dict):
        return {}
    accepted = {}
    for name, value in call_kwargs.items():
        if info.accepts(name):
            accepted[name] = value
        else:
            redact.log("Studio parameter %r ignored: %s() has no such argument", name, info.name)
    return accepted


def self_hosted_monitor(api_key_id, api_key, guance_node=None):
    """Decorator: register the function as a Guance inspection and run it with Studio's configs."""

    def decorate(func):
        info = FuncInfo(func)

        @functools.wraps(func)
        def run_inspection(*args, **kwargs):
            deadline = retry.Deadline(info.timeout * (1 - TIMEOUT_MARGIN))
            api = openapi.GuanceOpenAPI(api_key_id, api_key, guance_node, deadline=deadline)
            key = ref_key(info.func_id)
            rule = sync_rule(api, key, info)
            if is_disabled(rule):
                redact.log("inspection %r is disabled in Guance Studio: skipped", info.title)
                return None
            call_kwargs = dict(kwargs)
            call_kwargs.update(studio_kwargs(rule, info))
            ctx = context.RunContext(api=api, store=state.default_store(), deadline=deadline, ref_key=key,
                                     rule_uuid=rule.get("uuid"), func_id=info.func_id, title=info.title,
                                     started_at=clock.now())
            with context.activate(ctx):
                return func(*args, **call_kwargs)

        return run_inspection

    return decorate
