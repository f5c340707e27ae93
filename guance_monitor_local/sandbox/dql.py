"""DQL for the sandbox: answers ``POST /api/v1/df/query_data_v1`` queries from scenario points.

``PointStore`` holds the scenario's points per namespace and measurement, in
columns (numpy arrays; strings as sorted categories), sorted by time.
``execute(store, query, now_ms, options=None)`` parses one ``query`` object of
the request body and returns the ``content.data[]`` element Guance would return
for it; ``Options`` carries the server's behaviour for the request (the
scenario's ``sandbox.dql`` settings and fault effects, see ``dql_service``).
What this module does not support raises ``DQLError`` with code
``DQL.Unsupported`` and names the part; it never answers such a query with an
empty result. Malformed text raises ``DQL.ParseError``, bad values or request
fields ``DQL.InvalidParam``. Messages quote the query text near the fault.

Sources: Guance docs ``dql/define.md`` (syntax, time clause, LIMIT/SLIMIT),
``dql/funcs.md`` (aggregates, ``exists()``, ``re()``), ``dql/query.md`` (1000
rows by default) and ``open-api/query-data/query-data-v1.md`` (request fields,
answer shape). Where they are silent the InfluxQL behaviour is chosen; such
choices are marked *[InfluxQL]*, choices of our own *[sandbox]*.

Syntax
------
``namespace::measurement:(targets) {filters} [time] BY k, ... ORDER BY c [ASC|DESC]
LIMIT n OFFSET n SLIMIT n SOFFSET n``, clauses in that order (the docs forbid
reordering). Keywords and function names are case-insensitive, names are not.
``#`` starts a comment running to the end of the line.

- Namespaces ``M``/``metric``, ``O``/``object``, ``CO``/``custom_object``,
  ``L``/``logging``, ``E``/``event``/``keyevent`` (any case). Without ``ns::``
  the namespace is ``M``, as documented. ``T R S N P F`` and the other
  namespaces are refused.
- Identifiers: bare (``[_a-zA-Z0-9]`` and other Unicode letters, not starting
  with a digit; DQL keywords must be backticked) or backticked (no escapes).
- Strings: single or double quotes; backslash escapes ``\\n \\t \\r \\\\ \\' \\"``;
  any other backslash pair is kept as written (so ``'\\d+'`` stays a regex).
  ``b64'...'`` strings are decoded. Regexes: ``re('...')`` and the
  recommended ``re`...```, ``re'...'``, ``re"..."``.
- Numbers: integers and floats (``-1``, ``5.67E3``); ``true``/``false``.
- The measurement is a name or a backticked name, or a subquery (see Nested
  queries); ``*``, ``re(...)``, several measurements, ``FILTER``/``LINK``/``WITH``
  and ``SHOW`` functions are refused. For ``L::`` the measurement is the log ``source``, for ``E::``
  the event ``df_source``, for ``O::``/``CO::`` the object ``class``; those
  names can also be used as columns (they hold the measurement) when the
  points do not carry them. ``time`` is a column in filters too.

Targets
-------
- A field or tag name, ``*`` (every stored key, sorted by name, minus the BY
  keys *[InfluxQL]*), or ``last first max min avg sum count count_distinct
  spread`` over one field (``count(*)``/``count(`*`)`` counts points).
  ``spread(f)`` is ``max(f) - min(f)``, documented for ``M::`` only: elsewhere
  it is refused. An absent target
  clause or ``()`` means ``*``. ``AS alias`` names a column; otherwise plain
  columns are named after the field and aggregates ``fn(field)`` (as in the
  OpenAPI answer example). The answer's columns are ``time`` then these.
- Mixing aggregates and plain columns, other functions (``difference``,
  ``fill``, ``int``/``float``, ``derivative``, ...), nested calls, several
  arguments and math expressions are refused. (The docs show arithmetic between
  fields, ``usage+1``, ``a/b``; between aggregates, ``max(x) - min(x)``, none:
  ``spread(x)`` is the documented form.)
- ``disableMultipleField`` is true when absent (documented default): with it,
  more than one column raises ``DQL.InvalidParam`` asking for
  ``disableMultipleField: false``.
- ``max min avg sum`` need numbers: over a string column they raise
  ``DQL.InvalidParam``; non-numbers in mixed columns are skipped.
  ``first``/``last`` take the earliest/latest point that has the field;
  ``max``/``min`` the earliest point holding the extreme *[InfluxQL]*.
  ``count(f)`` counts points having ``f``; ``count_distinct(f)`` distinct
  values of ``f``.

Filters
-------
- ``,`` ``AND`` ``&&`` are AND; ``OR`` ``||`` OR; parentheses group. ``&&``
  binds tighter than ``||`` and ``,`` is the loosest of all, so
  ``{a=1 || b=2, c=3}`` means ``(a=1 || b=2) AND c=3`` (the docs' example).
- ``= != > >= < <=``, ``IN [..]``, ``NOT IN [..]``, ``= re(..)``,
  ``!= re(..)``, ``= exists()``, ``!= exists()`` on any tag or field.
- Comparison: numbers compare as numbers, strings as strings. A number
  against a string converts the string to a number when it reads as one
  (tags holding ``"3"`` match ``= 3``), otherwise it does not match
  *[sandbox]*; booleans match ``true``/``false`` and the strings
  ``"true"``/``"false"``.
- A point lacking the key: ``=``, ordering, ``IN``, ``= re``, ``= exists()``
  are false; ``!=``, ``NOT IN``, ``!= re``, ``!= exists()`` are true.
- Regexes use Python's ``re`` syntax. ``M::`` matches anywhere in the value
  (Go ``regexp`` as documented for metrics, like InfluxQL ``=~``); the other
  namespaces must match the whole value (documented: Elasticsearch
  ``regexp`` queries are anchored, hence the docs' ``re('.*not defined.*')``).
- ``exists()`` is documented for every namespace except ``M``: on ``M::`` it
  is refused.
- Refused: ``NOT``, ``LIKE``, ``=~``/``!~``, ``match()`` and other filter
  functions, ``NIL``, math expressions, JSON paths (``@a.b``), comparing two
  keys.

Nested queries
--------------
Documented (``define.md``, 嵌套查询): ``ns::( inner query ):(targets) {filters}
BY ... ORDER BY ... LIMIT/OFFSET/SLIMIT/SOFFSET``, to any depth; two sibling
subqueries at one level (``( a ), ( b )``) are refused, as the docs say.

- The subquery's answer rows are the outer query's input: one row per row of
  every series, with the columns ``time``, the subquery's output columns (by
  name or alias) and its BY tags (the series' tag values; ``""`` where missing).
  A BY tag named like an output column is refused (rename the column).
- The outer level reads them like points: plain columns and ``*``, every
  aggregate above (``count(uid)``, ``count_distinct(namespace)``, ``sum(d)``
  ...), filters on those columns, BY on them, ORDER BY, paging. Rows of equal
  time keep the subquery's order; a row without time (non-``M`` aggregates)
  sorts last. Aggregate times follow the rules of the outer namespace.
- The outer namespace must be the subquery's *[sandbox]* (every documented
  example nests one namespace).
- Time: the innermost query reads the points; its time clause or the request's
  ``timeRange`` (with ``cursor_time``, segments and sampling) applies there. A
  time clause on an outer level is refused *[sandbox]*; outer levels are never
  bucketed (the request's ``interval`` and ``auto_interval_ms`` do not apply)
  *[sandbox]*.
- Paging: the request's ``slimit soffset limit offset orderby sorder_by``
  page the outermost level; a subquery's own ``LIMIT``/``SLIMIT`` clauses apply
  to it, and it has no default row limit (it is complete) *[sandbox]*.
- ``disableMultipleField`` concerns the outermost columns only.

Example (pods whose restart counter changed, per cluster and namespace)::

    M::(M::`kube_pod`:(spread(`restarts`) AS `d`) {...} BY `cluster_name_k8s`, `namespace`, `uid`)
      :(count(`d`)) {`d` > 0} BY `cluster_name_k8s`, `namespace`

Time
----
- ``[start]``, ``[start:end]``, ``[start:end:interval]``, ``[start::interval]``
  and ``[::interval]``. ``start``/``end``: a duration (``30m``, ``1h30m``;
  units ``ns us ms s m h d w y``, ``y`` = 365 d) meaning that long before
  ``now_ms``; ``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM:SS`` (UTC); an epoch
  number, read as milliseconds from 10^11 up and as seconds below (the docs
  give both ``1672502400`` and ``1672502400000``). An absent end is now.
  ``[:end]`` (no start) is refused.
- Without a time in the text the request's ``timeRange`` applies; without
  both, the last 15 minutes for ``M``/``L``/``E`` and the last 30 minutes for
  ``O``/``CO`` *[sandbox]*. The text's time wins over ``timeRange``
  *[sandbox]*. Both ends are inclusive.
- ``cursor_time`` (request, epoch ms; 0 = unset) ends the range there; before
  the range start it is refused. With ``segment_ms`` an answer covers only the
  newest S ms up to that end (see ``dql_service``).
- The interval comes from the request's ``interval`` (seconds) if given, else
  from the time clause: the docs rank the request's density fields above the
  statement's. With ``auto_interval_ms`` an aggregate query giving neither (not
  nested, not ordered by another column than time) is bucketed by it. It buckets aggregates by ``floor(time / interval) * interval``
  (UTC epoch multiples; ``tz`` and ``align_time`` are ignored), one row per
  non-empty bucket, time = bucket start, newest first unless ``ORDER BY time
  ASC``. An interval in the text of a query without aggregates is refused; the
  request's ``interval`` is then ignored (it is a density hint). With an
  interval, ``maxPointCount``/``density`` are refused (they would change it).

Data
----
- ``M``/``L``/``E``: the points with time in the range.
- ``O``/``CO``: an object is the latest point per ``name`` within the range
  (an object not reported in the range has vanished; points without ``name``
  count as one unnamed object). Filters and targets apply to those latest
  points; raw queries give one row per object.
- Raw queries: one row per point (object), newest first; ``ORDER BY time
  ASC|DESC``. ``ORDER BY`` another column is refused for ``M`` (documented:
  metrics sort by time only) and sorts the rows of each series elsewhere
  (missing values last). For ``M`` a point lacking every selected column gives
  no row *[InfluxQL]*.
- Aggregates without an interval: one row per series. The row's time: for
  ``M``, the selected point's time when the only target is one of ``first last
  max min``, else the range start *[InfluxQL]*; for the other namespaces the
  point's time for a lone ``first``/``last`` and ``null`` otherwise (the docs'
  ``L::`` examples). For ``M`` a series with no value for any of its
  aggregates is left out *[InfluxQL]*; elsewhere it stays with ``null``/0.
  ``ORDER BY <output column>`` sorts the series (not for ``M``).
- BY: one series per distinct combination of the BY keys' values (missing
  values group as ``""``), sorted by those values; ``tags`` holds them. Without
  BY one series named after the measurement, without ``tags``. No points in
  range after filtering: ``"series": []``.
- Paging: ``SLIMIT``/``SOFFSET`` (request ``slimit``/``soffset``) page over
  series, in every namespace (the docs say slimit is for metrics; the sandbox
  applies it everywhere so that paged BY queries end) *[sandbox]*.
  ``LIMIT``/``OFFSET`` (request ``limit``/``offset``) page over the rows of
  each series (documented for BY). Raw rows default to LIMIT 1000 (the
  query tool's documented default); aggregate rows have no default limit.
  Request fields win over the text's clauses; 0 means "not set". A series left
  with no rows by OFFSET is omitted. A capped server (``max_slimit``,
  ``max_limit``) returns fewer series / rows than asked, counting
  ``soffset``/``offset`` from the request as usual.
- Result window: raw rows of ``L O CO E`` are refused with
  ``DQL.ResultWindowTooLarge`` when ``offset + limit`` exceeds
  ``offset_window`` (default 10000, Elasticsearch's ``max_result_window``)
  *[sandbox]*: Guance documents neither the window nor an error code for it.
- ``search_after`` (documented: "the previous answer's search_after"): raw
  rows of ``L O CO E`` without BY, nesting, or ORDER BY other than ``time``.
  Every non-empty page of such a query carries ``search_after`` = ``[time,
  position]`` of its last row (the sort values: time, then the point's position
  in the store as the tie-breaker, like Guance's ``__docid``; treat it as
  opaque); sent back, the next page holds the rows after that one in the same
  order. An empty page has no ``search_after``. ``[]`` means the first page;
  ``search_after`` with ``offset`` is refused; elsewhere it is refused
  (``DQL.Unsupported``).
- Series order: ``sorder_by`` (``[{"column", "order"}]``) or ``sorderby``
  (``[{column: order}]``) orders the series by output columns (by name, alias
  or ``#N``, the N-th output column as in the docs' example ``#1``; one row per
  series needed) and BY tags, several keys in turn, missing values last, ties in
  BY order. Without it the series are in BY order, or with
  ``unstable_series_order`` in an order drawn anew for every request.
- ``endless`` (a fault): series and row pages wrap around and are always full;
  ``search_after`` pages likewise.
- Sampling (``sample_rate`` r < 1, unless ``disable_sampling: true``): the
  innermost query reads only the points whose position hashes below r (a fixed
  ~r share; the same points every time); ``total_hits`` counts what was read.
- Values: numbers stay numbers (integer columns give ints), strings strings,
  booleans booleans; missing values and NaN give ``null``. Object or list
  field values are stored as their JSON text (Guance stores text). A key that
  is both a tag and a field of one point takes the tag's value. ``ORDER BY
  time`` is case-insensitive (``TIME``).
- Request fields used: ``q timeRange slimit soffset limit offset
  disableMultipleField orderby order_by sorderby sorder_by interval
  search_after cursor_time disable_sampling``. Ignored: ``tz align_time
  highlight showLabel workspaceUUID workspaceUUIDs _funcList maxPointCount
  density`` (the last two: see Time). Refused when set: ``funcList
  output_format``. Unknown fields raise ``DQL.InvalidParam``.

The answer: ``{"async_id": "", "is_running": false, "complete": false,
"next_cursor_time": -1, "sample": 1, "interval": 0, "window": 0, "max_point":
0, "scan_completed": false, "series": [...], "column_names": [...], "cost":
"<n>ms", "query_parse": {"namespace", "sources", "fields", "funcs"},
"total_hits": n[, "search_after": [time, position]]}``, the documented fields
with the documented example's values: ``complete`` and ``scan_completed`` are
false even in a full answer, as there. ``next_cursor_time`` is the next
segment's end (-1: the range is covered); ``sample`` the sampling rate;
``interval`` = ``window`` the bucket width in ms (0: none); ``max_point`` the
buckets in the range (0: none); ``total_hits`` counts the points (objects, or
subquery rows) that passed the filters.

Speed: each (namespace, measurement) is concatenated once, on the first query
after points were added; columns are converted on first use. Time ranges are
binary searches, filters vectorised masks, groups integer keys. Grouped
results are cached (keyed by everything but the paging and order fields), so
paging through a query's series with ``soffset`` computes it once; a nested
query caches its subquery's result too and builds the outer table from it with
array operations (no per-row Python).
"""
import base64
import binascii
import datetime
import json
import math
import re
import threading
import time as _time
from collections import OrderedDict

