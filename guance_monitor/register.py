"""``self_hosted_monitor``: make a DataFlux Func function a Guance self-hosted inspection (自建巡检).

    @self_hosted_monitor(account['api_key_id'], account['api_key'], account['guance_node'])
    @DFF.API('K8S-Pod 重启检测巡检', fixed_crontab='*/30 * * * *', timeout=900)
    def run(configs=None):
        ...

It must be the outermost decorator. On every run it:

1. builds the run's ``Host`` from the startup script's ``DFF`` (clock, store, task log, signing);
2. reads the attributes ``DFF.API`` set on the function (title, doc, definition, args, kwargs, timeout);
3. derives the inspection's ``refKey`` from the function ID and the Func instance's secret
   (``DFF.SIGN(func_id)``: md5 of the secret and the ID, 32 hex);
4. reads the inspection with ``GET self_built_checker/list?refKey=`` — the documented form
   that carries ``jsonScript.title``, ``refFuncInfo`` and ``callKwargs`` (Studio's values);
   creates it when it does not exist (first run, or deleted in Studio: it comes back with a
   new UUID) and reads it again — also when ``create`` is refused, since another run may have
   just created it —, or updates title / doc / parameters when they changed.
   The answers of ``create`` and ``modify`` are not documented and not relied on. One request
   on an ordinary run;
5. keeps the rule it read (UUID, disabled, Studio values) in the state store: when the
   registration API fails transiently the run goes on with the last known rule, and its
   events wait in the outbox if Guance is down;
6. returns without running when the inspection is disabled in Studio;
7. calls the function with the Studio values (``callKwargs``) over the code's arguments, inside
   a run context (Guance client, refKey, deadline from the ``timeout``, state store, host), with
   report times shown in the workspace's zone: the startup script's ``account['timezone']``,
   else Func's environment variable ``GUANCE_MONITOR_TIMEZONE``, else the Guance node's usual
   zone (``report.zone_for_node``: UTC+8 for the China sites, America/Los_Angeles for ``us1``...).

A checker module can declare ``INSPECTION = {"name": ..., "enabled_by_default": False}``;
an inspection whose startup script imports such a module is created disabled, as the
documented pod-restart inspection is.
"""
import functools
import types

from guance_monitor import clock
from guance_monitor import context
from guance_monitor import host as hosts
from guance_monitor import logs
from guance_monitor import openapi
from guance_monitor import pacer as pacing
from guance_monitor import report
from guance_monitor import retry

FUNC_DEFAULT_TIMEOUT = 35     # DataFlux Func's task timeout when DFF.API sets none
TIMEZONE_ENV = "GUANCE_MONITOR_TIMEZONE"
TIMEOUT_MARGIN = 0.05         # finish this share of the timeout early ...
TIMEOUT_MARGIN_MIN_S = 2.0    # ... and at least this many seconds
CHECKER_PATH = "/api/v1/self_built_checker/"
RULE_KEY = "rule"

log = logs.get(__name__)


class FuncInfo:
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
        self.scope = script_scope(func)
        self.timeout = _api_timeout(self.scope, self.name)
        self.enabled_by_default = all(spec.get("enabled_by_default", True) for spec in _inspections(self.scope))

    def ref_func_info(self):
        """``refFuncInfo`` as ``modify`` documents it (description, definition, category, args, kwargs)."""
        return {"description": self.description, "definition": self.definition,
                "category": self.category, "args": self.args, "kwargs": self.kwargs}

    def create_func_info(self):
        """``refFuncInfo`` for ``create``, which documents ``funcId`` too."""
        info = self.ref_func_info()
        info["funcId"] = self.func_id
        return info

    def accepts(self, name):
        return name in self.args or any(a.startswith("**") for a in self.args)

    def deadline(self):
        """The run's own deadline: the function's timeout less a margin for the last requests."""
        margin = max(TIMEOUT_MARGIN_MIN_S, self.timeout * TIMEOUT_MARGIN)
        return retry.Deadline(max(1.0, self.timeout - margin))


