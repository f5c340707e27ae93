"""Retries with backoff that never outlive the run's time budget.

``Deadline`` is the budget (from the Func ``timeout``); ``call`` retries a
transient failure with exponential backoff and full jitter, honours a
server's retry-after, and gives up early rather than sleep past the deadline.
"""
import random

from guance_monitor import clock


class Deadline:
    """A point on the monotonic clock; ``None`` seconds means no limit."""

    def __init__(self, seconds=None):
        self.seconds = seconds
        self.at = None if seconds is None else clock.monotonic() + seconds

    def remaining(self):
        """Seconds left (never negative), or None without a limit."""
        if self.at is None:
            return None
        return max(0.0, self.at - clock.monotonic())

    def expired(self):
        remaining = self.remaining()
        return remaining is not None and remaining <= 0

    def cap(self, seconds):
        """``seconds`` cut to what is left (for per-request timeouts)."""
        remaining = self.remaining()
        if remaining is None:
            return seconds
        return max(0.001, min(seconds, remaining))

    def child(self, fraction):
        """A deadline at ``fraction`` of what is left of this one (to keep a reserve)."""
        remaining = self.remaining()
        return Deadline(None if remaining is None else remaining * fraction)


class Transient(Exception):
    """Raised by a callable to ask for a retry; ``retry_after`` in seconds if the server said."""

    def __init__(self, message, retry_after=None):
        Exception.__init__(self, message)
        self.retry_after = retry_after


def call(fn, classify=None, deadline=None, attempts=5, base_delay=0.5, max_delay=8.0,
         on_retry=None):
    """Call ``fn()``; retry while it fails transiently, inside ``deadline``.

    ``classify(exc)`` returns ``(transient, retry_after_seconds)``; by default
    only ``Transient`` is retried. The last error is re-raised when attempts or
    time run out. ``on_retry(attempt, exc, delay)`` is told about each retry.
    """
    deadline = deadline or Deadline(None)
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - classified below
            transient, retry_after = _classify(classify, exc)
            if not transient or attempt >= attempts:
                raise
            delay = retry_after if retry_after is not None else backoff(attempt, base_delay, max_delay)
            remaining = deadline.remaining()
            if remaining is not None and delay >= remaining:
                raise
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            clock.sleep(delay)


def backoff(attempt, base_delay=0.5, max_delay=8.0):
    """Full-jitter exponential backoff for the ``attempt``-th failure (1-based)."""
    ceiling = min(max_delay, base_delay * (2 ** (attempt - 1)))
    return random.uniform(ceiling / 2.0, ceiling)


def _classify(classify, exc):
    if isinstance(exc, Transient):
        return True, exc.retry_after
    if classify is None:
        return False, None
    result = classify(exc)
    if isinstance(result, tuple):
        return bool(result[0]), result[1]
    return bool(result), None
