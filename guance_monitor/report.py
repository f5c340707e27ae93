"""Markdown for event reports: escaping, tables that cannot break, numbers, times, text charts.

Templates are jinja2 text kept in Python modules (Func ships only ``.py``
scripts). ``render(template, **data)`` renders with these filters:

- ``md``: text from data as markdown-safe inline text: one line; bidi and zero-width
  controls removed (``visible``); every character that can make markup escaped
  (emphasis, code, links, HTML, headings, table pipes); a list marker at its start
  escaped; URLs, ``www.`` and linkifiable domain names broken up with escapes so that
  no renderer turns them into live links. CommonMark shows the same text;
- ``code``: inline code; ``time``: a time in the display zone; ``duration``: ``4m 30s``;
- ``num(digits)``, ``pct(digits)``, ``spark``: a compact text chart of numbers.

``table(headers, rows, limit)`` escapes every cell (pass ``Markdown(...)`` for a
cell that is already markdown) and cuts long tables with a count of what was left out.

The display zone: times show in UTC+8 unless a run sets another with
``display_zone(zone)`` (a context manager); ``zone_for_node(node)`` is a sensible
default per Guance node, ``parse_zone(text)`` reads a user's ``UTC-8`` / ``+05:30`` /
IANA name. Every displayed time names its zone (``UTC-8 PST``).
"""
import datetime
import re

import jinja2

from guance_monitor import clock

DISPLAY_UTC_OFFSET_HOURS = 8     # Guance's users read Beijing time (DataFlux Func's default zone)
SPARK_BARS = "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"
# What can change a line's meaning inside text or a table cell: emphasis, code, links, HTML, headings,
# table pipes, strikethrough. Parentheses, braces, + and ! only matter after these and stay readable.
_ESCAPED = "\\`*_[]<>#|~"
# Bidi controls (they reorder what a reader sees: U+202E makes "exe.txt" read "txt.exe") and
# zero-width characters (they hide text or split a word invisibly).
INVISIBLE = dict.fromkeys(list(range(0x202A, 0x202F)) + list(range(0x2066, 0x206A)) +
                          [0x200E, 0x200F, 0x061C, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF])
# What renderers turn into links by themselves: a scheme URL, "www.", an e-mail address, a domain whose
# last label is a top-level domain linkifiers know (two letters, or linkify-it's list).
_LINKIFIABLE = re.compile(
    r"(?i)(?:\b[a-z][a-z0-9+.-]*://[^\s]*|\bmailto:[^\s]*"
    r"|\bwww\.[^\s]*"
    r"|[\w.+-]*@?\b(?:[\w-]+\.)+(?:[a-z]{2}|biz|com|edu|gov|net|org|pro|web|xxx|aero|asia|coop|info|museum"
    "|name|shop|\u0440\u0444)" r"\b[^\s]*)")
_LINK_PUNCTUATION = ":/.@"
# What makes a line a list item, a setext underline or a thematic break when it starts the line.
_BULLET_OR_RULE = re.compile(r"^[-+=](?=\s|$)|^[-=]+\s*$")
_ORDERED_ITEM = re.compile(r"^\d{1,9}(?=[.)](?:\s|$))")


class Markdown(str):
    """Text that is already markdown and must not be escaped again."""


def visible(text):
    """``text`` without bidi controls and zero-width characters."""
    return text.translate(INVISIBLE)


def md(value):
    """``value`` as markdown-safe inline text (one line, special characters escaped, no live link),
    also where it starts a line: a leading list marker or underline is escaped."""
    text = cell(value)
    if isinstance(value, Markdown):
        return text
    if _BULLET_OR_RULE.match(text):
        return Markdown("\\" + text)
    ordered = _ORDERED_ITEM.match(text)
    if ordered:
        return Markdown(text[:ordered.end()] + "\\" + text[ordered.end():])
    return text


def cell(value):
    """``md`` for text inside a line (a table cell), where a leading ``-`` or ``1.`` means nothing."""
    if value is None:
        return Markdown("")
    if isinstance(value, Markdown):
        return value
    text = visible(value if isinstance(value, str) else str(value))
    text = " ".join(text.split())  # newlines and runs of blanks would break a table row
    out, last = [], 0
    for match in _LINKIFIABLE.finditer(text):
        out.append(_escape(text[last:match.start()]))
        out.append(_escape(match.group(0), _LINK_PUNCTUATION))
        last = match.end()
    out.append(_escape(text[last:]))
    return Markdown("".join(out))


