"""A local DataFlux Func: run startup scripts unchanged, outside Func.

It does what Func's worker does for a task (see the contract, section 1):

- each script runs in its own scope with ``DFF`` and the ``_DFF_*`` variables injected,
  ``print`` captured into the task log, and ``__import__`` replaced: a name containing
  ``__`` is a script ID (``import __runner`` means the same script set) loaded from the
  library, once per task, inheriting the caller's ``_DFF_*``; ``from X__Y import name``
  refuses a missing or falsy ``name``, as Func does; other names are normal imports;
- ``DFF.API`` validates its options as Func does and sets the same attributes on the
  function; ``DFF.ENV``, ``DFF.CACHE`` (files under the state directory, scoped per
  script), ``DFF.STORE``, ``DFF.SIGN``, ``DFF.CONFIG``, ``DFF.CTX``, ``DFF.LOG``, each also
  under its lower-case alias as in Func; an unknown ``DFF.<name>`` raises AttributeError
  naming it (Func answers None); ``DFF.SIGN``'s secret lives in the user's configuration
  directory (``_local_secret``), not in the state directory;
- the task's ``timeout`` is enforced: the function is interrupted when it runs out.

Scripts come from a library: this repository's script sets (package-form imports
rewritten into Func form on load), or an exported script market directory.
"""
import builtins
import ctypes
import difflib
import functools
import hashlib
import inspect
import json
import os
import signal
import threading
import time
import types
import uuid

from guance_monitor import clock
from guance_monitor import state
from guance_monitor_local import market

TIMEOUT_MIN, TIMEOUT_MAX, TIMEOUT_DEFAULT = 1, 3600, 35
EXPIRES_MIN, EXPIRES_MAX = 1, 86400


class FuncError(Exception):
    """A user-facing problem running a script (not found, bad options, timeout)."""


class FuncTimeout(FuncError):
    """How a timed-out task's error is reported (the task itself was stopped by ``TaskTimeout``)."""


class TaskTimeout(BaseException):
    """Raised in the running code when the task's time is up, as Func's worker does: ``except Exception`` does not catch it."""


class InvalidAPIOption(FuncError):
    pass


class CustomImportError(ImportError):
    pass


# -- script libraries --------------------------------------------------------------------------

class PackageLibrary:
    """This repository's script sets; sources rewritten into Func's import form on load."""

    def __init__(self, root=market.ROOT):
        self.paths = market.package_scripts(root)
        self._cache = {}

    def has(self, script_id):
        return script_id in self.paths

    def ids(self):
        return sorted(self.paths)

    def source(self, script_id):
        if script_id not in self._cache:
            self._cache[script_id] = market.read_script(self.paths[script_id], script_id)
        return self._cache[script_id]

    def filename(self, script_id):
        return self.paths[script_id]


class MarketLibrary:
    """An exported script market: ``script-sets/<set>/<script>.py``."""

    def __init__(self, directory):
        self.directory = directory
        self.paths = {}
        base = os.path.join(directory, "script-sets")
        if not os.path.isdir(base):
            raise FuncError("%s is not a script market (no script-sets/ folder)" % directory)
        for set_id in sorted(os.listdir(base)):
            folder = os.path.join(base, set_id)
            for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
                if name.endswith(".py"):
                    self.paths["%s__%s" % (set_id, name[:-3])] = os.path.join(folder, name)

    def has(self, script_id):
        return script_id in self.paths

    def ids(self):
        return sorted(self.paths)

    def source(self, script_id):
        with open(self.paths[script_id], "r", encoding="utf-8") as handle:
            return handle.read()

    def filename(self, script_id):
        return self.paths[script_id]


class OverlayLibrary:
    """Extra scripts (a startup script given by path or text) over a base library."""

    def __init__(self, base, extra):
        self.base = base
        self.extra = dict(extra)   # script id -> (source, filename)

    def has(self, script_id):
        return script_id in self.extra or self.base.has(script_id)

    def ids(self):
        return sorted(set(self.extra) | set(self.base.ids()))

    def source(self, script_id):
        return self.extra[script_id][0] if script_id in self.extra else self.base.source(script_id)

    def filename(self, script_id):
        return self.extra[script_id][1] if script_id in self.extra else self.base.filename(script_id)


# -- DFF helpers -------------------------------------------------------------------------------

