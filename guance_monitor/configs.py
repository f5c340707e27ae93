"""Studio configs and code filters: accept what users can type, refuse it clearly otherwise.

Studio delivers ``configs`` as the user typed it: a JSON string (sometimes
with single quotes), a list, a single dict, ``None`` or empty. ``Schema``
validates each entry field by field; a bad entry raises ``ConfigError`` whose
text names the entry and the field, e.g. ``configs[1].namespace: expected a
string or a list of strings, got 5``.

Limits, each a ``ConfigError`` naming what is too big: ``MAX_TEXT`` characters of
configs text, ``MAX_DEPTH`` levels of nesting (checked in one pass before parsing, so
deeply nested text cannot exhaust the parser's recursion), ``MAX_ENTRIES`` entries,
``MAX_LIST`` items in a list field and ``MAX_STRING`` characters in a string. Every
check is linear in the size of the input.
"""
import ast
import difflib
import json


MAX_TEXT = 64 * 1024
MAX_DEPTH = 8
MAX_ENTRIES = 200
MAX_LIST = 1000
MAX_STRING = 1000


class ConfigError(ValueError):
    """A config entry or filter is unusable; the text says which and why."""


def load(raw, name="configs"):
    """The list of entries (dicts) in ``raw``; ``[]`` means "inspect everything"."""
    if raw is None:
        return []
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("utf-8", "replace")
    if isinstance(raw, str):
        text = raw.strip()
        if not text:
            return []
        if len(text) > MAX_TEXT:
            raise ConfigError("%s: %d characters, more than the %d accepted; split the inspection or use wildcards"
                              % (name, len(text), MAX_TEXT))
        depth = text_depth(text)
        if depth > MAX_DEPTH:
            raise ConfigError("%s: nested %d levels deep, more than the %d accepted" % (name, depth, MAX_DEPTH))
        raw = _parse_text(text, name)
    else:
        depth = value_depth(raw, MAX_DEPTH + 1)
        if depth > MAX_DEPTH:
            raise ConfigError("%s: nested more than %d levels deep" % (name, MAX_DEPTH))
    if isinstance(raw, dict):
        return [raw] if raw else []
    if isinstance(raw, tuple):
        raw = list(raw)
    if not isinstance(raw, list):
        raise ConfigError("%s: expected a JSON list of objects, got %s" % (name, _show(raw)))
    if len(raw) > MAX_ENTRIES:
        raise ConfigError("%s: %d entries, more than the %d accepted" % (name, len(raw), MAX_ENTRIES))
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise ConfigError("%s[%d]: expected an object such as {\"key\": \"value\"}, got %s"
                              % (name, index, _show(entry)))
    return raw


def text_depth(text):
    """The deepest nesting of ``[``/``{``/``(`` outside quoted strings, in one pass."""
    depth = deepest = 0
    quote = None
    escaped = False
    for ch in text:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]})":
            depth = max(0, depth - 1)
    return deepest


def value_depth(value, stop):
    """How deeply lists and dicts nest in ``value`` (counting stops at ``stop``)."""
    deepest = 0
    todo = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, (list, tuple, dict)):
            deepest = max(deepest, depth)
            if depth >= stop:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            todo.extend((child, depth + 1) for child in children)
    return deepest


def _parse_text(text, name):
    try:
        return json.loads(text)
    except ValueError as json_error:
        try:
            # Users paste Python literals from the docs' examples (single quotes, True/None).
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ConfigError("%s is not valid JSON: %s (line %d, column %d)"
                              % (name, json_error.msg, json_error.lineno, json_error.colno))
        if isinstance(value, (list, dict, tuple)):
            return value
        raise ConfigError("%s: expected a JSON list of objects, got %s" % (name, _show(value)))


class Field:
    """One config key: how to read it (``parse``), whether it must be there, its default.

    ``parse(value)`` returns the normalised value or raises ValueError with a
    message that completes "expected ...".
    """

    def __init__(self, name, parse, required=False, default=None, doc=""):
        self.name = name
        self.parse = parse
        self.required = required
        self.default = default
        self.doc = doc


