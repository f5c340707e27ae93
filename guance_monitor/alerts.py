"""Alert state between runs: report a condition once, again only when it changes, recover with care.

Each run a checker tells the tracker which objects are firing (with a
severity) and which it saw healthy; objects it has no data for are neither,
and their state is left alone ("never fire and never recover on missing
data"). The tracker answers with the decisions to report:

- ``new``: firing now, not before;
- ``escalated`` / ``deescalated``: firing with another severity;
- ``reminder``: still firing, and the reminder interval has passed since it was last reported;
- ``recovered``: firing before, healthy for ``recover_after`` consecutive runs now
  (the tracker's default, or the key's own value passed to ``update``).

The stored state is read entry by entry: an entry of the wrong shape is dropped,
and unreadable state counts as empty; either way ``problems`` says so, so that the
run reports "open alerts may repeat once" instead of crashing or going quiet. Beside
the state, the number of alerts it holds open is kept (``OPEN_KEY``), so that a state
removed from the store is told from a first run.

Nothing is written until ``commit()``: the runner commits once the run's events are
safely in the outbox, so a crash in between re-reports rather than loses.
"""
from guance_monitor import clock
from guance_monitor import state

SEVERITY = {"ok": 0, "info": 1, "warning": 2, "error": 3, "critical": 4}
FIRING = ("info", "warning", "error", "critical")
STATE_KEY = "alerts"
OPEN_KEY = "alerts-open"      # how many alerts the committed state holds open (absent: none)
_TIMES = ("since_ms", "reported_ms", "seen_ms")


class Decision:
    __slots__ = ("key", "status", "reason", "previous", "since_ms")

    def __init__(self, key, status, reason, previous=None, since_ms=None):
        self.key = key
        self.status = status          # the status to report ("ok" for a recovery)
        self.reason = reason          # new | escalated | deescalated | reminder | recovered
        self.previous = previous      # the stored state before this run, or None
        self.since_ms = since_ms      # when the condition started

    def __repr__(self):
        return "Decision(%r, %r, %r)" % (self.key, self.status, self.reason)


def entry_problem(entry):
    """Why a stored alert entry cannot be used, or None."""
    if not isinstance(entry, dict):
        return "not an object"
    if entry.get("status") not in FIRING:
        return "status %r is not one of %s" % (entry.get("status"), ", ".join(FIRING))
    for name in _TIMES:
        value = entry.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return "%s is not a time" % name
    runs = entry.get("clear_runs", 0)
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 0:
        return "clear_runs is not a count"
    if entry.get("info") is not None and not isinstance(entry.get("info"), dict):
        return "info is not an object"
    return None


class AlertTracker:
    def __init__(self, store, reminder_seconds=6 * 3600, recover_after_runs=1,
                 forget_after_seconds=7 * 86400):
        self.store = store
        self.reminder_ms = None if reminder_seconds is None else int(reminder_seconds * 1000)
        self.recover_after_runs = max(1, int(recover_after_runs))
        self.forget_after_ms = int(forget_after_seconds * 1000)
        self.problems = []            # what was wrong with the stored state (read once)
        self._pending = None
        self._loaded = None

    def state(self):
        """The committed state: key -> {status, since_ms, reported_ms, seen_ms, clear_runs, info}."""
        if self._loaded is None:
            self._loaded = self._load()
        return dict(self._loaded)

    def _load(self):
        value, problem = self.store.read(STATE_KEY)
        if problem:
            self.problems.append("the alert state could not be read (%s)" % problem)
            return {}
        if value is state.MISSING or value is None:
            missing = self._open_before()
            if missing:
                self.problems.append("the alert state is missing although %d alerts were open (removed from the "
                                     "store?)" % missing)
            return {}
        if not isinstance(value, dict):
            self.problems.append("the alert state is not an object")
            return {}
        kept = {}
        dropped = []
        for key, entry in value.items():
            problem = entry_problem(entry)
            if problem:
                dropped.append("%s (%s)" % (key, problem))
            else:
                kept[key] = entry
        if dropped:
            self.problems.append("%d alert state entries were unusable and dropped: %s%s" % (
                len(dropped), "; ".join(dropped[:3]), " ..." if len(dropped) > 3 else ""))
        return kept

    def update(self, firing, healthy=(), info=None, now_ms=None, recover_after=None):
        """Decisions for this run.

        ``firing``: key -> status; ``healthy``: keys seen healthy; ``info``: key -> what
        to keep about a firing key; ``recover_after``: key -> consecutive healthy runs
        before that key recovers (default: the tracker's ``recover_after_runs``).
        """
        now_ms = clock.now_ms() if now_ms is None else now_ms
        info = info or {}
        recover_after = recover_after or {}
        old = self.state()
        new = {}
        decisions = []
        for key, status in firing.items():
            if status not in FIRING:
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
                needed = max(1, int(recover_after.get(key, self.recover_after_runs)))
                if clear_runs >= needed:
                    decisions.append(Decision(key, "ok", "recovered", previous, previous.get("since_ms")))
                    continue
                new[key] = dict(previous, clear_runs=clear_runs, seen_ms=now_ms)
            elif now_ms - previous.get("seen_ms", now_ms) < self.forget_after_ms:
                new[key] = previous          # no data: keep it as it is
        self._pending = new
        return decisions

    def _open_before(self):
        value = self.store.get(OPEN_KEY)
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0

    def commit(self):
        """Persist the state computed by the last ``update`` (and how many alerts it holds open)."""
        if self._pending is not None:
            had_open = bool(self._loaded) or bool(self.problems)
            self.store.set(STATE_KEY, self._pending)
            if self._pending:
                self.store.set(OPEN_KEY, len(self._pending))
            elif had_open:
                self.store.delete(OPEN_KEY)
            self._loaded = self._pending
            self._pending = None