class LocalCache:
    """``DFF.CACHE``: a Redis-like cache in files; values come back as text, as from Redis."""

    def __init__(self, store, default_scope):
        self.store = store
        self.default_scope = default_scope

    def _key(self, key, scope):
        return "funcCache:%s:%s" % (scope or self.default_scope, key)

    def __call__(self, key, scope=None):
        return self.get(key, scope)

    @staticmethod
    def _text(value):
        if isinstance(value, bool):
            return "True" if value else "False"
        if isinstance(value, bytes):
            return value.decode("utf-8")
        return value if isinstance(value, str) else str(value)

    def set(self, key, value, scope=None, expire=None, not_exists=False, expires=None):
        full = self._key(key, scope)
        if not_exists:     # Redis SET NX: atomic, across processes too
            return True if self.store.add(full, self._text(value), expires=expire or expires) else None
        self.store.set(full, self._text(value), expires=expire or expires)
        return True

    def get(self, key, scope=None):
        value = self.store.get(self._key(key, scope))
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)       # a counter, as Redis answers it
        return value if value is None or isinstance(value, str) else None

    def getset(self, key, value, scope=None):
        old = self.get(key, scope)
        self.set(key, value, scope)
        return old

    def expire(self, key, expires, scope=None):
        full = self._key(key, scope)
        value = self.store.get(full)
        if value is None:
            return False
        self.store.set(full, value, expires=expires)
        return True

    def delete(self, key, scope=None):
        self.store.delete(self._key(key, scope))
        return 1

    def incr(self, key, step=1, scope=None):
        return self.incrby(key, step, scope)

    def incrby(self, key, step=1, scope=None):
        return self.store.incr(self._key(key, scope), int(step))

    def hset(self, key, field, value, scope=None, not_exists=False):
        full = self._key(key, scope)
        table = self.store.get(full) or {}
        if not isinstance(table, dict):
            table = {}
        if not_exists and field in table:
            return 0
        table[field] = self._text(value)
        self.store.set(full, table)
        return 1

    def hget(self, key, field=None, scope=None):
        table = self.store.get(self._key(key, scope)) or {}
        if not isinstance(table, dict):
            return None
        if field is None:
            return dict(table)
        if isinstance(field, (list, tuple)):
            return {f: table.get(f) for f in field}
        return table.get(field)

    def hgetall(self, key, scope=None):
        return self.hget(key, scope=scope)

    def hmget(self, key, fields, scope=None):
        return self.hget(key, list(fields), scope)

    def hdel(self, key, field, scope=None):
        full = self._key(key, scope)
        table = self.store.get(full) or {}
        fields = field if isinstance(field, (list, tuple)) else [field]
        removed = sum(1 for f in fields if table.pop(f, None) is not None)
        self.store.set(full, table)
        return removed

    def _list(self, key, scope):
        value = self.store.get(self._key(key, scope)) or []
        return value if isinstance(value, list) else []

    def lpush(self, key, value, scope=None):
        items = [self._text(value)] + self._list(key, scope)
        self.store.set(self._key(key, scope), items)
        return len(items)

    def rpush(self, key, value, scope=None):
        items = self._list(key, scope) + [self._text(value)]
        self.store.set(self._key(key, scope), items)
        return len(items)

    def lpop(self, key, scope=None):
        items = self._list(key, scope)
        if not items:
            return None
        self.store.set(self._key(key, scope), items[1:])
        return items[0]

    def rpop(self, key, scope=None):
        items = self._list(key, scope)
        if not items:
            return None
        self.store.set(self._key(key, scope), items[:-1])
        return items[-1]

    def llen(self, key, scope=None):
        return len(self._list(key, scope))

    def lrange(self, key, start=0, stop=-1, scope=None):
        items = self._list(key, scope)
        return items[start:None if stop == -1 else stop + 1]

    def keys(self, pattern="*", scope=None):
        raise FuncError("DFF.CACHE.keys is not available in the local runtime")


class LocalStoreHelper:
    """``DFF.STORE``: JSON values with scope and expiry."""

    def __init__(self, store, default_scope):
        self.store = store
        self.default_scope = default_scope

    def _key(self, key, scope):
        return "funcStore:%s:%s" % (scope or self.default_scope, key)

    def __call__(self, key, scope=None):
        return self.get(key, scope)

    def set(self, key, value, scope=None, expire=None, not_exists=False, expires=None):
        if not_exists and self.get(key, scope) is not None:
            return
        self.store.set(self._key(key, scope), value, expires=expire or expires)

    def get(self, key, scope=None):
        return self.store.get(self._key(key, scope))

    def delete(self, key, scope=None):
        self.store.delete(self._key(key, scope))