def _escape(text, extra=""):
    return "".join("\\" + ch if ch in _ESCAPED or ch in extra else ch for ch in text)


def code(value):
    """Inline code; backticks inside become a fence one longer than the longest run."""
    text = " ".join(visible("" if value is None else str(value)).split())
    if not text:
        return Markdown("")
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return Markdown("%s%s%s%s%s" % (fence, pad, text.replace("|", "\\|"), pad, fence))


def table(headers, rows, limit=20, more_label="另有 {n} 行未显示 / {n} more rows not shown"):
    """A markdown table; rows beyond ``limit`` are replaced by one line counting them."""
    rows = list(rows)
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |",
             "| " + " | ".join("---" for _ in headers) + " |"]
    for row in rows[:limit] if limit else rows:
        cells = [cell(value) for value in row]
        cells += [""] * (len(headers) - len(cells))
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    hidden = len(rows) - limit if limit else 0
    if hidden > 0:
        text += "\n\n" + more_label.format(n=hidden)
    return Markdown(text)


def num(value, digits=2):
    """A number with at most ``digits`` decimals (trailing zeros dropped); ``-`` for None."""
    if value is None or value != value:
        return "-"
    if isinstance(value, bool):
        return str(value)
    try:
        text = "%.*f" % (digits, float(value))
    except (TypeError, ValueError):
        return md(value)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def pct(value, digits=1):
    """``0.153`` -> ``15.3%``; ``-`` for None."""
    if value is None or value != value:
        return "-"
    return num(float(value) * 100.0, digits) + "%"


# -- the display zone -------------------------------------------------------------------------

DEFAULT_ZONE = datetime.timezone(datetime.timedelta(hours=DISPLAY_UTC_OFFSET_HOURS))
# A sensible zone per Guance node (guance_monitor.openapi.NODES): where its users mostly are.
NODE_ZONES = {
    "default": DEFAULT_ZONE, "aws": DEFAULT_ZONE, "cn3": DEFAULT_ZONE, "cn4": DEFAULT_ZONE, "cn5": DEFAULT_ZONE,
    "cn6": "Asia/Hong_Kong", "us1": "America/Los_Angeles", "eu1": "Europe/Berlin", "ap1": "Asia/Singapore",
}
_FIXED_ZONE = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_zone = None    # the zone of the current run (display_zone), None: DEFAULT_ZONE


def parse_zone(text):
    """A tzinfo from a user's text: ``UTC``, ``UTC+8``, ``UTC-08:00``, ``+05:30``, ``GMT+8``, or an IANA
    name (``America/Los_Angeles``, through ``dateutil.tz``). ValueError naming the text otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("not a time zone: %r (use an IANA name such as Asia/Shanghai, or UTC+8)" % (text,))
    name = text.strip()
    if name.upper() in ("UTC", "GMT", "Z"):
        return datetime.timezone.utc
    fixed = _FIXED_ZONE.match(name)
    if fixed:
        sign, hours, minutes = fixed.groups()
        offset = datetime.timedelta(hours=int(hours), minutes=int(minutes or 0))
        if offset > datetime.timedelta(hours=14) or int(minutes or 0) >= 60:
            raise ValueError("not a time zone: %r (offsets go from UTC-14 to UTC+14)" % text)
        return datetime.timezone(-offset if sign == "-" else offset)
    from dateutil import tz
    zone = tz.gettz(name) if "/" in name or name.isalpha() else None
    if zone is None:
        raise ValueError("not a time zone: %r (use an IANA name such as Asia/Shanghai, or UTC+8)" % text)
    return zone


def zone_for_node(node):
    """The default display zone for a Guance node key (``us1`` -> America/Los_Angeles); UTC+8 for the
    China sites, an empty or unknown node and a private deployment's URL."""
    zone = NODE_ZONES.get((node or "default").strip().lower() if isinstance(node, str) else "default", DEFAULT_ZONE)
    return parse_zone(zone) if isinstance(zone, str) else zone


