"""Alert state between runs: report a condition once, again only when it changes, recover with care.

Each run a checker tells the tracker which objects are firing (with a
severity) and which it saw healthy; objects it has no data for are neither,
and their state is left alone ("never fire and never recover on missing
data"). The tracker answers with the decisions to report:

- ``new``: firing now, not before;
- ``escalated`` / ``deescalated``: firing with another severity;
- ``reminder``: still firing, and the reminder interval has passed since it was last reported;
- ``recovered``: firing before, healthy for ``recover_after_runs`` consecutive runs now.

Nothing is written until ``commit()``: the runner commits after the events
were handed to the reporter, so a crash in between re-reports rather than loses.
"""
from guance_monitor import clock

SEVERITY = {"ok": 0, "info": 1, "warning": 2, "error": 3, "critical": 4}
STATE_KEY = "alerts"


class Decision(object):
    __slots__ = ("key", "status", "reason", "previous", "since_ms")

    def __init__(self, key, status, reason, previous=None, since_ms=None):
        self.key = key
        self.status = status          # the status to report ("ok" for a recovery)
        self.reason = reason          # new | escalated | deescalated | reminder | recovered
        self.previous = previous      # the stored state before this run, or None
        self.since_ms = since_ms      # when the condition started

    def __repr__(self):
        return "Decision(%r, %r, %r)" % (self.key, self.status, self.reason)


class AlertTracker(object):
    def __init__(self, store, reminder_seconds=6 * 3600, recover_after_runs=1,
                 forget_after_seconds=7 * 86400):
        self.store = store
        self.reminder_ms = None if reminder_seconds is None else int(reminder_seconds * 1000)
        self.recover_after_runs = max(1, int(recover_after_runs))
        self.forget_after_ms = int(forget_after_seconds * 1000)
        self._pending = None

    def state(self):
        """The committed state: key -> {status, since_ms, reported_ms, seen_ms, clear_runs, info}."""
        value = self.store.get(STATE_KEY) or {}
        return value if isinstance(value, dict) else {}

    def update(self, firing, healthy=(), info=None, now_ms=None):
        """Decisions for this run. ``firing``: key -> status; ``healthy``: keys seen healthy."""
        now_ms = clock.now_ms() if now_ms is None else now_ms
        info = info or {}
        old = self.state()
        new = {}
        decisions = []
        for key, status in firing.items():
            if status not in SEVERITY or status == "ok":
                raise ValueError("firing status of %r must be one of info, warning, error, critical" % (key,))
            previous = old.get(key)
            entry = {"status": status, "since_ms": now_ms, "reported_ms": now_ms, "seen_ms": now_ms,
                     "clear_runs": 0, "info": info.get(key) or (previous or {}).get("info")}
            if previous is None:
                decisions.append(Decision(key, status, "new", None, now_ms))
            else:
                entry["since_ms"] = previous.get("since_ms", now_ms)
                if previous.get("status") != status:
                    reason = "escalated" if SEVERITY[status] > SEVERITY.get(previous.get("status"), 0) \
                        else "deescalated"
                    decisions.append(Decision(key, status, reason, previous, entry["since_ms"]))
                elif self.reminder_ms is not None and \
                        now_ms - previous.get("reported_ms", 0) >= self.reminder_ms:
                    decisions.append(Decision(key, status, "reminder", previous, entry["since_ms"]))
                else:
                    entry["reported_ms"] = previous.get("reported_ms", now_ms)
            new[key] = entry
        healthy = set(healthy)
        for key, previous in old.items():
            if key in new:
                continue
            if key in healthy:
                clear_runs = int(previous.get("clear_runs", 0)) + 1
                if clear_runs >= self.recover_after_runs:
                    decisions.append(Decision(key, "ok", "recovered", previous, previous.get("since_ms")))
                    continue
                new[key] = dict(previous, clear_runs=clear_runs, seen_ms=now_ms)
            elif now_ms - previous.get("seen_ms", now_ms) < self.forget_after_ms:
                new[key] = previous          # no data: keep it as it is
        self._pending = new
        return decisions

    def commit(self):
        """Persist the state computed by the last ``update``."""
        if self._pending is not None:
            self.store.set(STATE_KEY, self._pending)
            self._pending = None