class LocalDFF:
    """The ``DFF`` object of one script scope.

    Its helpers answer under their name and its lower-case alias, as in Func; an unknown
    name raises AttributeError naming it (with a did-you-mean), where Func would answer None
    and leave the user with a ``'NoneType' object is not callable`` far from the typo.
    """

    def __init__(self, task, scope, script_id):
        self._task = task
        self._scope = scope
        self.api_funcs = []
        self.api_func_set = set()
        self.print_log_lines = task.log_lines
        self.ENV = task.env_helper
        self.CACHE = LocalCache(task.runtime.store, script_id)
        self.STORE = LocalStoreHelper(task.runtime.store, script_id)
        self.CTX = task.ctx
        self.CONFIG = task.runtime.config_helper
        self.LOG = task.log
        self.SIGN = task.runtime.sign
        self.TASK = task
        # The runtime's clock (what `clock.frozen` / FakeSleep set outside) for this task's scripts.
        self.GUANCE_MONITOR_CLOCK = clock

    def API(self, title=None, fixed_cron_expr=None, fixed_crontab=None, delayed_cron_job=None,
            delayed_crontab=None, timeout=None, api_timeout=None, expires=None, cache_result=None,
            queue=None, category=None, tags=None, integration=None, integration_config=None,
            is_hidden=False):
        return self._task.export_as_api(self._scope, self, title, fixed_crontab or fixed_cron_expr,
                                        delayed_crontab or delayed_cron_job, timeout or api_timeout,
                                        expires, cache_result, queue, category, tags, is_hidden)

    def __getattr__(self, name):
        # Only reached for names not set above. Func also answers the lower-case alias of each
        # helper (``DFF.api``, ``DFF.env``); any other name is a mistake, said so, not a silent None.
        helpers = self.helper_names()
        if name == name.lower() and name.upper() in helpers:
            return getattr(self, name.upper())
        raise AttributeError(unknown_dff_attribute(name, helpers))

    def helper_names(self):
        """The ``DFF.<NAME>`` helpers of this runtime."""
        return sorted(set(n for n in vars(self) if n.isupper()) | {"API"})


# What DataFlux Func's ``DFF`` offers that the local runtime does not (contract, section 1.3).
FUNC_ONLY_HELPERS = ("CONN", "SRC", "SQL", "RSRC", "RESP", "RESP_FILE", "RESP_LARGE_DATA", "REDIRECT", "FUNC",
                     "BLUEPRINT", "THREAD", "SYS_DB", "SYS_CACHE_DB", "SYNC_API", "ASYNC_API", "CRON_JOB",
                     "CRONTAB_CONFIG", "GUANCE_OPENAPI", "DATAKIT", "DATAWAY", "TOOLKIT", "EXTRA_GUANCE_DATA", "VAR")


def unknown_dff_attribute(name, known):
    """The message for ``DFF.<name>`` that the local runtime does not have, with a did-you-mean."""
    if name in FUNC_ONLY_HELPERS:
        return "DFF.%s exists in DataFlux Func but not in the local runtime" % name
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6) or \
        difflib.get_close_matches(name.upper(), list(known), n=1, cutoff=0.6)
    hint = " (did you mean DFF.%s?)" % close[0] if close else ""
    return "DFF has no attribute %r%s" % (name, hint)


class EnvHelper:
    """``DFF.ENV(name)``: the runtime's environment variables (None when unset)."""

    def __init__(self, values):
        self.values = dict(values or {})

    def __call__(self, name):
        return self.get(name)

    def get(self, name):
        return self.values.get(name)

    def keys(self):
        return list(self.values)


class ConfigHelper:
    def __init__(self, values):
        self.values = dict(values or {})

    def __call__(self, key, default=None):
        return self.get(key, default)

    def get(self, key, default=None, unmask=False):
        return self.values.get(key, default)


class ContextHelper:
    def __init__(self):
        self._data = {}

    def __call__(self, key):
        return self.get(key)

    def has(self, key):
        return key in self._data

    def get(self, key):
        return self._data.get(key)

    def set(self, key, value):
        self._data[key] = value

    def delete(self, key):
        return self._data.pop(key, None)

    def get_all(self):
        return dict(self._data)

    def clear(self):
        self._data.clear()


