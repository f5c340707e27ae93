"""State between runs: one store, ``DFF.CACHE`` inside DataFlux Func, files outside it.

What lives here: alert state (dedupe, recovery hysteresis), the event outbox, the
last known registration, the request pacer's window, caches, the run lock. Values
are JSON. Keys are namespaced by inspection (``Store.scoped``), because inside
Func every inspection that imports the core shares one cache scope.

Operations:

- ``get(key, default)``: the value, or ``default`` when the key is absent, expired
  or unreadable (a cache that cannot be read is a cache miss);
- ``read(key)``: ``(value, problem)`` — ``problem`` says why a present value could
  not be read, so that alert state that became unreadable is reported, not
  silently forgotten;
- ``set(key, value, expires=None)``, ``delete(key)``;
- ``add(key, value, expires)``: set only when absent, atomically; True when set;
- ``incr(key, by, expires)``: add to an integer, atomically; the new value.

``RunLock`` keeps two runs of one inspection from overlapping (a manual run during a
cron run, a delayed queue): the lock expires with the function's timeout, so a
crashed run cannot hold it.
"""
import fcntl
import hashlib
import json
import os
import threading
import uuid

from guance_monitor import clock

DEFAULT_STATE_DIR = os.path.join(os.path.expanduser("~"), ".guance-monitor", "state")
STATE_DIR_ENV = "GUANCE_MONITOR_STATE_DIR"
MISSING = object()


class Store:
    """get / read / set / delete / add / incr JSON values by key, with an optional expiry in seconds."""

    def read(self, key):
        raise NotImplementedError

    def get(self, key, default=None):
        value, _ = self.read(key)
        return default if value is MISSING else value

    def set(self, key, value, expires=None):
        raise NotImplementedError

    def delete(self, key):
        raise NotImplementedError

    def add(self, key, value, expires=None):
        raise NotImplementedError

    def incr(self, key, by=1, expires=None):
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

    def read(self, key):
        return self.inner.read(self._key(key))

    def set(self, key, value, expires=None):
        self.inner.set(self._key(key), value, expires)

    def delete(self, key):
        self.inner.delete(self._key(key))

    def add(self, key, value, expires=None):
        return self.inner.add(self._key(key), value, expires)

    def incr(self, key, by=1, expires=None):
        return self.inner.incr(self._key(key), by, expires)


def _decode(text, key):
    """(value, problem) of a stored JSON text."""
    try:
        return json.loads(text), None
    except (TypeError, ValueError) as exc:
        return MISSING, "%s is not valid JSON (%s)" % (key, str(exc).split(":")[0])


class MemoryStore(Store):
    """A store that forgets at exit; for tests and debug runs."""

    def __init__(self):
        self._data = {}
        self._lock = threading.RLock()

    def read(self, key):
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return MISSING, None
            text, expires_at = item
            if expires_at is not None and _epoch() >= expires_at:
                del self._data[key]
                return MISSING, None
        return _decode(text, key)

    def set(self, key, value, expires=None):
        with self._lock:
            self._data[key] = (json.dumps(value), _expiry(expires))

    def set_raw(self, key, text):
        """Store ``text`` as is (tests: what a corrupted store holds)."""
        with self._lock:
            self._data[key] = (text, None)

    def delete(self, key):
        with self._lock:
            self._data.pop(key, None)

    def add(self, key, value, expires=None):
        with self._lock:
            if self.read(key)[0] is not MISSING:
                return False
            self.set(key, value, expires)
            return True

    def incr(self, key, by=1, expires=None):
        with self._lock:
            value = _as_int(self.get(key, 0)) + int(by)
            item = self._data.get(key)
            keep = item[1] if item is not None else _expiry(expires)
            self._data[key] = (json.dumps(value), keep)
            return value


class FileStore(Store):
    """One JSON file per key under a directory; writes are atomic (write, then rename).

    ``add`` and ``incr`` hold an exclusive ``flock`` on the directory's lock file, so
    that separate processes (overlapping runs) see them as atomic. Expiry is kept as
    epoch seconds of the injected clock, so that a replayed scenario ages its caches
    at the scenario's pace.
    """

    def __init__(self, directory=None):
        self.directory = directory or os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR
        self._lock = threading.RLock()

    def _path(self, key):
        digest = hashlib.sha1(key.encode("utf-8")).hexdigest()
        return os.path.join(self.directory, digest[:2], digest + ".json")

    def read(self, key):
        path = self._path(key)
        try:
            with open(path, "r", encoding="utf-8") as handle:
                text = handle.read()
        except (IOError, OSError):
            return MISSING, None
        record, problem = _decode(text, key)
        if problem:
            return MISSING, problem
        if not isinstance(record, dict) or "value" not in record:
            return MISSING, "%s is not a state record" % key
        expires_at = record.get("expires_at")
        if isinstance(expires_at, (int, float)) and _epoch() >= expires_at:
            self.delete(key)
            return MISSING, None
        return record["value"], None

    def set(self, key, value, expires=None):
        self._write(key, {"key": key, "value": value, "expires_at": _expiry(expires)})

    def set_raw(self, key, text):
        """Store ``text`` as the key's file content (tests: what a corrupted store holds)."""
        path = self._path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)

    def _write(self, key, record):
        path = self._path(key)
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

    def _exclusive(self):
        os.makedirs(self.directory, exist_ok=True)
        return _FileLock(os.path.join(self.directory, ".lock"), self._lock)

    def add(self, key, value, expires=None):
        with self._exclusive():
            if self.read(key)[0] is not MISSING:
                return False
            self.set(key, value, expires)
            return True

    def incr(self, key, by=1, expires=None):
        with self._exclusive():
            value = _as_int(self.get(key, 0)) + int(by)
            self.set(key, value, expires)
            return value