class display_zone:
    """Context manager: times are displayed in ``zone`` (a tzinfo or a text for ``parse_zone``) inside."""

    def __init__(self, zone):
        self.zone = parse_zone(zone) if isinstance(zone, str) else zone
        self._saved = None

    def __enter__(self):
        global _zone
        self._saved, _zone = _zone, self.zone
        return self.zone

    def __exit__(self, *exc):
        global _zone
        _zone = self._saved
        return False


def current_zone():
    """The zone times are displayed in now (``display_zone``), UTC+8 by default."""
    return _zone or DEFAULT_ZONE


def display_time(value, offset_hours=None, zone=None):
    """``2026-11-20 16:00:00 (UTC+8)`` for a datetime or epoch ms; ``-`` for None.

    The zone: ``zone`` (tzinfo or text), else a fixed ``offset_hours``, else the run's
    (``display_zone``). It is always named: the UTC offset, and the zone's abbreviation
    when it has one (``2026-11-20 00:00:00 (UTC-8 PST)``).
    """
    if value is None:
        return "-"
    if not isinstance(value, datetime.datetime):
        value = clock.parse_time(value)
    if zone is None and offset_hours is not None:
        zone = datetime.timezone(datetime.timedelta(hours=offset_hours))
    elif isinstance(zone, str):
        zone = parse_zone(zone)
    local = value.astimezone(zone or current_zone())
    return "%s (%s)" % (local.strftime("%Y-%m-%d %H:%M:%S"), zone_label(local))


def zone_label(local):
    """``UTC+8``, ``UTC-7 PDT``, ``UTC+5.5`` for an aware datetime: its offset, and its zone's letters."""
    hours = local.utcoffset().total_seconds() / 3600.0
    label = "UTC%+g" % hours
    name = local.tzname() or ""
    if name.isalpha() and name.upper() not in ("UTC", "GMT"):
        label += " " + name
    return label


def duration(seconds):
    """``45s``, ``4m 30s``, ``2h 5m``, ``3d 4h``; negative durations as ``-4m 30s``."""
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else ""
    total = int(round(abs(seconds)))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        parts = ["%dd" % days] + (["%dh" % hours] if hours else [])
    elif hours:
        parts = ["%dh" % hours] + (["%dm" % minutes] if minutes else [])
    elif minutes:
        parts = ["%dm" % minutes] + (["%ds" % secs] if secs else [])
    else:
        parts = ["%ds" % secs]
    return sign + " ".join(parts)


def sparkline(values, width=24):
    """A one-line chart of ``values`` (resampled to ``width`` points by averaging)."""
    points = [float(v) for v in values if v is not None and v == v]
    if not points:
        return ""
    if len(points) > width:
        points = _resample(points, width)
    low, high = min(points), max(points)
    if high - low < 1e-12:
        return SPARK_BARS[3] * len(points)
    scale = (len(SPARK_BARS) - 1) / (high - low)
    return "".join(SPARK_BARS[int(round((p - low) * scale))] for p in points)


def _resample(points, width):
    """``width`` averages of consecutive slices of ``points``."""
    out = []
    for i in range(width):
        low = i * len(points) // width
        high = max(low + 1, (i + 1) * len(points) // width)
        chunk = points[low:high]
        out.append(sum(chunk) / len(chunk))
    return out


_environment = None
_compiled = {}


def environment():
    global _environment
    if _environment is None:
        env = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined,
                                 trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
        env.filters.update({"md": md, "code": code, "num": num, "pct": pct, "time": display_time,
                            "duration": duration, "spark": sparkline})
        env.globals.update({"table": table})
        _environment = env
    return _environment


def render(template, **data):
    """Render a jinja2 template text with the report filters; the result is stripped markdown."""
    compiled = _compiled.get(template)
    if compiled is None:
        compiled = environment().from_string(template)
        _compiled[template] = compiled
    text = visible(compiled.render(**data))
    # Collapse runs of blank lines left by conditional blocks.
    lines = []
    for line in text.splitlines():
        if not line.strip() and lines and not lines[-1].strip():
            continue
        lines.append(line.rstrip())
    return "\n".join(lines).strip() + "\n"
