"""State between runs: one store, ``DFF.CACHE`` inside DataFlux Func, files outside it.

What lives here: alert state (dedupe, recovery hysteresis), events waiting to
be re-sent, price caches, resumable actions. Values are JSON. Keys are
namespaced by inspection (``Store.scoped``), because inside Func every
inspection that imports this script shares its cache scope.
"""
import hashlib
import json
import os
import threading

from guance_monitor import clock

DEFAULT_STATE_DIR = os.path.join(os.path.expanduser("~"), ".guance-monitor", "state")
STATE_DIR_ENV = "GUANCE_MONITOR_STATE_DIR"


class Store(object):
    """get / set / delete JSON values by key, with an optional expiry in seconds."""

    prefix = ""

    def get(self, key, default=None):
        raise NotImplementedError

    def set(self, key, value, expires=None):
        raise NotImplementedError

    def delete(self, key):
        raise NotImplementedError

    def scoped(self, namespace):
        """A view of this store whose keys all start with ``namespace:``."""
        return ScopedStore(self, namespace)


class ScopedStore(Store):
    def __init__(self, inner, namespace):
        self.inner = inner
        self.namespace = namespace

    def _key(self, key):
        return "%s:%s" % (self.namespace, key)

    def get(self, key, default=None):
        return self.inner.get(self._key(key), default)

    def set(self, key, value, expires=None):
        self.inner.set(self._key(key), value, expires)

    def delete(self, key):
        self.inner.delete(self._key(key))


class MemoryStore(Store):
    """A store that forgets at exit; for tests."""

    def __init__(self):
        self._data = {}
        self._lock = threading.Lock()

    def get(self, key, default=None):
        with self._lock:
            item = self._data.get(key)
        if item is None:
            return default
        value, expires_at = item
        if expires_at is not None and _epoch() >= expires_at:
            self.delete(key)
            return default
        return json.loads(value)

    def set(self, key, value, expires=None):
        expires_at = _epoch() + expires if expires else None
        with self._lock:
            self._data[key] = (json.dumps(value), expires_at)

    def delete(self, key):
        with self._lock:
            self._data.pop(key, None)


class FileStore(Store):
    """One JSON file per key under a directory; writes are atomic (write, then rename).

    Expiry is kept as epoch seconds of the injected clock, so that a replayed
    scenario ages its caches at the scenario's pace.
    """

    def __init__(self, directory=None):
        self.directory = directory or os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR
        self._lock = threading.Lock()

    def _path(self, key):
        digest = hashlib.sha1(key.encode("utf-8")).hexdigest()
        return os.path.join(self.directory, digest[:2], digest + ".json")

    def get(self, key, default=None):
        path = self._path(key)
        try:
            with open(path, "r", encoding="utf-8") as handle:
                record = json.load(handle)
        except (IOError, OSError, ValueError):
            return default
        expires_at = record.get("expires_at")
        if expires_at is not None and _epoch() >= expires_at:
            self.delete(key)
            return default
        return record.get("value", default)

    def set(self, key, value, expires=None):
        path = self._path(key)
        record = {"key": key, "value": value,
                  "expires_at": _epoch() + expires if expires else None}
        text = json.dumps(record, ensure_ascii=False)
        with self._lock:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            temp = "%s.%d.%d.tmp" % (path, os.getpid(), threading.get_ident())
            with open(temp, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(temp, path)

    def delete(self, key):
        try:
            os.remove(self._path(key))
        except OSError:
            pass


class FuncCacheStore(Store):
    """``DFF.CACHE`` (Redis): values stored as JSON text, expiry through ``expire``."""

    def __init__(self, cache):
        self.cache = cache

    def get(self, key, default=None):
        raw = self.cache.get(key)
        if raw is None:
            return default
        try:
            return json.loads(raw)
        except ValueError:
            return default

    def set(self, key, value, expires=None):
        self.cache.set(key, json.dumps(value, ensure_ascii=False))
        if expires:
            # ``expire`` exists under this name in every Func release; the keyword
            # of ``set`` for the expiry does not.
            self.cache.expire(key, int(expires))

    def delete(self, key):
        self.cache.delete(key)


def _epoch():
    return clock.now_ms() / 1000.0


def default_store():
    """``DFF.CACHE`` when running inside (a) DataFlux Func, else the file store."""
    dff = globals().get("DFF")  # injected into every script's scope by Func
    cache = getattr(dff, "CACHE", None) if dff is not None else None
    if cache is not None:
        return FuncCacheStore(cache)
    return FileStore()