# -- one task ----------------------------------------------------------------------------------

class Task:
    """One function call, as one Func task: its own module cache, log, context."""

    def __init__(self, runtime, func_id, kwargs=None, origin="crontab", cron_expr=None):
        self.runtime = runtime
        self.func_id = func_id
        self.script_id, _, self.func_name = func_id.partition(".")
        if "__" not in self.script_id:
            raise FuncError("function ID %r is not <scriptset>__<script>.<func>" % func_id)
        self.script_set_id = self.script_id.split("__", 1)[0]
        self.kwargs = dict(kwargs or {})
        self.task_id = "task-" + uuid.uuid4().hex[:16]
        self.origin = origin
        self.cron_expr = cron_expr
        self.log_lines = []
        self.env_helper = EnvHelper(runtime.env)
        self.ctx = ContextHelper()
        self.modules = {}
        self.trigger_time = clock.now()
        self.start_time = clock.now()
        self.entry_scope = None

    def log(self, *args, **kwargs):
        message = (kwargs.get("sep") or " ").join(str(a) for a in args)
        line = {"time": clock.now().isoformat(), "message": message}
        self.log_lines.append(line)
        if self.runtime.echo is not None:
            self.runtime.echo(message)

    def dff_globals(self):
        trigger_s = clock.to_ms(self.trigger_time) / 1000.0
        start_s = clock.to_ms(self.start_time) / 1000.0
        return {
            "_DFF_DEBUG": False, "_DFF_TASK_ID": self.task_id, "_DFF_ROOT_TASK_ID": "ROOT",
            "_DFF_SCRIPT_SET_ID": self.script_set_id, "_DFF_SCRIPT_ID": self.script_id,
            "_DFF_FUNC_ID": self.func_id, "_DFF_FUNC_NAME": self.func_name, "_DFF_FUNC_CHAIN": [self.func_id],
            "_DFF_ORIGIN": self.origin, "_DFF_ORIGIN_ID": None,
            "_DFF_TRIGGER_TIME": int(trigger_s), "_DFF_TRIGGER_TIME_MS": int(trigger_s * 1000),
            "_DFF_START_TIME": int(start_s), "_DFF_START_TIME_MS": int(start_s * 1000),
            "_DFF_CRONTAB": self.cron_expr, "_DFF_CRON_EXPR": self.cron_expr,
            "_DFF_CRONTAB_EXEC_MODE": "crontab" if self.origin == "crontab" else "manual",
            "_DFF_CRON_JOB_EXEC_MODE": "crontab" if self.origin == "crontab" else "manual",
            "_DFF_QUEUE": 1, "_DFF_HTTP_REQUEST": {},
        }

    def create_scope(self, script_id, parent_scope=None, scope=None):
        """Fill ``scope`` (a new dict by default) as Func does for a script: DFF, _DFF_*, safe builtins."""
        scope = {} if scope is None else scope
        scope.update({"__name__": script_id, "__file__": script_id})
        scope.update(self.dff_globals())
        if parent_scope is not None:
            for key, value in parent_scope.items():
                if key.startswith("_DFF_"):
                    scope[key] = value
        scope["DFF"] = LocalDFF(self, scope, script_id)
        safe_builtins = {name: getattr(builtins, name) for name in dir(builtins)
                             if name not in ("BaseException",)}
        # Bound to the very dict the script runs in, so what it sets before an import is seen.
        safe_builtins["__import__"] = functools.partial(self.custom_import, scope)
        safe_builtins["print"] = self.log
        scope["__builtins__"] = safe_builtins
        return scope

    def custom_import(self, importer_scope, name, globals=None, locals=None, fromlist=(), level=0):
        script_id = name
        if name.startswith("__") and name != "__future__":
            script_id = (importer_scope.get("__name__") or "").split("__")[0] + name
        if "__" in script_id and self.runtime.library.has(script_id):
            module = self.import_script(script_id, importer_scope)
            for import_name in fromlist or ():
                if not module.__dict__.get(import_name):
                    raise CustomImportError("CustomImport: Cannot import name `%s` from `%s` "
                                            "(missing or falsy, as Func refuses it)" % (import_name, script_id))
                if globals is not None:
                    globals[import_name] = module.__dict__[import_name]
            return module
        if "__" in name and "." not in name and name != "__future__" and not name.startswith("_"):
            close = difflib.get_close_matches(name, self.runtime.library.ids(), n=1, cutoff=0.6)
            hint = "did you mean %r?" % close[0] if close else "Func would look it up as a script"
            raise CustomImportError("no script %r in the script library (%s)" % (name, hint))
        return builtins.__import__(name, globals, locals, fromlist or (), level)

    def import_script(self, script_id, parent_scope=None):
        module = self.modules.get(script_id)
        if module is not None:
            return module
        module = types.ModuleType(script_id)
        module.__dict__.clear()
        self.create_scope(script_id, parent_scope, scope=module.__dict__)
        self.modules[script_id] = module
        try:
            exec(self.runtime.compiled(script_id), module.__dict__)
        except BaseException:
            self.modules.pop(script_id, None)
            raise
        return module

    def export_as_api(self, scope, dff, title, fixed_crontab, delayed_crontab, timeout, expires, cache_result,
                      queue, category, tags, is_hidden):
        extra = {}
        if title is not None and not isinstance(title, str):
            raise InvalidAPIOption("`title` should be a string")
        if fixed_crontab is not None:
            if not isinstance(fixed_crontab, str) or not _valid_cron(fixed_crontab):
                raise InvalidAPIOption("`fixed_crontab` is not a valid crontab expression")
            if len(fixed_crontab.split()) > 5:
                raise InvalidAPIOption("`fixed_crontab` does not support second part")
            extra["fixedCronExpr"] = fixed_crontab
            extra["fixedCrontab"] = fixed_crontab
        if delayed_crontab is not None:
            delays = sorted(set(delayed_crontab if isinstance(delayed_crontab, (list, tuple)) else [delayed_crontab]))
            if not all(isinstance(d, int) for d in delays):
                raise InvalidAPIOption("Elements of `delayed_crontab` should be int")
            extra["delayedCrontab"] = delays
        if timeout is not None:
            if not isinstance(timeout, int) or isinstance(timeout, bool):
                raise InvalidAPIOption("`timeout` should be an integer")
            if not TIMEOUT_MIN <= timeout <= TIMEOUT_MAX:
                raise InvalidAPIOption("`timeout` should be between `%d` and `%d` (seconds)" % (TIMEOUT_MIN, TIMEOUT_MAX))
            extra["timeout"] = timeout
        if expires is not None:
            if not isinstance(expires, int) or not EXPIRES_MIN <= expires <= EXPIRES_MAX:
                raise InvalidAPIOption("`expires` should be an integer between `%d` and `%d`" % (EXPIRES_MIN, EXPIRES_MAX))
            extra["expires"] = expires
        if cache_result is not None:
            extra["cacheResult"] = cache_result
        if queue is not None:
            if queue == 0 or not isinstance(queue, int) or not 0 < queue < 10:
                raise InvalidAPIOption("`queue` should be one of 1..9 (0 is the system queue)")
            extra["queue"] = queue
        if category is not None and not isinstance(category, str):
            raise InvalidAPIOption("`category` should be a string")
        category = category or "general"
        if tags is not None:
            if not isinstance(tags, (list, tuple)) or not all(isinstance(t, str) for t in tags):
                raise InvalidAPIOption("`tags` should be a list of strings")
            tags = sorted(set(tags))
        if is_hidden is True:
            extra["isHidden"] = True

        def decorate(func):
            name, definition, args, kwargs, doc = _definition(func)
            if name in dff.api_func_set:
                raise FuncError("DuplicatedFuncName: Two or more functions named `%s`" % name)
            dff.api_func_set.add(name)
            dff.api_funcs.append({"name": name, "title": title, "description": doc, "definition": definition,
                                  "extraConfig": extra, "category": category, "tags": tags, "args": args,
                                  "kwargs": kwargs, "defOrder": len(dff.api_funcs)})

            @functools.wraps(func)
            def dff_api_func(*a, **kw):
                return func(*a, **kw)

            for target in (func, dff_api_func):
                target._DFF_FUNC_ID = "%s.%s" % (scope["__name__"], name)
                target._DFF_FUNC_NAME = name
                target._DFF_FUNC_TITLE = title
                target._DFF_FUNC_DESCRIPTION = doc
                target._DFF_FUNC_DEFINITION = definition
                target._DFF_FUNC_CATEGORY = category
                target._DFF_FUNC_TAGS = tags
                target._DFF_FUNC_ARGS = args
                target._DFF_FUNC_KWARGS = kwargs
            return dff_api_func
        return decorate