import numpy as np
import pandas as pd

__all__ = ["DQLError", "PointStore", "execute", "parse"]

NAMESPACE_CODES = {
    "M": "M", "METRIC": "M",
    "O": "O", "OBJECT": "O",
    "CO": "CO", "CUSTOM_OBJECT": "CO",
    "L": "L", "LOGGING": "L",
    "E": "E", "EVENT": "E", "KEYEVENT": "E",
}
LONG_NAMES = {"M": "metric", "O": "object", "CO": "custom_object", "L": "logging", "E": "keyevent"}
OTHER_NAMESPACES = {"T", "TRACING", "R", "RUM", "S", "SECURITY", "N", "NETWORK", "P", "PROFILING", "F", "FUNC",
                    "BL", "BACKUP_LOG", "OH", "OBJECT_HISTORY", "COH", "CUSTOM_OBJECT_HISTORY", "DIALTESTING"}
SOURCE_COLUMNS = {"L": "source", "E": "df_source", "O": "class", "CO": "class"}
DEFAULT_WINDOW_MS = {"M": 15 * 60000, "L": 15 * 60000, "E": 15 * 60000, "O": 30 * 60000, "CO": 30 * 60000}
DEFAULT_ROW_LIMIT = 1000
AGGREGATES = ("last", "first", "max", "min", "avg", "sum", "count", "count_distinct", "spread")
METRIC_ONLY = ("spread",)
SELECTORS = ("first", "last", "max", "min")
CACHE_SIZE = 8

DEEP_NAMESPACES = ("L", "O", "CO", "E")
DEFAULT_OFFSET_WINDOW = 10000

PARAMS_USED = {"q", "timeRange", "slimit", "soffset", "limit", "offset", "disableMultipleField", "orderby",
               "order_by", "interval", "sorderby", "sorder_by", "search_after", "cursor_time", "disable_sampling"}
PARAMS_IGNORED = {"tz", "align_time", "highlight", "showLabel", "workspaceUUID", "workspaceUUIDs", "_funcList",
                  "maxPointCount", "density"}
PARAMS_REFUSED = {"funcList", "output_format"}

_KEYWORDS = {"AND", "AS", "ASC", "AUTO", "BY", "DESC", "FALSE", "FILTER", "LIMIT", "LINK", "WITH", "LINEAR",
             "NIL", "OFFSET", "OR", "PREVIOUS", "SLIMIT", "SOFFSET", "TRUE", "ORDER", "IN", "NOT", "LIKE"}
_UNITS_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0, "d": 86400000.0,
             "w": 7 * 86400000.0, "y": 365 * 86400000.0}

