"""The one clock every inspection reads.

Wall time (``now``) is what reports, queries and state use; ``monotonic`` and
``sleep`` measure and spend the run's time budget. Nothing else in the package
reads the time. Three sources, in this order:

1. overrides set here (``set_wall_clock``, ``set_sleeper``, ``frozen``,
   ``FakeSleep``, ``Simulated``): tests, the demo and the benchmarks;
2. the host's clock, which ``self_hosted_monitor`` makes this module ``follow``
   for the run: the local Func runtime hands each task its clock
   (``DFF.GUANCE_MONITOR_CLOCK``), so that a scenario is replayed at its own times;
3. the real clock (DataFlux Func).

A real ``sleep`` waits in short slices, so that an exception raised into the
thread (the local runtime's task timeout, outside the main thread) ends it promptly.
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
_followed = None   # the host's clock (an object with now, monotonic, sleep), or None
_slept = 0.0       # seconds slept through sleep(), in total
SLEEP_SLICE = 0.1


def follow(source):
    """Read the time from ``source`` (the host's clock: ``now``, ``monotonic``, ``sleep``); None: the real clock."""
    global _followed
    with _lock:
        _followed = source


def following():
    return _followed


def now():
    """The current time as an aware UTC datetime."""
    source = _wall
    if source is not None:
        return source()
    host = _followed
    return host.now() if host is not None else datetime.datetime.now(UTC)


def now_ms():
    """The current time in epoch milliseconds."""
    return to_ms(now())


def monotonic():
    """Seconds on a clock that only moves forward; for deadlines."""
    source = _mono
    if source is not None:
        return source()
    host = _followed
    return host.monotonic() if host is not None else time.monotonic()


def sleep(seconds):
    """Wait, through the injectable sleeper."""
    if seconds <= 0:
        return
    sleeper = _sleeper
    host = _followed
    if sleeper is None and host is not None:
        host.sleep(seconds)          # the host's clock counts it
        return
    _count_slept(seconds)
    if sleeper is not None:
        sleeper(seconds)
        return
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(SLEEP_SLICE, left))


def _count_slept(seconds):
    global _slept
    with _lock:
        _slept += seconds


def slept():
    """Seconds slept through this clock so far (a held wall clock moves on by them)."""
    return _slept


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


class frozen:
    """Context manager: the wall clock holds at ``at`` (datetime, ISO text or epoch ms) inside.

    It moves on only by what is slept through this clock (a backoff, the request pacer's
    wait), so that everything waiting on the wall clock in a replay sees time pass
    alike; computation takes no time.
    """

    def __init__(self, at):
        self.at = parse_time(at)
        self._saved = None

    def __enter__(self):
        self._saved = _wall
        at = self.at
        base = _slept
        set_wall_clock(lambda: at + datetime.timedelta(seconds=_slept - base))
        return at

    def __exit__(self, *exc):
        set_wall_clock(self._saved)
        return False


class FakeSleep:
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


class Accelerated:
    """Sleeping that does not wait: ``sleep`` returns at once, and the clocks jump by what was slept.

    The monotonic clock is the real one plus what was slept; so is the wall clock, unless a
    test holds it (``frozen``, which moves by what is slept too). Real time still passes as
    usual (real latency still spends the budget); only the waits of backoff and pacing are
    skipped. For replays and tests: the demo replays a day's runs without sitting through the
    request pacer's minutes.
    """

    def __init__(self):
        self.slept = 0.0
        self.waits = []
        self._lock = threading.Lock()
        self._saved = None

    def sleep(self, seconds):
        if seconds > 0:
            with self._lock:
                self.waits.append(seconds)
                self.slept += seconds

    def monotonic(self):
        return time.monotonic() + self.slept

    def now(self):
        return datetime.datetime.now(UTC) + datetime.timedelta(seconds=self.slept)

    def install(self):
        self._saved = (_wall, _sleeper, _mono)
        set_sleeper(self.sleep, self.monotonic)
        if _wall is None:
            set_wall_clock(self.now)
        return self

    def uninstall(self):
        saved = self._saved or (None, None, None)
        set_wall_clock(saved[0])
        set_sleeper(saved[1], saved[2])

    def __enter__(self):
        return self.install()

    def __exit__(self, *exc):
        self.uninstall()
        return False


class Simulated:
    """A clock for replaying long stretches quickly: wall and monotonic time move only when code sleeps.

    ``Simulated(start).install()`` makes ``now`` read ``start`` plus the time slept
    since, and ``sleep`` return at once after moving the clock; ``advance(seconds)``
    moves it from outside (the next cron tick of a simulated day).
    """

    def __init__(self, start):
        self.start = parse_time(start)
        self.elapsed = 0.0
        self.waits = []
        self._lock = threading.Lock()

    def now(self):
        return self.start + datetime.timedelta(seconds=self.elapsed)

    def monotonic(self):
        return self.elapsed

    def sleep(self, seconds):
        if seconds > 0:
            with self._lock:
                self.waits.append(seconds)
                self.elapsed += seconds

    def advance(self, seconds):
        with self._lock:
            self.elapsed += max(0.0, seconds)

    def set(self, when):
        """Move to ``when`` (never backwards)."""
        target = (parse_time(when) - self.start).total_seconds()
        with self._lock:
            self.elapsed = max(self.elapsed, target)

    def install(self):
        set_wall_clock(self.now)
        set_sleeper(self.sleep, self.monotonic)
        return self

    @staticmethod
    def uninstall():
        set_wall_clock(None)
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