def _definition(func):
    """(name, definition, args, kwargs, doc) as Func computes them."""
    name = func.__code__.co_name.strip()
    doc = inspect.cleandoc(func.__doc__) if func.__doc__ else None
    signature = inspect.signature(func)
    spec = inspect.getfullargspec(func)
    args = list(spec.args)
    if spec.varargs:
        args.append("*" + spec.varargs)
    if spec.varkw:
        args.append("**" + spec.varkw)
    kwargs = {}
    for arg_name, param in signature.parameters.items():
        if param.kind == param.VAR_POSITIONAL:
            kwargs["*" + arg_name] = {}
        elif param.kind == param.VAR_KEYWORD:
            kwargs["**" + arg_name] = {}
        elif param.kind == param.POSITIONAL_OR_KEYWORD:
            kwargs[arg_name] = {}
            if param.default is not param.empty:
                try:
                    kwargs[arg_name]["default"] = json.loads(json.dumps(param.default))
                except (TypeError, ValueError):
                    kwargs[arg_name]["default"] = "<Complex Object>"
    return name, ("%s%s" % (name, signature)).strip(), args, kwargs, doc


def _valid_cron(expression):
    try:
        from croniter import croniter
    except ImportError:  # pragma: no cover - croniter is a dependency
        return len(expression.split()) == 5
    return croniter.is_valid(expression)


