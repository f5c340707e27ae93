"""The one clock every inspection reads.

Wall time (``now``) is what reports, queries and state use; ``monotonic`` and
``sleep`` measure and spend the run's time budget. All three are replaceable,
so that the local runtime can replay a scenario at its own times and tests can
skip real waiting. Nothing else in the package reads the time.

Inside the local Func runtime every task runs fresh copies of the scripts, this
one included; the runtime hands each task its own clock as
``DFF.GUANCE_MONITOR_CLOCK`` (an object with ``now``, ``monotonic`` and
``sleep``), which this module follows unless a clock was set here directly.
Real DataFlux Func has no such helper (``DFF`` answers None): real time.
"""
import datetime
import re
import threading
import time

UTC = datetime.timezone.utc

# ISO 8601 extended form, the same on every Python: date, optional time (seconds and fraction
# optional: ECS instance times carry no seconds), optional zone (Z, +08:00, +0800, +08).
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
                  r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$")
_lock = threading.Lock()
_wall = None       # callable -> aware datetime, or None for the real time
_sleeper = None    # callable(seconds), or None for time.sleep
_mono = None       # callable -> float seconds, or None for time.monotonic


def _host():
    """The clock the local Func runtime provides to this task, if any."""
    dff = globals().get("DFF")  # injected by (local) Func into each script's scope
    return getattr(dff, "GUANCE_MONITOR_CLOCK", None) if dff is not None else None


def now():
    """The current time as an aware UTC datetime."""
    source = _wall
    if source is not None:
        return source()
    host = _host()
    return host.now() if host is not None else datetime.datetime.now(UTC)


def now_ms():
    """The current time in epoch milliseconds."""
    return to_ms(now())


def monotonic():
    """Seconds on a clock that only moves forward; for deadlines."""
    source = _mono
    if source is not None:
        return source()
    host = _host()
    return host.monotonic() if host is not None else time.monotonic()


def sleep(seconds):
    """Wait, through the injectable sleeper."""
    if seconds <= 0:
        return
    sleeper = _sleeper
    if sleeper is not None:
        sleeper(seconds)
        return
    host = _host()
    if host is not None:
        host.sleep(seconds)
    else:
        time.sleep(seconds)


def set_wall_clock(source):
    """Replace the wall clock: a callable returning an aware datetime, or None for real time."""
    global _wall
    with _lock:
        _wall = source


def set_sleeper(sleeper, monotonic_source=None):
    """Replace sleeping (and optionally the monotonic clock); None restores the real ones."""
    global _sleeper, _mono
    with _lock:
        _sleeper = sleeper
        _mono = monotonic_source


class frozen(object):
    """Context manager: the wall clock reads ``at`` (datetime, ISO text or epoch ms) inside."""

    def __init__(self, at):
        self.at = parse_time(at)
        self._saved = None

    def __enter__(self):
        self._saved = _wall
        at = self.at
        set_wall_clock(lambda: at)
        return at

    def __exit__(self, *exc):
        set_wall_clock(self._saved)
        return False


class FakeSleep(object):
    """A sleeper for tests: records the waits and advances its own monotonic clock."""

    def __init__(self):
        self.waits = []
        self.elapsed = 0.0

    def __call__(self, seconds):
        self.waits.append(seconds)
        self.elapsed += seconds

    def monotonic(self):
        return self.elapsed

    def install(self):
        set_sleeper(self, self.monotonic)
        return self

    @staticmethod
    def uninstall():
        set_sleeper(None, None)


def to_ms(value):
    """Epoch milliseconds of a datetime (naive means UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(round(value.timestamp() * 1000))


def from_ms(ms):
    """An aware UTC datetime from epoch milliseconds."""
    return datetime.datetime.fromtimestamp(ms / 1000.0, UTC)


def parse_time(value):
    """A UTC datetime from a datetime, epoch ms (int/float) or ISO 8601 text.

    Accepts the forms the platforms use: ``2026-11-20T08:00:00Z``,
    ``2026-11-20T08:00Z`` (ECS instance times carry no seconds), fractions,
    offsets such as ``+08:00`` / ``+0800``, a space instead of ``T``, and a
    date alone (midnight UTC). The same on every Python version. Raises
    ValueError naming the value otherwise.
    """
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        raise ValueError("not a time: %r" % (value,))
    if isinstance(value, (int, float)):
        return from_ms(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("not a time: %r" % (value,))
    text = value.strip()
    if text.isdigit():
        return from_ms(int(text))
    match = _ISO.match(text)
    if not match:
        raise ValueError("not an ISO 8601 time or epoch milliseconds: %r" % (value,))
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0").ljust(6, "0")[:6])
    try:
        parsed = datetime.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                                   int(second or 0), micro, tzinfo=_zone(zone))
    except ValueError:
        raise ValueError("not an ISO 8601 time or epoch milliseconds: %r" % (value,))
    return parsed.astimezone(UTC)


def _zone(text):
    if not text or text in ("Z", "z"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return datetime.timezone(sign * datetime.timedelta(hours=hours, minutes=minutes))


def iso(value):
    """``2026-11-20T08:00:00Z`` for a datetime (seconds precision, UTC)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