class _FileLock:
    def __init__(self, path, thread_lock):
        self.path = path
        self.thread_lock = thread_lock
        self.handle = None

    def __enter__(self):
        self.thread_lock.acquire()
        self.handle = open(self.path, "a")
        fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        try:
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
            self.handle.close()
        finally:
            self.thread_lock.release()
        return False


class FuncCacheStore(Store):
    """``DFF.CACHE`` (Redis): values stored as JSON text under one explicit ``scope``.

    ``add`` is Redis ``SET NX EX`` (``DFF.CACHE.set(..., not_exists=True, expires=...)``);
    ``incr`` is ``incrby`` (``DFF.CACHE.incr`` raises NameError in the 2024-10 release).
    """

    def __init__(self, cache, scope=None):
        self.cache = cache
        self.scope = scope

    def _kwargs(self):
        return {"scope": self.scope} if self.scope else {}

    def read(self, key):
        raw = self.cache.get(key, **self._kwargs())
        if raw is None:
            return MISSING, None
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        return _decode(raw, key)

    def set(self, key, value, expires=None):
        text = json.dumps(value, ensure_ascii=False)
        if expires:
            try:
                self.cache.set(key, text, expires=int(max(1, expires)), **self._kwargs())
                return
            except TypeError:      # a Func release whose set() takes no expiry
                pass
        self.cache.set(key, text, **self._kwargs())
        if expires:
            self.cache.expire(key, int(max(1, expires)), **self._kwargs())

    def delete(self, key):
        self.cache.delete(key, **self._kwargs())

    def add(self, key, value, expires=None):
        text = json.dumps(value, ensure_ascii=False)
        ttl = int(max(1, expires)) if expires else None
        try:
            done = self.cache.set(key, text, not_exists=True, expires=ttl, **self._kwargs())
        except TypeError:      # a Func release whose set() takes no expiry: SET NX, then EXPIRE
            done = self.cache.set(key, text, not_exists=True, **self._kwargs())
            if done and ttl:
                self.cache.expire(key, ttl, **self._kwargs())
        return bool(done)

    def incr(self, key, by=1, expires=None):
        value = int(self.cache.incrby(key, int(by), **self._kwargs()))
        if expires and value == int(by):
            self.cache.expire(key, int(max(1, expires)), **self._kwargs())
        return value


def _as_int(value):
    """A stored counter: an int, or the text of one (a cache that keeps text, as Redis does); else 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return 0


def _epoch():
    return clock.now_ms() / 1000.0


def _expiry(expires):
    return _epoch() + expires if expires else None


class RunLock:
    """A lock in the store: one run of an inspection at a time (and the pacer's short lock on its window).

    ``acquire(wait_s)`` tries to take the lock, polling every ``poll_s`` for up to ``wait_s``
    seconds of the run's clock; the lock expires ``ttl_s`` after it was taken (tie it to the
    function's timeout), so a run that crashed or was killed cannot hold it for long.
    ``release`` removes it only while it still holds this run's token.
    """

    POLL_S = 0.5

    def __init__(self, store, key, ttl_s, poll_s=None):
        self.store = store
        self.key = key
        self.ttl_s = max(1.0, float(ttl_s))
        self.poll_s = poll_s or self.POLL_S
        self.token = uuid.uuid4().hex
        self.held = False

    def acquire(self, wait_s=0.0):
        waited = 0.0
        while True:
            if self.store.add(self.key, {"token": self.token, "at_ms": clock.now_ms()}, expires=self.ttl_s):
                self.held = True
                return True
            if waited >= wait_s:
                return False
            step = min(self.poll_s, wait_s - waited)
            clock.sleep(step)
            waited += step

    def holder(self):
        """What the current holder wrote (``{"token", "at_ms"}``), or None."""
        value = self.store.get(self.key)
        return value if isinstance(value, dict) else None

    def release(self):
        if not self.held:
            return
        holder = self.holder()
        if holder is not None and holder.get("token") == self.token:
            self.store.delete(self.key)
        self.held = False
