"""Markdown for event reports: escaping, tables that cannot break, numbers, times, text charts.

Templates are jinja2 text kept in Python modules (Func ships only ``.py``
scripts). ``render(template, **data)`` renders with these filters:

- ``md``: escape text for markdown (a ``|`` or ``*`` in a name cannot break a table or a line);
- ``code``: inline code; ``time``: a time in the display zone; ``duration``: ``4m 30s``;
- ``num(digits)``, ``pct(digits)``, ``spark``: a compact text chart of numbers.

``table(headers, rows, limit)`` escapes every cell (pass ``Markdown(...)`` for a
cell that is already markdown) and cuts long tables with a count of what was left out.
"""
import datetime

import jinja2

from guance_monitor import clock

DISPLAY_UTC_OFFSET_HOURS = 8     # Guance's users read Beijing time (DataFlux Func's default zone)
SPARK_BARS = u"\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"
# What can change a line's meaning inside text or a table cell: emphasis, code, links, HTML, headings,
# table pipes, strikethrough. Parentheses, braces, + and ! only matter after these and stay readable.
_ESCAPED = "\\`*_[]<>#|~"


class Markdown(str):
    """Text that is already markdown and must not be escaped again."""


def md(value):
    """``value`` as markdown-safe inline text (one line, special characters escaped)."""
    if value is None:
        return ""
    if isinstance(value, Markdown):
        return value
    text = value if isinstance(value, str) else str(value)
    text = " ".join(text.split())  # newlines and runs of blanks would break a table row
    return Markdown("".join("\\" + ch if ch in _ESCAPED else ch for ch in text))


def code(value):
    """Inline code; backticks inside become a fence one longer than the longest run."""
    text = " ".join(("" if value is None else str(value)).split())
    if not text:
        return Markdown("")
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return Markdown("%s%s%s%s%s" % (fence, pad, text.replace("|", "\\|"), pad, fence))


def table(headers, rows, limit=20, more_label=u"另有 {n} 行未显示 / {n} more rows not shown"):
    """A markdown table; rows beyond ``limit`` are replaced by one line counting them."""
    rows = list(rows)
    lines = ["| " + " | ".join(md(h) for h in headers) + " |",
             "| " + " | ".join("---" for _ in headers) + " |"]
    for row in rows[:limit] if limit else rows:
        cells = [md(cell) for cell in row]
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


def display_time(value, offset_hours=None):
    """``2026-11-20 16:00:00 (UTC+8)`` for a datetime or epoch ms; ``-`` for None."""
    if value is None:
        return "-"
    if not isinstance(value, datetime.datetime):
        value = clock.parse_time(value)
    hours = DISPLAY_UTC_OFFSET_HOURS if offset_hours is None else offset_hours
    local = value.astimezone(datetime.timezone(datetime.timedelta(hours=hours)))
    return "%s (UTC%+g)" % (local.strftime("%Y-%m-%d %H:%M:%S"), hours)


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
    text = compiled.render(**data)
    # Collapse runs of blank lines left by conditional blocks.
    lines = []
    for line in text.splitlines():
        if not line.strip() and lines and not lines[-1].strip():
            continue
        lines.append(line.rstrip())
    return "\n".join(lines).strip() + "\n"