class Schema:
    def __init__(self, fields):
        self.fields = list(fields)
        self.by_name = {f.name: f for f in self.fields}

    def parse(self, raw, name="configs"):
        """Validated entries, each a dict with every field (defaults filled in)."""
        entries = []
        for index, entry in enumerate(load(raw, name)):
            where = "%s[%d]" % (name, index)
            unknown = [k for k in entry if k not in self.by_name]
            if unknown:
                key = unknown[0]
                hint = difflib.get_close_matches(str(key), list(self.by_name), n=1)
                raise ConfigError("%s: unknown field %r%s; known fields: %s" % (
                    where, key, " (did you mean %r?)" % hint[0] if hint else "",
                    ", ".join(self.by_name)))
            parsed = {}
            for field in self.fields:
                value = entry.get(field.name)
                if value is None or value == "" or value == []:
                    if field.required:
                        raise ConfigError("%s.%s: required" % (where, field.name))
                    parsed[field.name] = field.default
                    continue
                try:
                    parsed[field.name] = field.parse(value)
                except (ValueError, TypeError) as exc:
                    raise ConfigError("%s.%s: %s, got %s" % (where, field.name, exc, _show(value)))
            entries.append(parsed)
        return entries


# -- field parsers (raise ValueError("expected ...")) ------------------------------------------

def string(value):
    if isinstance(value, str) and value.strip():
        if len(value) > MAX_STRING:
            raise ValueError("expected at most %d characters" % MAX_STRING)
        return value.strip()
    raise ValueError("expected a non-empty string")


def string_list(value):
    """A string or a list of strings -> list of distinct strings, in their order."""
    if isinstance(value, str) and value.strip():
        return [string(value)]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) and v.strip() for v in value):
        if len(value) > MAX_LIST:
            raise ValueError("expected at most %d items, got %d" % (MAX_LIST, len(value)))
        seen = set()
        out = []
        for item in value:
            text = string(item)
            if text not in seen:
                seen.add(text)
                out.append(text)
        return out
    raise ValueError("expected a string or a list of strings")


def number(minimum=None, maximum=None):
    def parse(value):
        if isinstance(value, bool):
            raise ValueError("expected a number")
        try:
            result = float(value)
        except (TypeError, ValueError):
            raise ValueError("expected a number")
        if result != result or result in (float("inf"), float("-inf")):
            raise ValueError("expected a finite number")
        if minimum is not None and result < minimum:
            raise ValueError("expected a number >= %s" % minimum)
        if maximum is not None and result > maximum:
            raise ValueError("expected a number <= %s" % maximum)
        return result
    return parse


def integer(minimum=None, maximum=None):
    as_number = number(minimum, maximum)

    def parse(value):
        result = as_number(value)
        if result != int(result):
            raise ValueError("expected a whole number")
        return int(result)
    return parse


def boolean(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.strip().lower() in ("true", "yes", "1")
    raise ValueError("expected true or false")


def string_map(value):
    """A dict of string -> string (tag filters)."""
    if isinstance(value, dict) and len(value) > MAX_LIST:
        raise ValueError("expected at most %d keys" % MAX_LIST)
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, (str, int, float))
                                       and not isinstance(v, bool) for k, v in value.items()):
        return {k: str(v) for k, v in value.items()}
    raise ValueError("expected an object of string values, such as {\"env\": \"prod\"}")


def duration_seconds(value):
    """``90``, ``"90s"``, ``"30m"``, ``"2h"``, ``"7d"`` -> seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < float("inf"):
        return float(value)
    if isinstance(value, str):
        text = value.strip().lower()
        units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
        try:
            if text and text[-1] in units:
                result = float(text[:-1]) * units[text[-1]]
            else:
                result = float(text)
        except ValueError:
            result = -1
        if 0 <= result < float("inf"):
            return result
    raise ValueError("expected a duration such as 300, \"30m\", \"2h\" or \"7d\"")


# -- filters ----------------------------------------------------------------------------------

def check_filters(filters):
    """The filters as a list of callables; ConfigError naming the one that is not callable."""
    if filters is None:
        return []
    if callable(filters):
        return [filters]
    if not isinstance(filters, (list, tuple)):
        raise ConfigError("filters: expected a list of functions, got %s" % _show(filters))
    for index, one in enumerate(filters):
        if not callable(one):
            raise ConfigError("filters[%d]: expected a function, got %s" % (index, _show(one)))
    return list(filters)


def keep(obj, filters):
    """True when every filter returns True for ``obj`` (no filters keeps everything).

    A filter that raises fails with ConfigError naming it; a truthy non-True
    return counts as keep, ``None`` (a filter that falls off its end) as drop.
    """
    for one in filters:
        try:
            result = one(obj)
        except Exception as exc:  # noqa: BLE001 - user code
            raise ConfigError("filter %s raised %s: %s" % (
                getattr(one, "__name__", repr(one)), type(exc).__name__, exc))
        if not result:
            return False
    return True


def _show(value):
    text = json.dumps(value, ensure_ascii=False, default=repr) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