def script_scope(func):
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


# -- the rule in Guance ---------------------------------------------------------------------------

class Rule:
    """What the run needs of the inspection's rule: UUID, disabled, Studio values; where it came from."""

    def __init__(self, uuid=None, disabled=False, call_kwargs=None, title=None, func_info=None, source="guance",
                 problem=None):
        self.uuid = uuid
        self.disabled = disabled
        self.call_kwargs = call_kwargs if isinstance(call_kwargs, dict) else {}
        self.title = title
        self.func_info = func_info if isinstance(func_info, dict) else {}
        self.source = source          # guance | cached | code (no rule could be read)
        self.problem = problem        # why the registration API could not be used this run

    @classmethod
    def from_listed(cls, item):
        script = item.get("jsonScript") if isinstance(item.get("jsonScript"), dict) else {}
        return cls(uuid=item.get("uuid"), disabled=is_disabled(item), call_kwargs=script.get("callKwargs"),
                   title=script.get("title"), func_info=script.get("refFuncInfo"))

    def to_state(self):
        return {"uuid": self.uuid, "disabled": self.disabled, "callKwargs": self.call_kwargs, "title": self.title,
                "refFuncInfo": self.func_info}

    @classmethod
    def from_state(cls, value, problem):
        if not isinstance(value, dict) or not value.get("uuid"):
            return None
        return cls(uuid=value["uuid"], disabled=bool(value.get("disabled")), call_kwargs=value.get("callKwargs"),
                   title=value.get("title"), func_info=value.get("refFuncInfo"), source="cached", problem=problem)


def is_disabled(item):
    return bool(item.get("isDisabled")) or item.get("status") not in (None, 0)


def listed_rules(content):
    """The rules of a ``list`` answer: ``content.data[]`` as documented (a bare list is read too); None when the
    answer holds no list at all, which is not "no rule": an answer cut short must not lead to a second inspection."""
    if isinstance(content, dict):
        content = content.get("data")
    if not isinstance(content, list):
        return None
    return [item for item in content if isinstance(item, dict)]


def find_rule(api, key):
    """The listed rule with this refKey, or None (``GET list?refKey=``); GuanceAPIError (malformed) when the answer
    lists nothing at all."""
    path = CHECKER_PATH + "list"
    rules = listed_rules(api.get(path, refKey=key))
    if rules is None:
        raise openapi.GuanceAPIError(path, "malformed", message="the answer has no content.data list of rules")
    for item in rules:
        if item.get("refKey") in (None, key) and item.get("uuid"):
            return item
    return None


def changed(item, info):
    """True when Studio's copy of the title or the function's description differs from the code's."""
    script = item.get("jsonScript") if isinstance(item.get("jsonScript"), dict) else {}
    listed = script.get("refFuncInfo") if isinstance(script.get("refFuncInfo"), dict) else {}
    wanted = info.ref_func_info()
    return script.get("title") != info.title or any(listed.get(k) != v for k, v in wanted.items())


def sync_rule(api, key, info):
    """The inspection's rule in Guance, created or updated to match ``info`` (GuanceAPIError when it fails)."""
    item = find_rule(api, key)
    if item is None:
        try:
            api.post(CHECKER_PATH + "create", {"refKey": key, "title": info.title,
                                               "refFuncInfo": info.create_func_info(),
                                               "isDisabled": not info.enabled_by_default})
        except openapi.GuanceAPIError as exc:
            # refused: another run (a manual one during the first cron run) may have just created it
            if not exc.refused or find_rule(api, key) is None:
                raise
        item = find_rule(api, key)
        if item is None:
            raise openapi.GuanceAPIError(CHECKER_PATH + "list", "malformed",
                                         message="the inspection just created is not listed")
        log.info("inspection %r registered in Guance (%s)", info.title, item.get("uuid"))
        return Rule.from_listed(item)
    if changed(item, info):
        api.post(CHECKER_PATH + "modify", {"ruleUUID": item["uuid"], "refKey": key, "title": info.title,
                                           "refFuncInfo": info.ref_func_info()})
        log.info("inspection %r updated in Guance (title, doc or parameters changed)", info.title)
    return Rule.from_listed(item)