# -- the runtime -------------------------------------------------------------------------------

class TaskResult:
    def __init__(self, task, value=None, error=None, seconds=0.0, api_funcs=None):
        self.task = task
        self.value = value
        self.error = error
        self.seconds = seconds
        self.api_funcs = api_funcs or []

    @property
    def ok(self):
        return self.error is None

    @property
    def log(self):
        return [line["message"] for line in self.task.log_lines]


class FuncRuntime:
    """Runs functions of scripts from a library, task by task, as Func's worker does."""

    def __init__(self, library=None, env=None, state_dir=None, secret=None, echo=print, config=None):
        self.library = library or PackageLibrary()
        self.env = dict(env or {})
        self.store = state.FileStore(os.path.join(state_dir, "func") if state_dir else None)
        self.secret = secret or _local_secret(self.store)
        self.config_helper = ConfigHelper(config or {})
        self.echo = echo
        self._compiled = {}

    def sign(self, *args):
        return hashlib.md5((self.secret + "\n" + "\n".join(map(str, args))).encode("utf-8")).hexdigest()

    def compiled(self, script_id):
        if script_id not in self._compiled:
            source = self.library.source(script_id)
            self._compiled[script_id] = compile(source, self.library.filename(script_id), "exec")
        return self._compiled[script_id]

    def load(self, script_id):
        """Load a script in a throwaway task; returns (its DFF.API functions, scope)."""
        task = Task(self, script_id + ".__load__", origin="load")
        module = task.import_script(script_id)
        return module.__dict__["DFF"].api_funcs, module.__dict__

    def run(self, func_id, kwargs=None, timeout=None, origin="crontab", cron_expr=None):
        """Run one function as one task; a TaskResult (never raises for the script's errors).

        The function's ``timeout`` is enforced as Func's worker enforces it: ``TaskTimeout``,
        a ``BaseException``, is raised in the running code when the time is up — by
        ``SIGALRM`` when the task runs in the main thread (interrupting sleeps and
        blocking calls, as in Func), else injected into the task's thread (taking effect
        at its next Python instruction). What the function had not sent is lost.
        """
        task = Task(self, func_id, kwargs, origin=origin, cron_expr=cron_expr)
        if not self.library.has(task.script_id):
            raise FuncError("script %r not found" % task.script_id)
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            return self._run_with_alarm(task, timeout)
        return self._run_in_thread(task, timeout)

    def _load_entry(self, task, outcome, timeout):
        module = task.import_script(task.script_id)
        entry = module.__dict__.get(task.func_name)
        if entry is None or not callable(entry):
            raise FuncError("Function not found: `%s`" % task.func_id)
        task.entry_scope = module.__dict__
        outcome["api_funcs"] = module.__dict__["DFF"].api_funcs
        outcome["timeout"] = timeout or _func_timeout(outcome["api_funcs"], task.func_name)
        return entry

    def _result(self, task, outcome, started):
        error = outcome.get("error")
        if isinstance(error, TaskTimeout):
            error = FuncTimeout("%s timed out after %d s (the timeout of its DFF.API)"
                                % (task.func_id, outcome.get("timeout") or TIMEOUT_DEFAULT))
        return TaskResult(task, outcome.get("value"), error, time.monotonic() - started, outcome.get("api_funcs"))

    def _run_with_alarm(self, task, timeout):
        started = time.monotonic()
        outcome = {}

        def on_alarm(signum, frame):
            raise TaskTimeout()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        try:
            signal.setitimer(signal.ITIMER_REAL, timeout or TIMEOUT_MAX)
            entry = self._load_entry(task, outcome, timeout)
            left = outcome["timeout"] - (time.monotonic() - started)
            if left <= 0:
                raise TaskTimeout()
            signal.setitimer(signal.ITIMER_REAL, left)
            outcome["value"] = entry(**task.kwargs)
        except BaseException as exc:  # noqa: BLE001 - reported as the task's error, as Func does
            outcome["error"] = exc
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return self._result(task, outcome, started)

    def _run_in_thread(self, task, timeout):
        started = time.monotonic()
        outcome = {}
        loaded = threading.Event()

        def body():
            try:
                entry = self._load_entry(task, outcome, timeout)
                loaded.set()
                outcome["value"] = entry(**task.kwargs)
            except BaseException as exc:  # noqa: BLE001 - reported as the task's error
                outcome["error"] = exc
            finally:
                loaded.set()

        thread = threading.Thread(target=body, name="func-task-%s" % task.task_id, daemon=True)
        thread.start()
        loaded.wait()
        limit = outcome.get("timeout") or timeout or TIMEOUT_DEFAULT
        thread.join(max(0.0, limit - (time.monotonic() - started)))
        if thread.is_alive():
            _raise_in_thread(thread, TaskTimeout)
            thread.join(5)
            outcome.setdefault("error", TaskTimeout())
        return self._result(task, outcome, started)