_WS = re.compile(r"(?:\s+|#[^\n]*)*")
_BARE = re.compile(r"[^\W\d]\w*", re.UNICODE)
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
_NAMESPACE = re.compile(r"([A-Za-z_]+)\s*::")
_SPECIAL = re.compile(r"(re|b64)(?=[`'\"(])", re.IGNORECASE)
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ns|us|ms|s|m|h|d|w|y))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h|d|w|y)")
_DATE = re.compile(r"\s*(\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}:\d{2})?)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "`": "`"}
_MATH = "+-*/%^"

_MISSING_RESULT = {"=": False, "!=": True, ">": False, ">=": False, "<": False, "<=": False, "in": False,
                   "notin": True, "re": False, "notre": True, "exists": False, "notexists": True}


class DQLError(Exception):
    """A query the sandbox refuses: ``code`` is ``DQL.ParseError``, ``DQL.Unsupported`` or ``DQL.InvalidParam``."""

    def __init__(self, code, message):
        Exception.__init__(self, message)
        self.code = code


def _near(text, pos):
    if pos >= len(text.rstrip()):
        return "at the end of the query"
    snippet = text[pos:pos + 40]
    more = "..." if len(text) > pos + 40 else ""
    return "at char %d: %s%s" % (pos, snippet, more)


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------

class Target:
    """One entry of the target clause: ``kind`` is ``field``, ``star`` or ``agg``."""

    def __init__(self, kind, field=None, func=None, alias=None):
        self.kind = kind
        self.field = field
        self.func = func
        self.alias = alias

    @property
    def name(self):
        if self.alias:
            return self.alias
        if self.kind == "agg":
            return "%s(%s)" % (self.func, self.field)
        return self.field

    def __repr__(self):
        return "Target(%r, %r, %r, %r)" % (self.kind, self.field, self.func, self.alias)


class Query:
    """A parsed DQL statement."""

    def __init__(self, text):
        self.text = text
        self.namespace = "M"
        self.measurement = None
        self.targets = []          # [Target]; empty = every column
        self.filter = None         # ("and"|"or", [nodes]) or ("cmp", key, op, value)
        self.time = None           # {"start": (kind, ms)|None, "end": ..., "interval": ms|None}
        self.by = []
        self.order = None          # (column, descending)
        self.limit = None
        self.offset = None
        self.slimit = None
        self.soffset = None
        self.inner = None          # the subquery (a Query) of a nested query
        self.own_text = text       # this statement's text (a subquery's part of the whole text)

    @property
    def innermost(self):
        """The query that reads the points: this one, or its innermost subquery."""
        query = self
        while query.inner is not None:
            query = query.inner
        return query

    @property
    def aggregated(self):
        return any(t.kind == "agg" for t in self.targets)


def parse(text):
    """The ``Query`` for DQL ``text``; DQLError when it is malformed or unsupported."""
    if not isinstance(text, str):
        raise DQLError("DQL.InvalidParam", "q: expected the DQL text")
    return _Parser(text).query()


class _Parser:
    def __init__(self, text):
        self.text = text
        self.pos = 0

    # -- scanning --------------------------------------------------------------------------

    def fail(self, code, message, pos=None):
        raise DQLError(code, "%s (%s)" % (message, _near(self.text, self.pos if pos is None else pos)))

    def skip(self):
        self.pos = _WS.match(self.text, self.pos).end()

    def at_end(self):
        self.skip()
        return self.pos >= len(self.text)

    def peek(self, token):
        self.skip()
        return self.text.startswith(token, self.pos)

    def take(self, token):
        if self.peek(token):
            self.pos += len(token)
            return True
        return False

    def expect(self, token, what):
        if not self.take(token):
            self.fail("DQL.ParseError", "expected %s" % what)

    def peek_word(self):
        self.skip()
        match = _BARE.match(self.text, self.pos)
        return match.group(0) if match else None

    def take_keyword(self, *words):
        word = self.peek_word()
        if word is not None and word.upper() in words:
            self.pos += len(word)
            return word.upper()
        return None

    def followed_by_paren(self, word):
        rest = self.text[self.pos + len(word):]
        return rest.lstrip().startswith("(")

    def name(self, what):
        """A bare or backticked identifier: (name, backticked)."""
        self.skip()
        start = self.pos
        if self.text.startswith("`", start):
            end = self.text.find("`", start + 1)
            if end < 0:
                self.fail("DQL.ParseError", "unterminated backticked name")
            self.pos = end + 1
            return self.text[start + 1:end], True
        match = _BARE.match(self.text, start)
        if not match:
            self.fail("DQL.ParseError", "expected %s" % what)
        word = match.group(0)
        if word.upper() in _KEYWORDS:
            self.fail("DQL.ParseError", "expected %s, found the keyword %s (backtick it to use it as a name: `%s`)"
                      % (what, word, word))
        self.pos = match.end()
        return word, False

    def string(self):
        """A quoted string, or None when there is none here."""
        self.skip()
        if self.pos >= len(self.text) or self.text[self.pos] not in "'\"":
            return None
        quote = self.text[self.pos]
        start = self.pos
        index = self.pos + 1
        out = []
        while index < len(self.text):
            char = self.text[index]
            if char == "\\":
                nxt = self.text[index + 1:index + 2]
                out.append(_ESCAPES.get(nxt, "\\" + nxt))
                index += 2
                continue
            if char == quote:
                self.pos = index + 1
                return "".join(out)
            out.append(char)
            index += 1
        self.fail("DQL.ParseError", "unterminated string", start)

    def number(self):
        self.skip()
        match = _NUMBER.match(self.text, self.pos)
        if not match:
            return None
        # ``5m`` is a duration, ``1a`` a bad name: a number must not run into a letter
        end = match.end()
        if end < len(self.text) and (self.text[end].isalpha() or self.text[end] == "_"):
            self.fail("DQL.ParseError", "a number cannot run into letters here (durations such as 5m belong "
                                        "in the time clause; backtick names starting with a digit)")
        token = match.group(0)
        self.pos = end
        if re.search(r"[.eE]", token):
            return float(token)
        return int(token)

    def special(self):
        """``re(...)``, ``re`...```, ``re'...'``, ``b64'...'``: ("re"|"b64", text) or None."""
        self.skip()
        match = _SPECIAL.match(self.text, self.pos)
        if not match:
            return None
        kind = match.group(1).lower()
        start = self.pos
        self.pos = match.end()
        if self.text.startswith("`", self.pos):
            end = self.text.find("`", self.pos + 1)
            if end < 0:
                self.fail("DQL.ParseError", "unterminated %s`...` literal" % kind, start)
            value = self.text[self.pos + 1:end]
            self.pos = end + 1
        elif self.text.startswith("(", self.pos):
            self.pos += 1
            value = self.string()
            if value is None:
                self.fail("DQL.ParseError", "%s(...) takes one quoted string" % kind)
            self.expect(")", "')' closing %s(" % kind)
        else:
            value = self.string()
        if kind == "b64":
            try:
                value = base64.b64decode(value.encode("ascii"), validate=True).decode("utf-8")
            except (binascii.Error, ValueError, UnicodeError):
                self.fail("DQL.InvalidParam", "b64 string is not valid base64 of UTF-8 text", start)
        return kind, value

    def no_math(self):
        self.skip()
        if self.pos < len(self.text) and self.text[self.pos] in _MATH:
            self.fail("DQL.Unsupported", "math expressions (operator %s) are not supported" % self.text[self.pos])

    def integer(self, clause):
        self.skip()
        start = self.pos
        value = self.number()
        if not isinstance(value, int) or value < 0:
            self.fail("DQL.ParseError", "%s needs a non-negative integer" % clause, start)
        return value

    # -- grammar ---------------------------------------------------------------------------

    def query(self, nested=False):
        query = Query(self.text)
        self.skip()
        match = _NAMESPACE.match(self.text, self.pos)
        if match:
            word = match.group(1)
            code = NAMESPACE_CODES.get(word.upper())
            if code is None:
                kind = "DQL.Unsupported" if word.upper() in OTHER_NAMESPACES else "DQL.ParseError"
                self.fail(kind, "namespace %s:: is not supported (supported: M, O, CO, L, E)" % word)
            query.namespace = code
            self.pos = match.end()
        else:
            word = self.peek_word()
            if word is not None and self.followed_by_paren(word) and not _SPECIAL.match(self.text, self.pos):
                self.fail("DQL.Unsupported", "statement function %s() (SHOW_* and the like) is not supported" % word)
        self.source(query)
        self.skip()
        if self.text.startswith(":", self.pos):
            self.pos += 1
            self.expect("(", "'(' opening the target list")
            self.targets(query)
        if self.peek("{"):
            query.filter = self.filters()
        if self.peek("["):
            if query.inner is not None:
                self.fail("DQL.Unsupported", "a time clause on the outer level of a nested query is not supported: "
                                             "give the time range to the innermost query (or timeRange)")
            query.time = self.time_clause()
        if self.take_keyword("BY"):
            query.by = self.by_list()
        if self.take_keyword("ORDER"):
            if not self.take_keyword("BY"):
                self.fail("DQL.ParseError", "expected BY after ORDER")
            query.order = self.order_item()
        if self.take_keyword("LIMIT"):
            query.limit = self.integer("LIMIT")
        if self.take_keyword("OFFSET"):
            query.offset = self.integer("OFFSET")
        if self.take_keyword("SLIMIT"):
            query.slimit = self.integer("SLIMIT")
        if self.take_keyword("SOFFSET"):
            query.soffset = self.integer("SOFFSET")
        if nested and self.peek(")"):
            pass
        elif not self.at_end():
            word = (self.peek_word() or "").upper()
            if word in ("FILTER", "LINK", "WITH"):
                self.fail("DQL.Unsupported", "%s clauses are not supported" % word)
            if word in ("BY", "ORDER", "LIMIT", "OFFSET", "SLIMIT", "SOFFSET") or self.peek("{") or self.peek("["):
                self.fail("DQL.ParseError", "clause out of place: the order is (targets) {filters} [time] BY, "
                                            "ORDER BY, LIMIT, OFFSET, SLIMIT, SOFFSET")
            if self.peek(","):
                self.fail("DQL.Unsupported", "several measurements in one query are not supported")
            self.fail("DQL.ParseError", "unexpected text")
        kinds = set("agg" if t.kind == "agg" else "plain" for t in query.targets)
        if len(kinds) > 1:
            self.fail("DQL.InvalidParam", "aggregates and plain columns cannot be mixed in the targets", 0)
        if query.time and query.time.get("interval") and not query.aggregated:
            self.fail("DQL.Unsupported", "a time interval needs aggregate targets (e.g. last(`f`))", 0)
        return query

    def subquery(self, query):
        """``( inner query )`` as the data source of ``query``."""
        start = self.pos
        self.expect("(", "'(' opening the subquery")
        inner_start = self.pos
        query.inner = self.query(nested=True)
        query.inner.own_text = self.text[inner_start:self.pos].strip()
        self.expect(")", "')' closing the subquery")
        if self.peek(","):
            self.fail("DQL.Unsupported", "several subqueries at one level are not allowed (documented): nest them "
                                         "instead")
        if query.inner.namespace != query.namespace:
            self.fail("DQL.Unsupported", "a nested query's namespace (%s::) must be its subquery's (%s::)"
                      % (query.namespace, query.inner.namespace), start)
        query.measurement = query.inner.measurement

    def source(self, query):
        self.skip()
        start = self.pos
        if self.peek("("):
            self.subquery(query)
            return
        if self.peek("*") or self.peek("`*`"):
            self.fail("DQL.Unsupported", "wildcard measurement * is not supported: name the measurement")
        if _SPECIAL.match(self.text, self.pos):
            self.fail("DQL.Unsupported", "regex measurements are not supported: name the measurement")
        if self.at_end() or self.peek(":") or self.peek("{") or self.peek("["):
            self.fail("DQL.ParseError", "expected the measurement name", start)
        name, _ = self.name("the measurement name")
        query.measurement = name
        if self.peek(","):
            self.fail("DQL.Unsupported", "several measurements in one query are not supported")

    def targets(self, query):
        if self.take(")"):
            return
        while True:
            query.targets.append(self.target())
            if self.take(","):
                continue
            self.expect(")", "',' or ')' in the target list")
            return

    def target(self):
        self.skip()
        start = self.pos
        if self.take("*"):
            target = Target("star")
        else:
            if self.string() is not None or _NUMBER.match(self.text, self.pos):
                self.fail("DQL.Unsupported", "constant targets are not supported", start)
            name, quoted = self.name("a field name or an aggregate")
            if not quoted and self.peek("("):
                func = name.lower()
                if func == "fill":
                    self.fail("DQL.Unsupported", "fill() is not supported", start)
                if func not in AGGREGATES:
                    self.fail("DQL.Unsupported", "function %s() is not supported (supported: %s)"
                              % (name, ", ".join(AGGREGATES)), start)
                self.expect("(", "'('")
                field = self.function_argument(func)
                if self.peek(","):
                    self.fail("DQL.Unsupported", "%s() with more than one argument is not supported" % func)
                self.expect(")", "')' closing %s(" % func)
                target = Target("agg", field=field, func=func)
            elif name == "*":
                target = Target("star")
            elif name == "time":
                self.fail("DQL.Unsupported", "`time` as a target: the time is always the first column", start)
            else:
                target = Target("field", field=name)
        self.no_math()
        if self.take_keyword("AS"):
            if target.kind == "star":
                self.fail("DQL.ParseError", "* cannot have an alias")
            target.alias, _ = self.name("an alias after AS")
            self.no_math()
        return target

    def function_argument(self, func):
        self.skip()
        start = self.pos
        if self.take("*"):
            field = "*"
        else:
            field = self.string()
            if field is None:
                field, quoted = self.name("a field name in %s()" % func)
                if not quoted and self.peek("("):
                    self.fail("DQL.Unsupported", "function %s() inside %s() is not supported" % (field, func), start)
        self.no_math()
        if field == "*" and func != "count":
            self.fail("DQL.InvalidParam", "only count() accepts *", start)
        if field == "time":
            self.fail("DQL.InvalidParam", "%s(time) is not allowed" % func, start)
        return field

    def filters(self):
        self.expect("{", "'{'")
        if self.take("}"):
            return None
        node = self.comma_list()
        self.expect("}", "',', '||', '&&' or '}' in the filters")
        return node

    def comma_list(self):
        items = [self.or_expr()]
        while self.take(","):
            items.append(self.or_expr())
        return items[0] if len(items) == 1 else ("and", items)

    def or_expr(self):
        items = [self.and_expr()]
        while self.take("||") or self.take_keyword("OR"):
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else ("or", items)

    def and_expr(self):
        items = [self.unary()]
        while self.take("&&") or self.take_keyword("AND"):
            items.append(self.unary())
        return items[0] if len(items) == 1 else ("and", items)

    def unary(self):
        if self.take("("):
            node = self.comma_list()
            self.expect(")", "')' closing the parenthesis")
            return node
        if self.peek_word() and self.peek_word().upper() == "NOT":
            self.fail("DQL.Unsupported", "NOT before a condition is not supported (use !=, NOT IN)")
        if self.peek("!"):
            self.fail("DQL.Unsupported", "! before a condition is not supported (use !=, NOT IN)")
        return self.comparison()

    def comparison(self):
        self.skip()
        start = self.pos
        if self.peek("@"):
            self.fail("DQL.Unsupported", "JSON path filters (@...) are not supported")
        if self.string() is not None or _NUMBER.match(self.text, start):
            self.pos = start
            self.fail("DQL.Unsupported", "a constant on the left of a comparison is not supported")
        key, quoted = self.name("a tag or field name")
        if not quoted and self.peek("("):
            self.fail("DQL.Unsupported", "function %s() in a filter is not supported" % key, start)
        self.no_math()
        self.skip()
        op = None
        for symbol in ("=~", "!~", "!=", ">=", "<=", "<>", "=", ">", "<"):
            if self.text.startswith(symbol, self.pos):
                op = symbol
                break
        if op in ("=~", "!~"):
            self.fail("DQL.Unsupported", "operator %s is not supported (use = re('...'))" % op)
        if op == "<>":
            self.fail("DQL.Unsupported", "operator <> is not supported (use !=)")
        if op is not None:
            self.pos += len(op)
        else:
            word = self.take_keyword("IN", "NOT", "LIKE", "MATCH")
            if word == "IN":
                op = "in"
            elif word == "NOT":
                if self.take_keyword("IN"):
                    op = "notin"
                else:
                    self.fail("DQL.Unsupported", "NOT %s is not supported (only NOT IN)" % (self.peek_word() or ""))
            elif word in ("LIKE", "MATCH"):
                self.fail("DQL.Unsupported", "%s is not supported (use = re('...'))" % word)
            else:
                self.fail("DQL.ParseError", "expected a comparison operator after %s" % key)
        if op in ("in", "notin"):
            value = self.value_list()
        else:
            value = self.value(op)
        self.no_math()
        if isinstance(value, _Regex):
            op = "re" if op == "=" else "notre"
        elif isinstance(value, _Exists):
            op = "exists" if op == "=" else "notexists"
            value = None
        return ("cmp", key, op, value)

    def value(self, op):
        self.skip()
        start = self.pos
        special = self.special()
        if special is not None:
            kind, text = special
            if kind == "b64":
                value = text
            else:
                if op not in ("=", "!="):
                    self.fail("DQL.ParseError", "re() needs = or !=", start)
                try:
                    value = _Regex(text)
                except re.error as exc:
                    self.fail("DQL.InvalidParam", "invalid regular expression %r: %s" % (text, exc), start)
            return value
        text = self.string()
        if text is not None:
            return text
        number = self.number()
        if number is not None:
            return number
        word = self.peek_word()
        if word is None:
            if self.peek("["):
                self.fail("DQL.ParseError", "a list needs IN or NOT IN")
            self.fail("DQL.ParseError", "expected a value")
        upper = word.upper()
        if upper in ("TRUE", "FALSE"):
            self.pos += len(word)
            if op not in ("=", "!="):
                self.fail("DQL.InvalidParam", "booleans compare with = or != only", start)
            return upper == "TRUE"
        if upper == "NIL":
            self.fail("DQL.Unsupported", "NIL is not supported (use = exists() / != exists())")
        if self.followed_by_paren(word):
            if word.lower() == "exists":
                self.pos += len(word)
                self.expect("(", "'('")
                self.expect(")", "')': exists() takes no argument")
                if op not in ("=", "!="):
                    self.fail("DQL.ParseError", "exists() needs = or !=", start)
                return _Exists()
            self.fail("DQL.Unsupported", "function %s() in a filter value is not supported" % word)
        self.fail("DQL.Unsupported", "comparing with another key (%s) is not supported: quote string values" % word)

    def value_list(self):
        self.expect("[", "'[' after IN")
        values = []
        if self.take("]"):
            return values
        while True:
            self.skip()
            start = self.pos
            value = self.value("=")
            if isinstance(value, (_Regex, _Exists)):
                self.fail("DQL.Unsupported", "IN lists hold strings, numbers and booleans only", start)
            values.append(value)
            if self.take(","):
                continue
            self.expect("]", "',' or ']' in the IN list")
            return values

    def time_clause(self):
        self.skip()
        start = self.pos
        self.pos += 1
        end = self.text.find("]", self.pos)
        if end < 0:
            self.fail("DQL.ParseError", "unterminated time clause", start)
        body = self.text[self.pos:end]
        self.pos = end + 1
        parts = _split_time(body)
        if parts is None or len(parts) > 3:
            self.fail("DQL.ParseError", "time clause must be [start], [start:end] or [start:end:interval]", start)
        parts = parts + [""] * (3 - len(parts))
        spec = {"start": None, "end": None, "interval": None}
        for key, part in zip(("start", "end", "interval"), parts):
            if part == "":
                continue
            value = _time_value(part)
            if value is None:
                self.fail("DQL.ParseError", "bad time %s %r (durations like 30m, dates YYYY-MM-DD[ HH:MM:SS], "
                                            "epoch seconds or milliseconds)" % (key, part), start)
            if key == "interval":
                if value[0] != "rel":
                    self.fail("DQL.ParseError", "the interval must be a duration such as 5m", start)
                if value[1] < 1:
                    self.fail("DQL.InvalidParam", "the interval must be at least 1ms", start)
                spec[key] = int(value[1])
            else:
                spec[key] = value
        if spec["start"] is None and spec["end"] is not None:
            self.fail("DQL.Unsupported", "a time clause without a start ([:end]) is not supported", start)
        return spec

    def by_list(self):
        keys = []
        while True:
            self.skip()
            start = self.pos
            key, quoted = self.name("a tag name after BY")
            if not quoted and self.peek("("):
                self.fail("DQL.Unsupported", "function %s() in BY is not supported" % key, start)
            self.no_math()
            keys.append(key)
            if not self.take(","):
                return keys

    def order_item(self):
        self.skip()
        start = self.pos
        column, quoted = self.name("a column after ORDER BY")
        if not quoted and self.peek("("):
            self.fail("DQL.Unsupported", "function %s() in ORDER BY is not supported: order by the column's "
                                         "name or alias" % column, start)
        if not quoted and column.lower() == "time":
            column = "time"
        direction = self.take_keyword("ASC", "DESC")
        if self.peek(","):
            self.fail("DQL.Unsupported", "ORDER BY with more than one column is not supported")
        return column, direction == "DESC"


class _Regex:
    def __init__(self, pattern):
        self.pattern = pattern
        self.compiled = re.compile(pattern)


class _Exists:
    pass


def _split_time(body):
    parts = []
    index = 0
    while True:
        match = _DATE.match(body, index)
        if match:
            parts.append(match.group(1))
            index = match.end()
        else:
            colon = body.find(":", index)
            stop = len(body) if colon < 0 else colon
            parts.append(body[index:stop].strip())
            index = stop
        while index < len(body) and body[index].isspace():
            index += 1
        if index >= len(body):
            return parts
        if body[index] != ":":
            return None
        index += 1
        if index >= len(body):
            parts.append("")
            return parts


def _time_value(part):
    """("rel", ms ago) or ("abs", epoch ms) for one part of the time clause; None if unreadable."""
    if _DURATION.match(part):
        total = sum(float(n) * _UNITS_MS[u] for n, u in _DURATION_PART.findall(part))
        return "rel", total
    if re.match(r"\d+$", part):
        value = int(part)
        return "abs", value if value >= 10 ** 11 else value * 1000
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            moment = datetime.datetime.strptime(part, fmt)
        except ValueError:
            continue
        epoch = datetime.datetime(1970, 1, 1)
        return "abs", int((moment - epoch).total_seconds() * 1000)
    return None


# ---------------------------------------------------------------------------------------------
# Columns and tables
# ---------------------------------------------------------------------------------------------

class _Column:
    """One column: ``num`` (float64/int64 data, NaN missing), ``cat`` (int32 codes, -1 missing,
    sorted str ``cats``) or ``obj`` (object data, None missing)."""
    __slots__ = ("kind", "data", "cats", "int_like")

    def __init__(self, kind, data, cats=None, int_like=False):
        self.kind = kind
        self.data = data
        self.cats = cats
        self.int_like = int_like

    def take(self, index):
        return _Column(self.kind, self.data[index], self.cats, self.int_like)

    def notnull(self, index):
        data = self.data[index]
        if self.kind == "num":
            return ~np.isnan(data) if data.dtype.kind == "f" else np.ones(len(data), dtype=bool)
        if self.kind == "cat":
            return data >= 0
        return ~pd.isna(data)

    def python(self):
        """The values as a JSON-safe list."""
        data = self.data
        if self.kind == "num":
            if data.dtype.kind in "iu":
                return data.tolist()
            out = []
            for value in data.tolist():
                if value != value or value in (math.inf, -math.inf):
                    out.append(None)
                elif self.int_like and value.is_integer():
                    out.append(int(value))
                else:
                    out.append(value)
            return out
        if self.kind == "cat":
            extended = np.append(self.cats, np.array([None], dtype=object))
            return extended[data].tolist()
        return [_json_scalar(v) for v in data.tolist()]


def _json_scalar(value):
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if value != value or value in (math.inf, -math.inf):
            return None
        return value
    if isinstance(value, (bool, int, str)):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def _empty_column(length):
    return _Column("cat", np.full(length, -1, dtype=np.int32), np.array([], dtype=object))


def _is_empty(column):
    return column.kind == "cat" and len(column.cats) == 0


def _ingest_value(value):
    """A field value as stored: JSON scalars as they are, objects and lists as JSON text."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _tag_text(value):
    if isinstance(value, str):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _categorical(codes, uniques):
    """A cat column from factorize-style codes (-1 missing) and their values, made str and sorted."""
    labels = [_tag_text(u) for u in uniques]
    codes = np.asarray(codes)
    if all(labels[i] < labels[i + 1] for i in range(len(labels) - 1)):
        return _Column("cat", codes.astype(np.int32, copy=False), np.array(labels, dtype=object))
    ordered = sorted(set(labels))
    position = {label: i for i, label in enumerate(ordered)}
    mapping = np.array([position[label] for label in labels] + [-1], dtype=np.int32)
    return _Column("cat", mapping[codes], np.array(ordered, dtype=object))


def _infer(values):
    """A column from a list of ingested Python values (None = missing)."""
    present = [v for v in values if v is not None]
    if not present:
        return _empty_column(len(values))
    if all(isinstance(v, str) for v in present):
        codes, uniques = pd.factorize(np.array(values, dtype=object), sort=True, use_na_sentinel=True)
        return _categorical(codes, list(uniques))
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        int_like = all(isinstance(v, int) for v in present)
        if int_like and len(present) == len(values):
            try:
                return _Column("num", np.array(values, dtype=np.int64), None, True)
            except OverflowError:
                return _Column("obj", np.array(values, dtype=object))
        try:
            data = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
        except OverflowError:
            return _Column("obj", np.array(values, dtype=object))
        return _Column("num", data, None, int_like)
    data = np.empty(len(values), dtype=object)
    data[:] = values
    return _Column("obj", data)


def _series_column(series, is_tag):
    """A column from one pandas Series of a frame."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _categorical(series.cat.codes.to_numpy(), list(series.cat.categories))
    if is_tag:
        codes, uniques = pd.factorize(series, sort=True, use_na_sentinel=True)
        return _categorical(codes, list(uniques))
    if pd.api.types.is_bool_dtype(dtype):
        data = series.to_numpy(dtype=object, na_value=None)
        return _Column("obj", data)
    if pd.api.types.is_integer_dtype(dtype):
        if series.hasnans:
            return _Column("num", series.to_numpy(dtype=np.float64, na_value=np.nan), None, True)
        return _Column("num", series.to_numpy(dtype=np.int64), None, True)
    if pd.api.types.is_float_dtype(dtype):
        return _Column("num", series.to_numpy(dtype=np.float64, na_value=np.nan), None, False)
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind == "string":
        codes, uniques = pd.factorize(series, sort=True, use_na_sentinel=True)
        return _categorical(codes, list(uniques))
    values = series.to_numpy(dtype=object)
    return _infer([_ingest_value(v) if not _is_na(v) else None for v in values.tolist()])


def _is_na(value):
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _merge(parts, lengths):
    """One column from per-chunk columns (None where a chunk lacks it)."""
    if len(parts) == 1:
        return parts[0] if parts[0] is not None else _empty_column(lengths[0])
    present = [p for p in parts if p is not None and not _is_empty(p)]
    kinds = set(p.kind for p in present)
    if not kinds:
        return _empty_column(sum(lengths))
    if kinds == {"num"}:
        whole = all(p is not None and p.data.dtype.kind in "iu" for p in parts)
        arrays = []
        for part, length in zip(parts, lengths):
            if part is None or _is_empty(part):
                arrays.append(np.full(length, np.nan))
            else:
                arrays.append(part.data if whole else part.data.astype(np.float64, copy=False))
        return _Column("num", np.concatenate(arrays), None, all(p.int_like for p in present))
    if kinds == {"cat"}:
        labels = sorted(set().union(*[set(p.cats.tolist()) for p in present]))
        merged = np.array(labels, dtype=object)
        arrays = []
        for part, length in zip(parts, lengths):
            if part is None or _is_empty(part):
                arrays.append(np.full(length, -1, dtype=np.int32))
                continue
            mapping = np.append(np.searchsorted(merged, part.cats).astype(np.int32), np.int32(-1))
            arrays.append(mapping[part.data])
        return _Column("cat", np.concatenate(arrays), merged)
    arrays = []
    for part, length in zip(parts, lengths):
        values = np.empty(length, dtype=object)
        if part is not None:
            values[:] = part.python()
        arrays.append(values)
    return _Column("obj", np.concatenate(arrays))


class _Chunk:
    """Points added in one call for one measurement: times plus lazily converted columns."""

    def __init__(self, times, names, tags, columns=None, frame=None):
        self.times = times
        self.names = names
        self.tags = tags
        self._columns = columns if columns is not None else {}
        self._frame = frame

    def column(self, name):
        if name not in self.names:
            return None
        column = self._columns.get(name)
        if column is None:
            column = _series_column(self._frame[name], name in self.tags)
            self._columns[name] = column
        return column


class _Table:
    """Every point of one (namespace, measurement), sorted by time; columns made on first use."""
    derived = False

    def __init__(self, namespace, measurement, chunks):
        self.namespace = namespace
        self.measurement = measurement
        self.chunks = chunks
        self.lengths = [len(c.times) for c in chunks]
        times = chunks[0].times if len(chunks) == 1 else np.concatenate([c.times for c in chunks])
        times = np.asarray(times, dtype=np.int64)
        self.order = None
        if len(times) > 1 and bool((times[1:] < times[:-1]).any()):
            self.order = np.argsort(times, kind="stable")
            times = times[self.order]
        self.time = times
        self.n = len(times)
        self.names = set().union(*[c.names for c in chunks])
        self.tags = set().union(*[c.tags for c in chunks])
        self._columns = {}

    def column(self, name):
        """The column ``name`` (virtual ``time`` and source columns included), or None."""
        column = self._columns.get(name)
        if column is not None:
            return column
        if name == "time":
            column = _Column("num", self.time, None, True)
        elif name in self.names:
            column = _merge([c.column(name) for c in self.chunks], self.lengths)
            if self.order is not None:
                column = column.take(self.order)
        elif name == SOURCE_COLUMNS.get(self.namespace):
            column = _Column("cat", np.zeros(self.n, dtype=np.int32), np.array([self.measurement], dtype=object))
        else:
            return None
        self._columns[name] = column
        return column


def _frame_chunk(frame, tag_columns):
    if not isinstance(frame, pd.DataFrame):
        raise TypeError("add_frame: expected a pandas DataFrame")
    if "time_ms" not in frame.columns:
        raise ValueError("add_frame: the frame needs a time_ms column")
    times = frame["time_ms"]
    if times.isna().any():
        raise ValueError("add_frame: time_ms has missing values")
    times = times.to_numpy()
    if times.dtype.kind == "f":
        if not np.all(np.floor(times) == times):
            raise ValueError("add_frame: time_ms must hold whole milliseconds")
    elif times.dtype.kind not in "iu":
        raise ValueError("add_frame: time_ms must be integers (epoch milliseconds)")
    times = times.astype(np.int64)
    names = set(str(c) for c in frame.columns if c != "time_ms")
    tags = set(tag_columns)
    missing = tags - names
    if missing:
        raise ValueError("add_frame: tag columns not in the frame: %s" % ", ".join(sorted(missing)))
    if any(not isinstance(c, str) for c in frame.columns):
        frame = frame.rename(columns=str)
    return _Chunk(times, names, tags, frame=frame)


def _points_chunk(points):
    times = np.empty(len(points), dtype=np.int64)
    rows = []
    tags = set()
    for index, point in enumerate(points):
        stamp = point.get("time_ms")
        if isinstance(stamp, bool) or not isinstance(stamp, (int, float, np.integer, np.floating)) \
                or stamp != stamp or int(stamp) != stamp:
            raise ValueError("point %d: time_ms must be epoch milliseconds" % index)
        times[index] = int(stamp)
        row = {}
        for key, value in (point.get("fields") or {}).items():
            row[key] = _ingest_value(value)
        for key, value in (point.get("tags") or {}).items():
            if value is None:
                continue
            row[key] = _tag_text(value)
            tags.add(key)
        rows.append(row)
    names = set()
    for row in rows:
        names.update(row)
    columns = {name: _infer([row.get(name) for row in rows]) for name in names}
    return _Chunk(times, names, tags, columns=columns)


def _namespace_code(namespace):
    code = NAMESPACE_CODES.get(str(namespace).upper())
    if code is None:
        raise ValueError("namespace %r: expected one of M, O, CO, L, E" % (namespace,))
    return code


class PointStore:
    """Scenario points by namespace and measurement, queried with ``execute``."""

    def __init__(self, cache_size=CACHE_SIZE):
        self._lock = threading.RLock()
        self._chunks = {}          # (namespace, measurement) -> [_Chunk]
        self._tables = {}          # (namespace, measurement) -> _Table
        self._cache = OrderedDict()
        self._cache_size = cache_size
        self.version = 0

    def add_points(self, namespace, points):
        """Add point dicts ``{"measurement", "tags", "fields", "time_ms"}`` to a namespace."""
        code = _namespace_code(namespace)
        by_measurement = OrderedDict()
        for index, point in enumerate(points):
            if not isinstance(point, dict):
                raise ValueError("point %d: expected a dict" % index)
            measurement = point.get("measurement")
            if not isinstance(measurement, str) or not measurement:
                raise ValueError("point %d: measurement must be a non-empty string" % index)
            by_measurement.setdefault(measurement, []).append(point)
        chunks = [(m, _points_chunk(p)) for m, p in by_measurement.items()]
        with self._lock:
            for measurement, chunk in chunks:
                self._add(code, measurement, chunk)

    def add_frame(self, namespace, measurement, frame, tag_columns):
        """Add bulk points: ``frame`` has ``time_ms`` (int64), the ``tag_columns`` and field columns."""
        code = _namespace_code(namespace)
        if not isinstance(measurement, str) or not measurement:
            raise ValueError("measurement must be a non-empty string")
        chunk = _frame_chunk(frame, list(tag_columns))
        with self._lock:
            self._add(code, measurement, chunk)

    def _add(self, code, measurement, chunk):
        if not len(chunk.times):
            return
        self._chunks.setdefault((code, measurement), []).append(chunk)
        self._tables.pop((code, measurement), None)
        self._cache.clear()
        self.version += 1

    def measurements(self, namespace):
        code = _namespace_code(namespace)
        with self._lock:
            return sorted(m for (ns, m) in self._chunks if ns == code)

    def _table(self, namespace, measurement):
        key = (namespace, measurement)
        table = self._tables.get(key)
        if table is None and key in self._chunks:
            table = _Table(namespace, measurement, self._chunks[key])
            self._tables[key] = table
        return table

    def _result(self, plan):
        key = plan.cache_key(self.version)
        with self._lock:
            result = self._cache.get(key)
            if result is not None:
                self._cache.move_to_end(key)
                return result
            if plan.inner is not None:
                table = _derived_table(self._result(plan.inner), plan.inner)
            else:
                table = self._table(plan.namespace, plan.measurement)
            result = _compute(table, plan)
            self._cache[key] = result
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return result


# ---------------------------------------------------------------------------------------------
# Planning: the query plus the request fields
# ---------------------------------------------------------------------------------------------

class Options:
    """How the server behaves for one request: the scenario's ``sandbox.dql`` settings and fault effects.

    ``offset_window``: raw rows of ``L O CO E`` cannot be paged by offset past it (``offset + limit``).
    ``max_slimit`` / ``max_limit``: the server caps pages at these sizes. ``shuffle_seed``: when set,
    the series of a query without ``sorder_by`` come in an order drawn from it. ``sample_rate`` (< 1):
    queries read a deterministic sample of the points unless ``disable_sampling``. ``auto_interval_ms``:
    plain aggregate queries without an interval are bucketed by it. ``segment_ms``: an answer covers
    only that much of the range, newest first. ``endless``: pages never run out.
    """

    def __init__(self, offset_window=DEFAULT_OFFSET_WINDOW, max_slimit=None, max_limit=None, shuffle_seed=None,
                 sample_rate=1.0, auto_interval_ms=None, segment_ms=None, endless=False):
        self.offset_window = offset_window
        self.max_slimit = max_slimit
        self.max_limit = max_limit
        self.shuffle_seed = shuffle_seed
        self.sample_rate = sample_rate
        self.auto_interval_ms = auto_interval_ms
        self.segment_ms = segment_ms
        self.endless = endless


class _Plan:
    """A parsed query with the request fields applied; ``inner`` plans the subquery of a nested query.

    The request's paging, ordering and interval fields apply to the outermost level only; its time
    range (with ``cursor_time``, segments and sampling) to the innermost, the one reading points.
    """

    def __init__(self, parsed, request, now_ms, options=None, depth=0):
        options = options or Options()
        self.parsed = parsed
        self.depth = depth
        self.namespace = parsed.namespace
        self.measurement = parsed.measurement
        self.targets = parsed.targets or [Target("star")]
        self.aggregated = parsed.aggregated
        self.by = list(parsed.by)
        self.filter = parsed.filter
        for target in self.targets:
            if target.func in METRIC_ONLY and self.namespace != "M":
                raise DQLError("DQL.Unsupported", "%s() is documented for metrics (M::) only" % target.func)
        self.inner = None
        self.sample = 1
        if parsed.inner is not None:
            inner_request = {k: request.get(k) for k in ("timeRange", "cursor_time", "disable_sampling")}
            self.inner = _Plan(parsed.inner, inner_request, now_ms, options, depth + 1)
            self.start, self.end = self.inner.start, self.inner.end
            self.next_cursor, self.sample = self.inner.next_cursor, self.inner.sample
        else:
            self.start, self.end, self.next_cursor = self._range(parsed, request, now_ms, options)
            sampling = request.get("disable_sampling")
            sampling = False if sampling is None else sampling
            if not isinstance(sampling, bool):
                raise DQLError("DQL.InvalidParam", "disable_sampling: expected true or false")
            if not sampling and options.sample_rate < 1:
                self.sample = options.sample_rate
        self.interval = self._interval(parsed, request)
        self.order = self._order(parsed, request)
        self.auto_interval = False
        if (self.interval is None and self.aggregated and options.auto_interval_ms and depth == 0
                and parsed.inner is None and (self.order is None or self.order[0] == "time")):
            self.interval, self.auto_interval = int(options.auto_interval_ms), True
        self.sorder = self._sorder(request)
        self.limit = _pick(_int_param(request, "limit"), parsed.limit)
        self.offset = _pick(_int_param(request, "offset"), parsed.offset) or 0
        self.slimit = _pick(_int_param(request, "slimit"), parsed.slimit)
        self.soffset = _pick(_int_param(request, "soffset"), parsed.soffset) or 0
        if self.limit is None and not self.aggregated and depth == 0:
            self.limit = DEFAULT_ROW_LIMIT
        multiple = request.get("disableMultipleField", True)
        if not isinstance(multiple, bool):
            raise DQLError("DQL.InvalidParam", "disableMultipleField: expected true or false")
        self.single_field = multiple and depth == 0
        if self.interval is not None and not self.auto_interval:
            for key in ("maxPointCount", "density"):
                if request.get(key) not in (None, "", 0):
                    raise DQLError("DQL.Unsupported", "%s with a time interval is not supported" % key)
        self.search_after = self._search_after(request)

    @property
    def deep(self):
        """Whether raw rows are paged with ``search_after`` (and answered with it)."""
        return (not self.aggregated and self.namespace in DEEP_NAMESPACES and not self.by and self.inner is None
                and (self.order is None or self.order[0] == "time"))

    @property
    def descending(self):
        return self.order is None or self.order[1]

    def _range(self, parsed, request, now_ms, options):
        now_ms = int(now_ms)
        spec = parsed.time or {}
        if spec.get("start") is not None:
            start = _resolve(spec["start"], now_ms)
            end = _resolve(spec["end"], now_ms) if spec.get("end") is not None else now_ms
        elif request.get("timeRange") is not None:
            span = request["timeRange"]
            if not isinstance(span, (list, tuple)) or len(span) != 2 or not all(_is_int(v) for v in span):
                raise DQLError("DQL.InvalidParam", "timeRange: expected [start_ms, end_ms] (integers)")
            start, end = int(span[0]), int(span[1])
        else:
            start, end = now_ms - DEFAULT_WINDOW_MS[parsed.namespace], now_ms
        if start > end:
            raise DQLError("DQL.InvalidParam", "the time range starts (%d) after it ends (%d)" % (start, end))
        cursor = _int_param(request, "cursor_time")
        if cursor:
            if cursor < start:
                raise DQLError("DQL.InvalidParam", "cursor_time %d is before the range start %d" % (cursor, start))
            end = min(end, cursor)
        next_cursor = -1
        if options.segment_ms and end - options.segment_ms + 1 > start:
            start = end - int(options.segment_ms) + 1
            next_cursor = start - 1
        return start, end, next_cursor

    def _interval(self, parsed, request):
        if parsed.inner is not None:
            return None
        value = request.get("interval")
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise DQLError("DQL.InvalidParam", "interval: expected a positive number of seconds")
            if self.aggregated:
                return int(round(value * 1000))
        if parsed.time and parsed.time.get("interval"):
            return parsed.time["interval"]
        return None

    def _order(self, parsed, request):
        order = parsed.order
        for key in ("orderby", "order_by"):
            entries = _order_entries(request, key)
            if len(entries) > 1:
                raise DQLError("DQL.Unsupported", "%s with more than one column is not supported" % key)
            if entries:
                order = entries[0]
        if order is None or order[0] == "time":
            return order
        if self.namespace == "M":
            raise DQLError("DQL.Unsupported", "ORDER BY %s: metric (M::) queries sort by time only" % order[0])
        if self.aggregated:
            if self.interval is not None:
                raise DQLError("DQL.Unsupported", "ORDER BY %s with a time interval is not supported" % order[0])
            if order[0] not in [t.name for t in self.targets]:
                raise DQLError("DQL.InvalidParam", "ORDER BY %s: not an output column of this query" % order[0])
        return order

    @staticmethod
    def _sorder(request):
        sorder = []
        for key in ("sorderby", "sorder_by"):
            entries = _order_entries(request, key)
            if entries:
                sorder = entries
        return sorder

    def _search_after(self, request):
        value = request.get("search_after")
        if value is None or value == []:
            return None
        if not self.deep:
            raise DQLError("DQL.Unsupported", "search_after pages raw rows of L::, O::, CO:: and E:: queries without "
                                              "BY, nesting or ORDER BY other than time")
        if not isinstance(value, list) or len(value) != 2 or not all(_is_int(v) for v in value):
            raise DQLError("DQL.InvalidParam", "search_after: expected the search_after value of the previous answer "
                                               "(got %r)" % (value,))
        if self.offset:
            raise DQLError("DQL.InvalidParam", "search_after and offset cannot be combined: page with search_after "
                                               "alone")
        return int(value[1])

    def check_window(self, limit, options):
        """Offset paging of raw rows ends at the result window, as in Elasticsearch."""
        if self.aggregated or self.namespace not in DEEP_NAMESPACES or not options.offset_window:
            return
        reach = self.offset + (limit or 0)
        if reach > options.offset_window:
            raise DQLError("DQL.ResultWindowTooLarge",
                           "offset + limit = %d is past the result window of %d rows: page deeper with search_after"
                           % (reach, options.offset_window))

    def cache_key(self, version):
        return (version, self.parsed.own_text, self.start, self.end, self.interval, self.order, self.sample)


def _order_entries(request, key):
    """``[(column, descending)]`` from a request's ``orderby``-style (``{col: dir}``) or ``order_by``-style
    (``{"column", "order"}``) list; [] when absent."""
    entries = request.get(key)
    if not entries:
        return []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise DQLError("DQL.InvalidParam", "%s: expected a list of objects" % key)
    out = []
    for entry in entries:
        if key.endswith("_by"):
            column, method = entry.get("column"), entry.get("order", "asc")
        elif len(entry) == 1:
            column, method = list(entry.items())[0]
        else:
            raise DQLError("DQL.InvalidParam", "%s: expected [{\"column\": \"asc\"|\"desc\"}]" % key)
        if not isinstance(column, str) or str(method).lower() not in ("asc", "desc"):
            raise DQLError("DQL.InvalidParam", "%s: expected a column and asc or desc" % key)
        out.append((column.strip("`"), str(method).lower() == "desc"))
    return out


def _cap(requested, cap):
    """The page size a capped server uses: the smaller of what was asked and its cap (None = no bound)."""
    if cap is None:
        return requested
    return cap if requested is None else min(requested, cap)


def _pick(param, text_value):
    if param:
        return param
    return text_value or None


def _is_int(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value.is_integer()


def _int_param(request, key):
    value = request.get(key)
    if value is None:
        return None
    if not _is_int(value) or value < 0:
        raise DQLError("DQL.InvalidParam", "%s: expected a non-negative integer, got %r" % (key, value))
    return int(value)


def _resolve(value, now_ms):
    kind, number = value
    return int(round(now_ms - number)) if kind == "rel" else int(number)


def _check_request(query):
    for key, value in query.items():
        if key in PARAMS_USED or key in PARAMS_IGNORED:
            continue
        if key in PARAMS_REFUSED:
            if value in (None, "", [], {}, False, 0):
                continue
            raise DQLError("DQL.Unsupported", "request field %s is not supported by the sandbox" % key)
        raise DQLError("DQL.InvalidParam", "unknown request field %s" % key)


# ---------------------------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------------------------

class _Output:
    """One output column: a plain column (``func`` None) or an aggregate."""

    def __init__(self, name, field, func=None):
        self.name = name
        self.field = field
        self.func = func


def _outputs(plan, table):
    outputs = []
    for target in plan.targets:
        if target.kind == "star":
            names = sorted(table.names) if table is not None else []
            outputs.extend(_Output(n, n) for n in names if n not in plan.by and n != "time")
        elif target.kind == "agg":
            outputs.append(_Output(target.name, target.field, target.func))
        else:
            outputs.append(_Output(target.name, target.field))
    seen = set()
    for output in outputs:
        if output.name in seen:
            raise DQLError("DQL.InvalidParam", "two columns are named %s: give one an alias with AS" % output.name)
        seen.add(output.name)
    return outputs


class _Result:
    """A computed query: series (tags, row bounds) over a row space, read page by page.

    ``order`` maps answer positions to row indexes that ``gather`` turns into columns
    (``(time column, [output columns])``); series ``s`` holds answer positions
    ``starts[s]:ends[s]``. ``keys`` (raw rows) are the rows' table positions in answer order,
    the tie-breaker that ``search_after`` carries.
    """

    def __init__(self, measurement, outputs, by, labels=None, starts=None, ends=None, order=None, gather=None,
                 hits=0, keys=None):
        self.measurement = measurement
        self.outputs = outputs
        self.names = [o.name for o in outputs]
        self.by = by
        self.labels = labels or []
        self.starts = starts if starts is not None else np.zeros(0, dtype=np.int64)
        self.ends = ends if ends is not None else np.zeros(0, dtype=np.int64)
        self.order = order
        self.gather = gather
        self.hits = hits
        self.keys = keys

    def reordered(self, permutation):
        """The same result with its series in ``permutation`` order."""
        return _Result(self.measurement, self.outputs, self.by, [l[permutation] for l in self.labels],
                       self.starts[permutation], self.ends[permutation], self.order, self.gather, self.hits, self.keys)

    def select(self, slimit, soffset, limit, offset, endless=False):
        """(series, answer positions, rows per series) of a page; series left without rows are dropped.

        ``endless``: series and rows wrap around, so that every page is full.
        """
        count = len(self.starts)
        if endless and slimit and count:
            series = (soffset + np.arange(slimit)) % count
        else:
            series = np.arange(min(soffset, count), count if slimit is None else min(count, soffset + slimit))
        begins = self.starts[series]
        lengths = self.ends[series] - begins
        if endless and limit:
            sizes = np.where(lengths > 0, limit, 0)
            steps = _ranges(np.zeros(len(series), dtype=np.int64), sizes) + offset
            index = np.repeat(begins, sizes) + steps % np.repeat(np.maximum(lengths, 1), sizes)
        else:
            begins = begins + offset
            sizes = np.maximum(lengths - offset, 0)
            if limit is not None:
                sizes = np.minimum(sizes, limit)
            index = _ranges(begins, sizes)
        kept = sizes > 0
        return series[kept], index, sizes[kept]

    def page(self, slimit, soffset, limit, offset, endless=False):
        series, index, sizes = self.select(slimit, soffset, limit, offset, endless)
        return self._series(series, index, sizes)

    def page_after(self, after, limit, descending, endless=False):
        """The rows after the table position ``after`` (None: from the first), and their ``search_after``."""
        keys = self.keys if self.keys is not None else np.zeros(0, dtype=np.int64)
        if after is None:
            begin = 0
        elif descending:
            begin = int(np.searchsorted(-keys, -after, side="right"))
        else:
            begin = int(np.searchsorted(keys, after, side="right"))
        index = np.arange(begin, len(keys) if limit is None else min(len(keys), begin + limit))
        if endless and limit and len(keys) and len(index) < limit:
            index = np.r_[index, np.arange(limit - len(index)) % len(keys)]
        if not len(index):
            return [], None
        series = self._series(np.zeros(1, dtype=np.int64), index, np.array([len(index)]))
        return series, [series[0]["values"][-1][0], int(keys[index[-1]])]

    def _series(self, series, index, sizes):
        if not len(series):
            return []
        time_column, columns = self.gather(self.order[index])
        rows = _python_rows(time_column, columns)
        names = ["time"] + self.names
        out = []
        at = 0
        for s, size in zip(series.tolist(), sizes.tolist()):
            one = {"name": self.measurement, "columns": list(names), "values": rows[at:at + size],
                   "units": [None] * len(names)}
            at += size
            if self.by:
                one["tags"] = {key: labels[s] for key, labels in zip(self.by, self.labels)}
            out.append(one)
        return out


def _ranges(begins, sizes):
    """The concatenation of ``arange(b, b + n)`` for each begin and size, vectorised."""
    total = int(sizes.sum()) if len(sizes) else 0
    if not total:
        return np.zeros(0, dtype=np.int64)
    firsts = np.cumsum(sizes) - sizes
    return np.repeat(np.asarray(begins, dtype=np.int64) - firsts, sizes) + np.arange(total, dtype=np.int64)


def _python_rows(time_column, columns):
    return [list(row) for row in zip(time_column.python(), *[c.python() for c in columns])]


class _Derived:
    """A subquery's answer rows as the outer query's table: ``time``, its columns and its BY tags as columns.

    Rows run by ascending time, ties in the subquery's answer order, rows without a time last.
    """
    derived = True

    def __init__(self, namespace, measurement, time, columns, tags):
        order = np.argsort(time, kind="stable")
        self.namespace = namespace
        self.measurement = measurement
        self.time = time[order]
        self.n = len(order)
        self.names = set(columns)
        self.tags = set(tags)
        self._columns = {name: column.take(order) for name, column in columns.items()}
        self._columns["time"] = _Column("num", self.time, None, True)

    def column(self, name):
        return self._columns.get(name)


def _derived_table(result, plan):
    """The outer table of a nested query from its subquery's ``result`` (``plan``: the subquery's)."""
    clash = set(result.names) & set(result.by)
    if clash:
        raise DQLError("DQL.InvalidParam", "the subquery has both a column and a BY tag named %s: rename the "
                                           "column with AS" % sorted(clash)[0])
    series, index, sizes = result.select(plan.slimit, plan.soffset, plan.limit, plan.offset)
    if not len(index):
        return _Derived(plan.namespace, plan.measurement, np.zeros(0),
                        {name: _empty_column(0) for name in result.names + result.by}, result.by)
    time_column, columns = result.gather(result.order[index])
    table = OrderedDict(zip(result.names, columns))
    for key, labels in zip(result.by, result.labels):
        uniques, codes = np.unique(labels[series].astype(str), return_inverse=True)
        table[key] = _Column("cat", np.repeat(codes.reshape(-1).astype(np.int32), sizes), uniques.astype(object))
    time = time_column.data.astype(np.float64)
    return _Derived(plan.namespace, plan.measurement, time, table, result.by)


def _compute(table, plan):
    outputs = _outputs(plan, table)
    empty = _Result(plan.measurement, outputs, plan.by)
    if table is None or table.n == 0:
        return empty
    for output in outputs:
        if output.func in ("max", "min", "avg", "sum", "spread"):
            column = table.column(output.field)
            if column is not None and column.kind == "cat" and len(column.cats):
                raise DQLError("DQL.InvalidParam", "%s: %s() needs a numeric field, %s holds strings"
                               % (output.name, output.func, output.field))
    selection = _candidates(table, plan)
    mask = _evaluate(plan.filter, table, selection, plan.namespace) if plan.filter is not None else None
    base = np.arange(selection.start, selection.stop) if isinstance(selection, slice) else selection
    rows = base if mask is None else base[mask]
    if plan.sample < 1 and not table.derived:
        rows = rows[_sampled(rows, plan.sample)]
    if not plan.aggregated and plan.namespace == "M" and len(rows):
        keep = np.zeros(len(rows), dtype=bool)
        for output in outputs:
            column = table.column(output.field)
            if column is not None:
                keep |= column.notnull(rows)
        rows = rows[keep]
    if not len(rows):
        return empty
    gid, groups, labels = _group(table, rows, plan.by)
    if plan.aggregated:
        return _aggregate(table, plan, outputs, rows, gid, groups, labels)
    return _raw(table, plan, outputs, rows, gid, groups, labels)


def _sampled(rows, rate):
    """Which rows a server sampling at ``rate`` reads: a fixed hash of each row's table position."""
    mixed = (rows.astype(np.uint64) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
    return (mixed >> np.uint64(11)).astype(np.float64) < rate * float(1 << 53)


def _candidates(table, plan):
    if table.derived:
        return slice(0, table.n)
    lo = int(np.searchsorted(table.time, plan.start, side="left"))
    hi = int(np.searchsorted(table.time, plan.end, side="right"))
    if plan.namespace not in ("O", "CO"):
        return slice(lo, hi)
    if hi <= lo:
        return np.zeros(0, dtype=np.int64)
    column = table.column("name")
    if column is None:
        codes = np.zeros(hi - lo, dtype=np.int64)
    elif column.kind == "cat":
        codes = column.data[lo:hi]
    else:
        codes, _ = pd.factorize(column.data[lo:hi], use_na_sentinel=True)
    _, first_in_reversed = np.unique(codes[::-1], return_index=True)
    latest = (hi - lo - 1) - first_in_reversed
    return lo + np.sort(latest).astype(np.int64)


# -- filters ----------------------------------------------------------------------------------

def _evaluate(node, table, selection, namespace):
    kind = node[0]
    if kind in ("and", "or"):
        result = None
        for child in node[1]:
            mask = _evaluate(child, table, selection, namespace)
            result = mask if result is None else (result & mask if kind == "and" else result | mask)
        return result
    _, key, op, value = node
    size = (selection.stop - selection.start) if isinstance(selection, slice) else len(selection)
    if op in ("exists", "notexists") and namespace == "M":
        raise DQLError("DQL.Unsupported", "%s exists() on M:: is not supported (the docs list exists() for "
                                          "every namespace but metrics)" % key)
    column = table.column(key)
    if column is None:
        return np.full(size, _MISSING_RESULT[op], dtype=bool)
    if op in ("re", "notre"):
        matcher = value.compiled.search if namespace == "M" else value.compiled.fullmatch
        value = matcher
    data = column.data[selection]
    if column.kind == "cat":
        return _compare_codes(column.cats, data, op, value)
    if column.kind == "num":
        return _compare_numbers(data, op, value)
    return np.fromiter((_compare(v, op, value) for v in data.tolist()), dtype=bool, count=len(data))


def _compare_codes(cats, codes, op, value):
    if op in ("=", "!=") and isinstance(value, str):
        code = _find(cats, value)
        hit = codes == code if code is not None else np.zeros(len(codes), dtype=bool)
        return hit if op == "=" else ~hit
    if op in ("in", "notin") and all(isinstance(v, str) for v in value):
        wanted = [c for c in (_find(cats, v) for v in value) if c is not None]
        hit = np.isin(codes, np.array(wanted, dtype=np.int64))
        return hit if op == "in" else ~hit
    per_category = np.fromiter((_compare(c, op, value) for c in cats.tolist()), dtype=bool, count=len(cats))
    extended = np.append(per_category, _MISSING_RESULT[op])
    return extended[codes]


def _find(cats, value):
    index = int(np.searchsorted(cats, value))
    if index < len(cats) and cats[index] == value:
        return index
    return None


def _compare_numbers(data, op, value):
    floats = data.dtype.kind == "f"
    if op in ("exists", "notexists"):
        present = ~np.isnan(data) if floats else np.ones(len(data), dtype=bool)
        return present if op == "exists" else ~present
    if op in ("in", "notin"):
        numbers = [n for n in (_number_of(v) for v in value) if n is not None]
        hit = np.isin(data, np.array(numbers, dtype=np.float64))
        return hit if op == "in" else ~hit
    if op in ("re", "notre"):
        uniques, inverse = np.unique(data, return_inverse=True)
        per_value = np.fromiter((_compare(None if (floats and u != u) else (int(u) if not floats else float(u)),
                                          op, value) for u in uniques.tolist()), dtype=bool, count=len(uniques))
        return per_value[inverse.reshape(-1)]
    number = _number_of(value)
    if number is None:
        return np.full(len(data), op == "!=", dtype=bool)
    if op == "=":
        return data == number
    if op == "!=":
        return ~(data == number)
    if op == ">":
        return data > number
    if op == ">=":
        return data >= number
    if op == "<":
        return data < number
    return data <= number


def _number_of(value):
    """A literal or stored value as a number for numeric comparison; None if it is not one."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _text_of(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _equal(stored, literal):
    if isinstance(literal, bool) or isinstance(stored, bool):
        if isinstance(literal, bool) and isinstance(stored, bool):
            return stored == literal
        other, flag = (stored, literal) if isinstance(literal, bool) else (literal, stored)
        return isinstance(other, str) and other.lower() == ("true" if flag else "false")
    if isinstance(stored, str) and isinstance(literal, str):
        return stored == literal
    left, right = _number_of(stored), _number_of(literal)
    return left is not None and right is not None and left == right


def _ordering(stored, literal):
    """-1/0/1 comparing a stored value with a literal, or None when they do not compare."""
    if isinstance(stored, bool) or isinstance(literal, bool):
        return None
    if isinstance(stored, str) and isinstance(literal, str):
        return (stored > literal) - (stored < literal)
    left, right = _number_of(stored), _number_of(literal)
    if left is None or right is None:
        return None
    return (left > right) - (left < right)


def _compare(stored, op, literal):
    """One stored value against a filter; ``literal`` is a regex matcher for re/notre."""
    if stored is None or (isinstance(stored, float) and stored != stored):
        return _MISSING_RESULT[op]
    if op == "exists":
        return True
    if op == "notexists":
        return False
    if op in ("re", "notre"):
        found = literal(_text_of(stored)) is not None
        return found if op == "re" else not found
    if op in ("in", "notin"):
        found = any(_equal(stored, v) for v in literal)
        return found if op == "in" else not found
    if op == "=":
        return _equal(stored, literal)
    if op == "!=":
        return not _equal(stored, literal)
    order = _ordering(stored, literal)
    if order is None:
        return False
    return {">": order > 0, ">=": order >= 0, "<": order < 0, "<=": order <= 0}[op]


# -- grouping ---------------------------------------------------------------------------------

def _labels(column, rows):
    """BY codes for ``rows`` (0 = missing or empty) ordered like their labels, and the labels."""
    if column is None:
        return np.zeros(len(rows), dtype=np.int64), np.array([""], dtype=object)
    if column.kind == "cat":
        codes = column.data[rows].astype(np.int64) + 1
        labels = np.append(np.array([""], dtype=object), column.cats)
        if len(column.cats) and column.cats[0] == "":
            codes[codes == 1] = 0
        return codes, labels
    values = column.data[rows]
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    texts = [_tag_text(_json_scalar(u)) for u in list(uniques)]
    ordered = sorted(set(texts) | {""})
    position = {text: i for i, text in enumerate(ordered)}
    mapping = np.array([position[t] for t in texts] + [0], dtype=np.int64)
    return mapping[codes], np.array(ordered, dtype=object)


def _dense_rank(key):
    """(rank of each value among the distinct values, number of distinct values): a sorted factorize.

    Hashing then sorting the distinct values is several times faster than ``np.unique`` on millions of rows.
    """
    codes, uniques = pd.factorize(key)
    uniques = np.asarray(uniques)
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[np.argsort(uniques, kind="stable")] = np.arange(len(uniques))
    return rank[codes], len(uniques)


def _stable_order(keys, top):
    """``np.argsort(keys, kind="stable")`` for integer keys in [0, top): 16-bit radix passes when they fit."""
    if top <= 1 << 16:
        return np.argsort(keys.astype(np.uint16), kind="stable")
    if top <= 1 << 32:
        order = np.argsort((keys & 0xFFFF).astype(np.uint16), kind="stable")
        return order[np.argsort((keys[order] >> 16).astype(np.uint16), kind="stable")]
    return np.argsort(keys, kind="stable")


def _combine(key, size, codes, count):
    """Mixed-radix key of two code arrays, compacted first when it would overflow."""
    if size * count >= 2 ** 62:
        key, size = _dense_rank(key)
    return key * count + codes, size * count


def _group(table, rows, by):
    """(group id per row, number of groups, BY labels per group) with groups in label order."""
    if not by:
        return np.zeros(len(rows), dtype=np.int64), 1, []
    parts = [_labels(table.column(key), rows) for key in by]
    key, size = parts[0][0], len(parts[0][1])
    for codes, labels in parts[1:]:
        key, size = _combine(key, size, codes, len(labels))
    gid, count = _dense_rank(key)
    representative = np.empty(count, dtype=np.int64)
    representative[gid] = np.arange(len(gid))
    labels = [labels[codes[representative]] for codes, labels in parts]
    return gid, count, labels


def _segments(keys):
    """Start positions of the runs of equal values in a sorted array."""
    if not len(keys):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])


def _series_bounds(series_of_rows):
    """(starts, ends, series ids) of the runs in a row-ordered array of series ids."""
    starts = _segments(series_of_rows)
    ends = np.r_[starts[1:], len(series_of_rows)].astype(np.int64)
    return starts.astype(np.int64), ends, series_of_rows[starts]


# -- raw rows ---------------------------------------------------------------------------------

def _sort_key(column, positions, descending):
    """A float key sorting the column's values (missing last) in the wanted direction."""
    if column is None:
        return np.zeros(len(positions))
    if column.kind == "num":
        key = column.data[positions].astype(np.float64)
    elif column.kind == "cat":
        codes = column.data[positions]
        key = np.where(codes >= 0, codes, np.nan).astype(np.float64)
    else:
        values = [_json_scalar(v) for v in column.data[positions].tolist()]
        distinct = sorted(set(v for v in values if v is not None),
                          key=lambda v: (0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool)
                          else (1, 0, _text_of(v)))
        rank = {v: i for i, v in enumerate(distinct)}
        key = np.array([np.nan if v is None else rank[v] for v in values], dtype=np.float64)
    return -key if descending else key


def _raw(table, plan, outputs, rows, gid, groups, labels):
    count = len(rows)
    if plan.order is None or plan.order[0] == "time":
        descending = plan.order is None or plan.order[1]
        ordered = np.arange(count)[::-1] if descending else np.arange(count)
        if descending and table.derived:        # newest first, ties (and rows without a time) in table order
            ordered = np.argsort(-table.time[rows], kind="stable")
    else:
        ordered = np.arange(count)[::-1]
        key = _sort_key(table.column(plan.order[0]), rows[ordered], plan.order[1])
        ordered = ordered[np.argsort(key, kind="stable")]
    if groups > 1:
        ordered = ordered[_stable_order(gid[ordered], groups)]
    starts, ends, series = _series_bounds(gid[ordered])
    columns = [table.column(o.field) for o in outputs]
    time_column = table.column("time")

    def gather(index):
        positions = rows[ordered[index]]
        return time_column.take(positions), [column.take(positions) if column is not None
                                             else _empty_column(len(positions)) for column in columns]

    return _Result(plan.measurement, outputs, plan.by, [l[series] for l in labels], starts, ends,
                   np.arange(count), gather, count, keys=rows[ordered])


# -- aggregates -------------------------------------------------------------------------------

def _numeric(column, positions):
    """Float values (NaN = missing or not a number) and whether the inputs were integers."""
    if column is None or _is_empty(column):
        return np.full(len(positions), np.nan), False
    if column.kind == "num":
        return column.data[positions].astype(np.float64), column.int_like
    values = column.data[positions].tolist()
    numbers = [v if isinstance(v, (int, float)) and not isinstance(v, bool) else None for v in values]
    present = [v for v in numbers if v is not None]
    data = np.array([np.nan if v is None else float(v) for v in numbers], dtype=np.float64)
    return data, bool(present) and all(isinstance(v, int) for v in present)


def _first_per_segment(hit_positions, segment_of):
    """For hit positions sorted ascending, the first one in each segment: (segments, positions)."""
    if not len(hit_positions):
        return np.zeros(0, dtype=np.int64), hit_positions
    segs = segment_of[hit_positions]
    first = np.r_[True, segs[1:] != segs[:-1]]
    return segs[first], hit_positions[first]


def _last_per_segment(hit_positions, segment_of):
    if not len(hit_positions):
        return np.zeros(0, dtype=np.int64), hit_positions
    segs = segment_of[hit_positions]
    last = np.r_[segs[1:] != segs[:-1], True]
    return segs[last], hit_positions[last]


def _aggregate(table, plan, outputs, rows, gid, series_count, labels):
    count = len(rows)
    times = table.time[rows]
    if plan.interval is not None:
        interval = plan.interval
        buckets = (times // interval) * interval
        low = int(buckets.min())
        bucket_index = (buckets - low) // interval
        key, _ = _combine(gid, series_count, bucket_index, int(bucket_index.max()) + 1)
        groups, group_count = _dense_rank(key)
        representative = np.empty(group_count, dtype=np.int64)
        representative[groups] = np.arange(count)
        series_of = gid[representative]
        group_time = buckets[representative].astype(np.float64)
    else:
        groups, group_count = gid, series_count
        series_of = np.arange(series_count)
        group_time = None

    order = _stable_order(groups, group_count)
    sorted_groups = groups[order]
    starts = _segments(sorted_groups)
    positions = rows[order]
    sorted_times = table.time[positions]
    sizes = np.diff(np.r_[starts, count])

    columns = []
    inputs = []            # per output: non-null input count per group
    selected = []          # per output: sorted position of the selected point per group (-1 none), or None
    numeric_cache = {}
    for output in outputs:
        func, field = output.func, output.field
        picked = None
        if field == "*":
            values = _Column("num", sizes.astype(np.int64), None, True)
            present = sizes
        else:
            column = table.column(field)
            if func in ("count", "count_distinct", "first", "last"):
                notnull = column.notnull(positions) if column is not None else np.zeros(count, dtype=bool)
                present = np.add.reduceat(notnull.astype(np.int64), starts)
            if func == "count":
                values = _Column("num", present, None, True)
            elif func == "count_distinct":
                values = _Column("num", _count_distinct(column, positions, notnull, sorted_groups, group_count),
                                 None, True)
            elif func in ("first", "last"):
                hits = np.flatnonzero(notnull)
                pick = _first_per_segment if func == "first" else _last_per_segment
                segs, where = pick(hits, sorted_groups)
                picked = np.full(group_count, -1, dtype=np.int64)
                picked[segs] = where
                values = _gather(column, positions, picked)
            else:
                if field not in numeric_cache:
                    numeric_cache[field] = _numeric(column, positions)
                data, int_like = numeric_cache[field]
                notnull = ~np.isnan(data)
                present = np.add.reduceat(notnull.astype(np.int64), starts)
                with np.errstate(invalid="ignore", divide="ignore"):
                    if func == "spread":
                        spread = np.fmax.reduceat(data, starts) - np.fmin.reduceat(data, starts)
                        values = _Column("num", spread, None, int_like)
                    elif func in ("max", "min"):
                        reduce = np.fmax if func == "max" else np.fmin
                        extreme = reduce.reduceat(data, starts)
                        hits = np.flatnonzero(data == extreme[sorted_groups])
                        segs, where = _first_per_segment(hits, sorted_groups)
                        picked = np.full(group_count, -1, dtype=np.int64)
                        picked[segs] = where
                        values = _Column("num", extreme, None, int_like)
                    else:
                        total = np.add.reduceat(np.where(notnull, data, 0.0), starts)
                        total = np.where(present > 0, total, np.nan)
                        if func == "sum":
                            values = _Column("num", total, None, int_like)
                        else:
                            values = _Column("num", total / present, None, False)
        columns.append(values)
        inputs.append(present)
        selected.append(picked)

    if group_time is None:
        group_time = _aggregate_time(plan, outputs, selected, sorted_times, group_count)
    keep = np.ones(group_count, dtype=bool)
    if plan.namespace == "M":
        keep = np.zeros(group_count, dtype=bool)
        for present in inputs:
            keep |= present > 0
    kept = np.flatnonzero(keep)
    if not len(kept):
        return _Result(plan.measurement, outputs, plan.by, hits=count)
    series_rows = series_of[kept]
    starts_s, ends_s, series = _series_bounds(series_rows)
    series_labels = [l[series] for l in labels]
    index = np.arange(len(kept))
    if plan.interval is not None and (plan.order is None or plan.order[1]):
        run = np.repeat(np.arange(len(starts_s)), ends_s - starts_s)
        index = starts_s[run] + (ends_s[run] - 1 - index)
    if plan.order is not None and plan.order[0] != "time":
        position = [o.name for o in outputs].index(plan.order[0])
        # one row per series here: sort the series themselves
        key = _sort_key(columns[position].take(kept), np.arange(len(kept)), plan.order[1])
        permutation = np.argsort(key[starts_s], kind="stable")
        starts_s, ends_s = starts_s[permutation], ends_s[permutation]
        series_labels = [l[permutation] for l in series_labels]
    kept_columns = [c.take(kept) for c in columns]
    kept_time = _Column("num", group_time[kept], None, True)

    def gather(which):
        return kept_time.take(which), [c.take(which) for c in kept_columns]

    return _Result(plan.measurement, outputs, plan.by, series_labels, starts_s, ends_s, index, gather, count)


def _aggregate_time(plan, outputs, selected, sorted_times, group_count):
    lone_selector = len(outputs) == 1 and outputs[0].func in SELECTORS and outputs[0].field != "*"
    if plan.namespace != "M" and not (lone_selector and outputs[0].func in ("first", "last")):
        return np.full(group_count, np.nan)
    if lone_selector:
        picked = selected[0]
        times = np.full(group_count, np.nan)
        found = picked >= 0
        times[found] = sorted_times[picked[found]]
        return times
    return np.full(group_count, float(plan.start))


def _gather(column, positions, picked):
    """The column's values at the picked sorted positions (-1 = none)."""
    found = picked >= 0
    if column is None:
        return _empty_column(len(picked))
    taken = column.take(positions[np.where(found, picked, 0)])
    if taken.kind == "num":
        data = taken.data.astype(np.float64)
        data[~found] = np.nan
        return _Column("num", data, None, column.int_like)
    if taken.kind == "cat":
        data = taken.data.copy()
        data[~found] = -1
        return _Column("cat", data, taken.cats)
    data = taken.data.copy()
    data[~found] = None
    return _Column("obj", data)


def _count_distinct(column, positions, notnull, sorted_groups, group_count):
    if column is None:
        return np.zeros(group_count, dtype=np.int64)
    hits = np.flatnonzero(notnull)
    if not len(hits):
        return np.zeros(group_count, dtype=np.int64)
    values = column.data[positions[hits]]
    if column.kind == "cat":
        codes = values.astype(np.int64)
    else:
        if column.kind == "obj":
            values = np.array([_tag_text(v) if isinstance(v, bool) else v for v in values.tolist()], dtype=object)
        codes, _ = pd.factorize(values, use_na_sentinel=True)
        codes = codes.astype(np.int64)
    width = int(codes.max()) + 1
    pairs = np.unique(sorted_groups[hits] * width + codes)
    return np.bincount(pairs // width, minlength=group_count).astype(np.int64)


def _series_order(result, sorder):
    """The permutation putting the series in ``sorder_by`` order (stable; missing values last)."""
    count = len(result.starts)
    keys = []
    for column, descending in sorder:
        name = column
        if re.match(r"#\d+$", column):
            number = int(column[1:])
            if not 1 <= number <= len(result.names):
                raise DQLError("DQL.InvalidParam", "sorder_by %s: the query has %d output columns"
                               % (column, len(result.names)))
            name = result.names[number - 1]
        if name in result.names:
            if bool(((result.ends - result.starts) > 1).any()):
                raise DQLError("DQL.Unsupported", "sorder_by %s: ordering series by an output column needs one row "
                                                  "per series (aggregates without an interval)" % column)
            _, values = result.gather(result.order[result.starts]) if count else (None, [_empty_column(0)] *
                                                                                    len(result.names))
            keys.append(_sort_key(values[result.names.index(name)], np.arange(count), descending))
        elif name in result.by:
            if not count:
                continue                     # no series: nothing to order (an empty answer has no labels)
            labels = result.labels[result.by.index(name)]
            uniques, codes = np.unique(labels.astype(str), return_inverse=True) if count else ([], np.zeros(0))
            tag = _Column("cat", np.asarray(codes, dtype=np.int32).reshape(-1), np.array(uniques, dtype=object))
            keys.append(_sort_key(tag, np.arange(count), descending))
        else:
            raise DQLError("DQL.InvalidParam", "sorder_by %s: neither an output column nor a BY tag of this query"
                           % column)
    return np.lexsort(keys[::-1]) if count else np.zeros(0, dtype=np.int64)


def _arranged(result, plan, options):
    """The series in ``sorder_by`` order, or shuffled when the server's order is unstable."""
    if plan.sorder:
        return result.reordered(_series_order(result, plan.sorder))
    if options.shuffle_seed is not None and len(result.starts) > 1:
        return result.reordered(np.random.RandomState(options.shuffle_seed).permutation(len(result.starts)))
    return result


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------

def execute(store, query, now_ms, options=None):
    """Answer one ``query`` object of a ``query_data_v1`` body: the ``content.data[]`` element.

    ``options`` (an ``Options``) carries the server's settings for this request.
    """
    options = options or Options()
    started = _time.time()
    text = query.get("q") if isinstance(query, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise DQLError("DQL.InvalidParam", "query: expected an object with q, the DQL text")
    parsed = parse(text)
    try:
        _check_request(query)
        plan = _Plan(parsed, query, now_ms, options)
        explicit = [t for t in plan.targets if t.kind != "star"]
        if plan.single_field and len(explicit) > 1:
            raise DQLError("DQL.InvalidParam", _multiple_message([t.name for t in explicit]))
        result = store._result(plan)
        if plan.single_field and len(result.names) > 1:
            raise DQLError("DQL.InvalidParam", _multiple_message(result.names))
        result = _arranged(result, plan, options)
        limit = _cap(plan.limit, options.max_limit)
        plan.check_window(limit, options)
        after = None
        if plan.deep:
            series, after = result.page_after(plan.search_after, limit if plan.offset == 0 else None,
                                              plan.descending, options.endless)
            if plan.offset:
                series = result.page(None, 0, limit, plan.offset, options.endless)
                after = _last_sort_values(result, series, plan.offset)
        else:
            series = result.page(_cap(plan.slimit, options.max_slimit), plan.soffset, limit, plan.offset,
                                 options.endless)
    except DQLError as exc:
        snippet = text.strip()
        snippet = snippet if len(snippet) <= 160 else snippet[:157] + "..."
        raise DQLError(exc.code, "%s (query: %s)" % (exc, snippet))
    fields = {o.name: o.field for o in result.outputs}
    funcs = {o.name: [o.func] for o in result.outputs if o.func}
    interval = plan.interval or 0
    answer = {
        "async_id": "",
        "is_running": False,
        "complete": False,
        "next_cursor_time": plan.next_cursor,
        "sample": plan.sample,
        "interval": interval,
        "window": interval,
        "max_point": (plan.end - plan.start) // interval + 1 if interval else 0,
        "scan_completed": False,
        "series": series,
        "column_names": list(result.names),
        "cost": "%dms" % int(round((_time.time() - started) * 1000)),
        "query_parse": {"namespace": LONG_NAMES[plan.namespace], "sources": {plan.measurement: "exact"},
                        "fields": fields, "funcs": funcs},
        "total_hits": int(result.hits),
    }
    if after is not None:
        answer["search_after"] = after
    return answer


def _last_sort_values(result, series, offset):
    """``search_after`` of an offset page of raw rows: its last row's time and table position."""
    if not series:
        return None
    size = len(series[0]["values"])
    return [series[0]["values"][-1][0], int(result.keys[(offset + size - 1) % len(result.keys)])]


def _multiple_message(names):
    return ("the query has %d columns (%s) but disableMultipleField is true (its default): send "
            "\"disableMultipleField\": false to get several columns" % (len(names), ", ".join(names)))
