"""The host an inspection runs in: its clock, state store, environment, task log and signing key.

``self_hosted_monitor`` builds one ``Host`` per run from the ``DFF`` object of the
startup script and hands it down through the run context, so that no module reaches
for a global ``DFF``:

- inside DataFlux Func: ``DFF.CACHE`` (Redis) is the store, ``DFF.ENV`` the
  environment, ``DFF.LOG`` the task log, ``DFF.SIGN`` the signing key; time is real;
- inside the local Func runtime (``guance-monitor run/serve/demo``): the same helpers,
  plus the runtime's clock (``DFF.GUANCE_MONITOR_CLOCK``), which lets a scenario be
  replayed at its own times;
- without ``DFF`` (a plain Python process, unit tests): a file store under
  ``$GUANCE_MONITOR_STATE_DIR``, ``os.environ``, ``print``, and a signing secret kept
  beside the user's configuration (``local_secret``).

Every inspection that imports the core shares one ``DFF.CACHE`` scope
(``STATE_SCOPE``), whichever script's ``DFF`` the host was built from; keys are
namespaced per inspection inside it.
"""
import hashlib
import os

from guance_monitor import redact
from guance_monitor import state

# The cache scope the core has always used inside Func (it was the state script's own scope).
STATE_SCOPE = "guance_monitor__state"
FUNC_SECRET_ENV = "GUANCE_MONITOR_FUNC_SECRET"
CONFIG_DIR_ENV = "GUANCE_MONITOR_CONFIG_DIR"
DEFAULT_CONFIG_DIR = os.path.join(os.path.expanduser("~"), ".config", "guance-monitor")
SECRET_FILE = "func-secret"


class Host:
    """Clock, store, environment, task log and signing of one run."""

    def __init__(self, dff=None, store=None):
        self.dff = dff
        self.clock = _helper(dff, "GUANCE_MONITOR_CLOCK")   # None: the real clock
        cache = _helper(dff, "CACHE")
        if store is not None:
            self.store = store
        elif cache is not None:
            self.store = state.FuncCacheStore(cache, scope=STATE_SCOPE)
        else:
            self.store = state.FileStore()
        self._env = _helper(dff, "ENV")
        self._log = _helper(dff, "LOG")
        self._sign = _helper(dff, "SIGN")
        self.in_func = dff is not None

    def env(self, name):
        """A Func environment variable (``DFF.ENV``), or the process environment outside Func."""
        if callable(self._env):
            return self._env(name)
        return os.environ.get(name)

    def print(self, line):
        """One line to the task log (``DFF.LOG`` inside Func, standard output outside)."""
        if callable(self._log):
            self._log(line)
        else:
            print(line)

    def sign(self, text):
        """``DFF.SIGN(text)`` inside Func: md5 of Func's secret and ``text``; the same with the local secret outside."""
        if callable(self._sign):
            return self._sign(text)
        return hashlib.md5((local_secret() + "\n" + text).encode("utf-8")).hexdigest()


def _helper(dff, name):
    if dff is None:
        return None
    try:
        return getattr(dff, name, None)
    except Exception:  # noqa: BLE001 - a helper that cannot be read is a helper we do not have
        return None


def secret_path():
    """Where the local signing secret lives: beside the user's configuration, never in the state directory."""
    return os.path.join(os.environ.get(CONFIG_DIR_ENV) or DEFAULT_CONFIG_DIR, SECRET_FILE)


def local_secret():
    """Outside Func: ``$GUANCE_MONITOR_FUNC_SECRET``, else a secret made once and kept at ``secret_path()``.

    It makes the inspection's refKey, so it must outlive the state directory: moving
    or deleting state must not register a second inspection in Guance.
    """
    secret = os.environ.get(FUNC_SECRET_ENV)
    if secret:
        return redact.register_secret(secret)
    path = secret_path()
    try:
        with open(path, "r", encoding="utf-8") as handle:
            secret = handle.read().strip()
    except (IOError, OSError):
        secret = ""
    if not secret:
        secret = hashlib.sha256(os.urandom(32)).hexdigest()
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        temp = "%s.%d.tmp" % (path, os.getpid())
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(secret + "\n")
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    return redact.register_secret(secret)