def _func_timeout(api_funcs, name):
    for entry in api_funcs or []:
        if entry["name"] == name:
            return entry["extraConfig"].get("timeout") or TIMEOUT_DEFAULT
    return TIMEOUT_DEFAULT


def _raise_in_thread(thread, exc_type):
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(exc_type))


def _local_secret(store):
    """The signing secret outside Func (what ``DFF.SIGN``, hence the inspection's refKey, uses).

    ``$GUANCE_MONITOR_FUNC_SECRET`` when set; else the file ``func-secret`` in the user's
    configuration directory (``config_dir()``), made once. It does not live in the state
    directory, so moving the state does not register a second inspection. A secret that an
    earlier version kept in the state directory (``store``) is adopted when there is no file yet.
    """
    secret = os.environ.get(FUNC_SECRET_ENV)
    if secret:
        return secret
    return read_or_create_secret(os.path.join(config_dir(), SECRET_FILE), lambda: store.get("func-secret"))


FUNC_SECRET_ENV = "GUANCE_MONITOR_FUNC_SECRET"
CONFIG_DIR_ENV = "GUANCE_MONITOR_CONFIG_DIR"
SECRET_FILE = "func-secret"


def config_dir():
    """``$GUANCE_MONITOR_CONFIG_DIR``, else ``~/.config/guance-monitor``."""
    return os.environ.get(CONFIG_DIR_ENV) or os.path.join(os.path.expanduser("~"), ".config", "guance-monitor")


def read_or_create_secret(path, earlier=lambda: None):
    """The secret in ``path``; created (mode 0600) from ``earlier()`` or at random when absent.

    Two processes starting at once agree: the file appears whole and only once; the loser reads it.
    """
    existing = _read_secret(path)
    if existing:
        return existing
    secret = earlier() or hashlib.sha256(os.urandom(32)).hexdigest()
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    temporary = os.path.join(folder, ".%s.%s" % (os.path.basename(path), uuid.uuid4().hex))
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(secret + "\n")
    try:
        os.link(temporary, path)   # appears whole, and only if absent
    except FileExistsError:
        secret = _read_secret(path) or secret
    finally:
        os.unlink(temporary)
    return secret


def _read_secret(path):
    try:
        with open(path, "r", encoding="utf-8") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return None


def script_id_for_path(path):
    """The script ID a startup script file runs as: its name if it has ``__``, else ``startup__<name>``."""
    name = os.path.splitext(os.path.basename(path))[0]
    return name if "__" in name else "startup__" + name

