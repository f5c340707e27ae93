"""One request pacer per Guance API key, shared through the state store: never more than the documented limit.

Guance's OpenAPI allows 20 requests a minute per API key and 200 per workspace
(``open-api/api-limit.md``); beyond that it answers HTTP 401
``ft.TriggerApiAkCurrentLimiting`` / ``ft.TriggerApiWorkspaceCurrentLimiting``. Every
inspection on a key (and anything else of ours using it) draws from one window kept
in the store, so that together they stay under the limit:

- ``acquire(deadline)`` before every request, retries included: when fewer than
  ``limit`` requests were made in the last ``window_s`` seconds the request may go now;
  otherwise it waits for the oldest one to leave the window, if the run's deadline
  allows, else raises ``RateBudgetExhausted`` (the work carries over to the next run);
- ``penalize(seconds)`` after the server answered "rate limited" anyway (another
  client on the same key, a stricter server window): nobody sends until then.

The window is a list of request times (the wall clock, shared by every process on the
key) under one key, read and written under a short lock (``Store.add`` with an
expiry), so processes running at the same time do not over-spend it.
"""
import contextlib
import hashlib

from guance_monitor import clock
from guance_monitor import state

LIMIT = 20
WINDOW_S = 60.0
MARGIN_S = 0.5               # leave the server's window a little after ours
LOCK_TTL_S = 5
LOCK_WAIT_S = 2.0
LOCK_POLL_S = 0.05


class RateBudgetExhausted(Exception):
    """No request slot within the time left; the text says when the next one frees up."""

    def __init__(self, wait_s):
        self.wait_s = wait_s
        Exception.__init__(self, "the Guance API key's request budget (%d a minute) is spent for %.0f s more; "
                                 "the rest waits for the next run" % (LIMIT, wait_s))


class Pacer:
    def __init__(self, store, api_key_id, limit=LIMIT, window_s=WINDOW_S):
        digest = hashlib.md5(str(api_key_id).encode("utf-8")).hexdigest()[:16]
        self.store = store
        self.key = "pacer:%s" % digest
        self.lock_key = "pacer-lock:%s" % digest
        self.limit = int(limit)
        self.window_ms = int(window_s * 1000)
        self.sent = 0                      # requests this pacer let through
        self.waited_s = 0.0

    @staticmethod
    def now_ms():
        return clock.now_ms()

    def acquire(self, deadline=None):
        """Take one request slot, waiting within ``deadline``; RateBudgetExhausted when there is none in time."""
        while True:
            wait_s = self._try_take()
            if wait_s <= 0:
                self.sent += 1
                return
            remaining = deadline.remaining() if deadline is not None else None
            if remaining is not None and wait_s >= remaining:
                raise RateBudgetExhausted(wait_s)
            clock.sleep(wait_s)
            self.waited_s += wait_s

    def penalize(self, seconds):
        """The server said "rate limited": hold every request on this key for ``seconds``."""
        with _window_lock(self.store, self.lock_key):
            window = self._window()
            window["blocked_until"] = max(window.get("blocked_until") or 0, self.now_ms() + int(seconds * 1000))
            self.store.set(self.key, window, expires=WINDOW_S * 2 + seconds)

    def _window(self):
        value = self.store.get(self.key)
        if not isinstance(value, dict):
            value = {}
        now = self.now_ms()
        times = [t for t in value.get("times") or [] if isinstance(t, int) and now - self.window_ms < t <= now + 1000]
        blocked = value.get("blocked_until") if isinstance(value.get("blocked_until"), int) else 0
        return {"times": sorted(times), "blocked_until": blocked if blocked > now else 0}

    def _try_take(self):
        """0 when a slot was taken; else seconds until one frees up."""
        with _window_lock(self.store, self.lock_key):
            now = self.now_ms()
            window = self._window()
            if window["blocked_until"]:
                return (window["blocked_until"] - now) / 1000.0
            if len(window["times"]) < self.limit:
                window["times"].append(now)
                self.store.set(self.key, window, expires=WINDOW_S * 2)
                return 0
            oldest = window["times"][len(window["times"]) - self.limit]
            return max(0.05, (oldest + self.window_ms - now) / 1000.0 + MARGIN_S)


@contextlib.contextmanager
def _window_lock(store, key):
    """The window's short lock in the store; after ``LOCK_WAIT_S`` the pacer goes on without it rather than
    stall a run."""
    lock = state.RunLock(store, key, LOCK_TTL_S, poll_s=LOCK_POLL_S)
    lock.acquire(LOCK_WAIT_S)
    try:
        yield
    finally:
        lock.release()