def load_rule(api, store, key, info):
    """The rule for this run: read from Guance, else the last known one when Guance is unreachable."""
    saved = store.scoped("registration:%s" % key)
    try:
        rule = sync_rule(api, key, info)
    except openapi.GuanceAPIError as exc:
        if not exc.transient:
            raise
        cached = Rule.from_state(saved.get(RULE_KEY), redact_line(exc))
        if cached is not None:
            log.warning("Guance's registration API is unavailable (%s): running with the inspection's last known "
                        "settings; events wait in the outbox until Guance answers", cached.problem)
            return cached
        if not info.enabled_by_default:
            log.warning("Guance's registration API is unavailable (%s) and this inspection is disabled by default "
                        "until enabled in Studio: not run", redact_line(exc))
            return Rule(disabled=True, source="code", problem=redact_line(exc))
        log.warning("Guance's registration API is unavailable (%s): running with the code's arguments; events wait "
                    "in the outbox", redact_line(exc))
        return Rule(source="code", problem=redact_line(exc))
    saved.set(RULE_KEY, rule.to_state())
    return rule


def redact_line(exc):
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def studio_kwargs(rule, info):
    """The Studio values the function accepts (others are logged and ignored)."""
    accepted = {}
    for name, value in rule.call_kwargs.items():
        if info.accepts(name):
            accepted[name] = value
        else:
            log.info("Studio parameter %r ignored: %s() has no such argument", name, info.name)
    return accepted


def display_zone(scope, host, guance_node):
    """The zone report times are shown in (see step 7 above); a zone that cannot be read is logged, not fatal."""
    account = scope.get("account")
    for where, text in (("account['timezone']", account.get("timezone") if isinstance(account, dict) else None),
                        ("DFF.ENV('%s')" % TIMEZONE_ENV, host.env(TIMEZONE_ENV))):
        if text in (None, ""):
            continue
        try:
            return report.parse_zone(text)
        except ValueError as exc:
            log.warning("%s: %s; times are shown in the Guance node's zone instead", where, exc)
            break
    return report.zone_for_node(openapi.node_key(guance_node))


def self_hosted_monitor(api_key_id, api_key, guance_node=None):
    """Decorator: register the function as a Guance inspection and run it with Studio's configs."""

    def decorate(func):
        info = FuncInfo(func)

        @functools.wraps(func)
        def run_inspection(*args, **kwargs):
            host = hosts.Host(info.scope.get("DFF"))
            with context.hosted(host):
                deadline = info.deadline()
                api = openapi.GuanceOpenAPI(api_key_id, api_key, guance_node, deadline=deadline,
                                            pacer=pacing.Pacer(host.store, api_key_id))
                key = host.sign(info.func_id)
                rule = load_rule(api, host.store, key, info)
                if rule.disabled:
                    log.info("inspection %r is disabled in Guance Studio: skipped", info.title)
                    return None
                call_kwargs = dict(kwargs)
                call_kwargs.update(studio_kwargs(rule, info))
                ctx = context.RunContext(api=api, store=host.store, deadline=deadline, ref_key=key,
                                         rule_uuid=rule.uuid, func_id=info.func_id, title=info.title,
                                         started_at=clock.now(), host=host, timeout=info.timeout, rule=rule,
                                         guance_node=guance_node)
                with context.activate(ctx), report.display_zone(display_zone(info.scope, host, guance_node)):
                    return func(*args, **call_kwargs)

        return run_inspection

    return decorate
