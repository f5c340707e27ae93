"""Moving a scenario in time: every time in it shifted by the same amount.

``shift_scenario_data(data, delta_ms)`` returns a copy of a scenario's JSON data in
which these are moved by ``delta_ms``, each kept in the form it had (ISO text with
its precision and zone, or epoch milliseconds):

- ``runs``;
- every point's ``time``;
- the Alibaba Cloud time fields (``TIME_KEYS``: ``Timestamp``, ``CreationTime``,
  ``_visible_until``, ...) at any depth of ``aliyun``;
- every ISO 8601 date-time (``2026-11-20T07:27:50Z``) inside any other text of the
  points and of the Alibaba Cloud objects: the pod YAML in an object's ``message``,
  an instance's JSON in a custom object's ``message``.

Numbers that are not at a time key are not times (``restarts``, ``age`` in seconds)
and stay. ``whole_minutes_back(from_ms, to_ms)``: the shift, in whole minutes, that
brings a time to the minute of another without passing it.
"""
import copy
import datetime
import re

from guance_monitor import clock

MINUTE_MS = 60 * 1000
TIME_KEYS = frozenset(("Timestamp", "Time", "CreationTime", "StartTime", "ExpiredTime", "AutoReleaseTime",
                       "_visible_from", "_visible_until"))
# A date-time inside text: date, 'T', hours and minutes, optional seconds and fraction, optional zone.
_DATE_TIME = re.compile(r"(?<![0-9])(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
                        r"(Z|z|[+-]\d{2}(?::?\d{2})?)?(?![0-9])")


def whole_minutes_back(from_ms, to_ms):
    """The largest whole number of minutes (in ms) that moves ``from_ms`` to at most ``to_ms``."""
    return ((to_ms - from_ms) // MINUTE_MS) * MINUTE_MS


def shift_scenario_data(data, delta_ms):
    """A copy of scenario JSON ``data`` with every time moved by ``delta_ms`` (see the module doc)."""
    moved = copy.deepcopy(data)
    if isinstance(moved.get("runs"), list):
        moved["runs"] = [shift_time(value, delta_ms) for value in moved["runs"]]
    points = (moved.get("guance") or {}).get("points") if isinstance(moved.get("guance"), dict) else None
    if isinstance(points, dict):
        for key, items in points.items():
            if isinstance(items, list):
                points[key] = [_shift_point(point, delta_ms) for point in items]
    if isinstance(moved.get("aliyun"), dict):
        moved["aliyun"] = _shift_tree(moved["aliyun"], delta_ms)
    return moved


def _shift_point(point, delta_ms):
    if not isinstance(point, dict):
        return point
    out = {}
    for key, value in point.items():
        out[key] = shift_time(value, delta_ms) if key == "time" else _shift_texts(value, delta_ms)
    return out


def _shift_tree(value, delta_ms):
    """Alibaba Cloud objects: time keys shifted as times, other text for date-times inside it."""
    if isinstance(value, dict):
        return {key: shift_time(item, delta_ms) if key in TIME_KEYS else _shift_tree(item, delta_ms)
                    for key, item in value.items()}
    if isinstance(value, list):
        return [_shift_tree(item, delta_ms) for item in value]
    return shift_text(value, delta_ms) if isinstance(value, str) else value


def _shift_texts(value, delta_ms):
    """Every string at any depth with its date-times shifted; numbers and the rest as they are."""
    if isinstance(value, dict):
        return {key: _shift_texts(item, delta_ms) for key, item in value.items()}
    if isinstance(value, list):
        return [_shift_texts(item, delta_ms) for item in value]
    return shift_text(value, delta_ms) if isinstance(value, str) else value


def shift_time(value, delta_ms):
    """A time value (ISO text, epoch ms as a number or as digits) moved by ``delta_ms``, in its form."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return value + delta_ms
    if isinstance(value, str) and value.strip().isdigit():
        return str(int(value) + delta_ms)
    if isinstance(value, str):
        return shift_text(value, delta_ms)
    return value


def shift_text(text, delta_ms):
    """``text`` with every ISO 8601 date-time in it moved by ``delta_ms``, each in its own form."""
    return _DATE_TIME.sub(lambda match: _shifted_match(match, delta_ms), text)


def _shifted_match(match, delta_ms):
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    tz = _zone(zone)
    try:
        moment = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0),
                                   int((fraction or "0").ljust(6, "0")[:6]), tzinfo=tz)
    except ValueError:  # not a real date: leave the text alone
        return match.group(0)
    moved = (moment + datetime.timedelta(milliseconds=delta_ms)).astimezone(tz)
    text = moved.strftime("%Y-%m-%dT%H:%M")
    if second is not None:
        text += moved.strftime(":%S")
    if fraction is not None:
        text += "." + ("%06d" % moved.microsecond).ljust(len(fraction), "0")[:len(fraction)]
    return text + (zone or "")


def _zone(text):
    if not text or text in ("Z", "z"):
        return clock.UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return datetime.timezone(sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0)))
