"""DQL over the Guance OpenAPI (``POST /api/v1/df/query_data_v1``): quoting, paging, complete answers.

Build queries with ``quote`` / ``ident`` / ``eq`` / ``in_list`` / ``regex`` / ``conditions``
so that names and values from the data or from configs can never change a query's
meaning: plain values go in single quotes, values with quotes, backslashes or control
characters as base64 literals (``b64`...```, documented; string escapes are not), regexes
in the recommended backtick form (``re`...```, no escaping needed).

``DQLClient.series`` / ``rows`` return a ``Listing``: a list that knows whether it is the
whole answer (``complete``) and, when it is not, why (``gaps``). The call site says how
its query pages:

- ``"series"`` — a ``BY`` query, paged over series with ``slimit``/``soffset``;
- ``"rows"`` — raw rows (``L``/``O``/``CO``/``E``), paged with ``limit`` and the documented
  ``search_after`` cursor (offset paging only when the answer offers no cursor, and never
  past ``OFFSET_WINDOW`` rows, where Elasticsearch-backed stores stop);
- ``"single"`` — one answer expected to be small (an aggregate without ``BY``); a full
  page means there may be more.

What makes a listing incomplete instead of silently shorter: the page cap
(``max_pages``); the time budget running out mid-way; a short page that could be the
server's own page cap (no maximum is documented: a short page is confirmed by one more
request until the client has learnt the server's cap — ``PageBounds``, kept in the
state store when one is given); series repeated across pages (the order changed);
partial answers (``is_running`` with an ``async_id`` still running when the budget ends;
``next_cursor_time`` segments are followed); a sampled answer (``sample`` < 1, although
``disable_sampling`` is always sent); several rows per series of an aggregate query
(the server bucketed it) that the call site gave no way to combine; malformed series.
The documented ``complete`` field is not used: the documented example of a full answer
says ``complete: false``. An answer without its ``data`` list (a 200 cut short) is retried
like any malformed answer, within the request's attempts. A listing made incomplete only by
a passing fault (series repeated across pages, a later page or segment failing transiently)
is asked again once from its first page when the time budget allows; the fuller of the two
answers is kept, still saying what it lacks.
"""
import base64
import json
import re

from guance_monitor import clock
from guance_monitor import openapi

QUERY_PATH = "/api/v1/df/query_data_v1"
ASYNC_PATH = "/api/v1/df/asynchronous/query_data"
OFFSET_WINDOW = 10000          # raw rows reachable by offset paging in Elasticsearch-backed stores
TOTAL_HITS_CAP = 10000         # a total_hits this large may be Elasticsearch's "at least"
MAX_SEGMENTS = 50
RETRY_RESERVE_S = 5.0          # time kept back when deciding to ask a passing-incomplete query again
ASYNC_POLL_S = (1.0, 2.0, 4.0)
_SAFE_TEXT = re.compile(r"^[^'\\`\x00-\x1f\x7f]*$")


class DQLError(Exception):
    """The query was refused or the answer was not a DQL result."""

    def __init__(self, message, cause=None):
        Exception.__init__(self, message)
        self.cause = cause

    @property
    def transient(self):
        return bool(getattr(self.cause, "transient", False))


# -- building queries -------------------------------------------------------------------------

def quote(value):
    """A DQL string literal: ``'text'``, or ``b64`...``` when the text holds quotes, backslashes or controls."""
    text = str(value)
    if _SAFE_TEXT.match(text):
        return "'" + text + "'"
    return "b64`" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "`"


def ident(name):
    """A backticked DQL identifier."""
    return "`" + str(name).replace("`", "") + "`"


def eq(name, value):
    return "%s = %s" % (ident(name), quote(value))


def in_list(name, values):
    return "%s IN [%s]" % (ident(name), ", ".join(quote(v) for v in values))


def regex(name, pattern):
    """``name = re`pattern``` (the recommended form; a pattern cannot hold a backtick)."""
    if "`" in pattern:
        raise ValueError("a DQL regex cannot hold a backtick: %r" % pattern)
    return "%s = re`%s`" % (ident(name), pattern)


def conditions(*parts):
    """``{a, b}`` from the non-empty condition strings, or ``""`` when there are none."""
    kept = [p for p in parts if p]
    return "{" + ", ".join(kept) + "}" if kept else ""


# -- answers ----------------------------------------------------------------------------------

class Listing(list):
    """Series or rows, with ``complete`` (the whole answer?) and ``gaps`` (why not).

    ``passing``: every gap came from a fault of one request that asking again may not meet
    (series repeated across pages, a later page or segment that failed transiently)."""

    def __init__(self, items=(), gaps=None, passing=False):
        list.__init__(self, items)
        self.gaps = list(gaps or [])
        self._lasting = 0 if passing else len(self.gaps)

    @property
    def complete(self):
        return not self.gaps

    @property
    def passing(self):
        return bool(self.gaps) and not self._lasting

    def gap(self, text, passing=False):
        if text not in self.gaps:
            self.gaps.append(text)
        if not passing:
            self._lasting += 1


class PageBounds:
    """What the client knows of the server's page cap: ``cap`` (exact) or ``floor`` (a page this short was complete).

    A short page (fewer than asked) ends paging only when it is shorter than a page
    already known to have been complete, or shorter than the known cap; otherwise one
    more request confirms it, and the answer teaches the bounds.
    """

    def __init__(self, store=None, key="dql-page-bounds"):
        self.store = store
        self.key = key
        saved = store.get(key) if store is not None else None
        saved = saved if isinstance(saved, dict) else {}
        self.cap = saved.get("cap") if isinstance(saved.get("cap"), int) else None
        self.floor = saved.get("floor") if isinstance(saved.get("floor"), int) else 0

    def ends(self, size, asked):
        """True / False when a page of ``size`` (of ``asked``) certainly ends / continues paging; None: unknown."""
        if size == 0:
            return True
        if size >= asked:
            return False
        if self.cap is not None:
            return size < self.cap
        if size < self.floor:
            return True
        return None

    def learn(self, short_size, next_size):
        """After a short page of ``short_size``, the next page had ``next_size`` items."""
        if next_size == 0:
            self.floor = max(self.floor, short_size)
        else:
            self.cap = short_size
        if self.store is not None:
            self.store.set(self.key, {"cap": self.cap, "floor": self.floor})


class DQLClient:
    """Runs DQL through one ``GuanceOpenAPI``; counts its requests; ``store`` keeps what it learns of the server."""

    def __init__(self, api, page_size=1000, max_pages=100, store=None):
        self.api = api
        self.page_size = page_size
        self.max_pages = max_pages
        self.requests = 0
        self.bounds = PageBounds(store)

    # -- public --------------------------------------------------------------------------

    def series(self, q, start_ms, end_ms, paging, deadline=None, one_row_per_series=False, combine=None,
               sorder_by=None, extra=None, max_pages=None):
        """Every series of the query over ``[start_ms, end_ms]``; a ``Listing``."""
        if paging not in ("series", "rows", "single"):
            raise ValueError("paging must be 'series', 'rows' or 'single', got %r" % (paging,))
        base = {"q": q, "timeRange": [int(start_ms), int(end_ms)], "disableMultipleField": False,
                "disable_sampling": True}
        if sorder_by:
            base["sorder_by"] = [{"column": c, "order": o} for c, o in sorder_by]
        base.update(extra or {})
        listing = self._page_through(q, base, paging, deadline, max_pages or self.max_pages)
        if one_row_per_series:
            _combine_buckets(listing, combine or {})
        return listing

    def rows(self, q, start_ms, end_ms, paging, **kwargs):
        """The query's rows as dicts of column -> value, with each series' tags merged in; a ``Listing``."""
        series = self.series(q, start_ms, end_ms, paging, **kwargs)
        out = Listing(gaps=series.gaps, passing=series.passing)
        for one in series:
            columns = one.get("columns") or []
            tags = one.get("tags") or {}
            for values in one.get("values") or []:
                row = dict(tags)
                row.update(zip(columns, values))
                out.append(row)
        return out

    def _page_through(self, q, base, paging, deadline, max_pages):
        """Every page of one query; asked once more from the first page when only a passing fault made the
        answer incomplete and the time budget allows another pass as long as the first."""
        began = clock.monotonic()
        listing = self._one_pass(q, base, paging, deadline, max_pages)
        if not listing.passing:
            return listing
        remaining = deadline.remaining() if deadline is not None else None
        if remaining is not None and remaining < 2 * (clock.monotonic() - began) + RETRY_RESERVE_S:
            return listing
        try:
            again = self._one_pass(q, base, paging, deadline, max_pages)
        except DQLError:
            return listing
        return again if len(again.gaps) <= len(listing.gaps) else listing

    def _one_pass(self, q, base, paging, deadline, max_pages):
        run = _Paging(self, q, base, deadline, max_pages)
        return {"series": run.by_series, "rows": run.by_rows, "single": run.single}[paging]()

    # -- one request (with its segments and asynchronous polls) ------------------------------

    def send(self, query, deadline=None):
        """(series, answer) for one query object; follows segments and asynchronous answers."""
        answer = self._post(QUERY_PATH, query, deadline)
        answer = self._wait(query, answer, deadline)
        series = list(answer.get("series") or [])
        segments = 0
        while _next_cursor(answer) is not None:
            segments += 1
            if segments > MAX_SEGMENTS:
                raise _Incomplete("the answer came in more than %d segments" % MAX_SEGMENTS, series, answer)
            following = dict(query, cursor_time=_next_cursor(answer))
            try:
                answer = self._wait(following, self._post(QUERY_PATH, following, deadline), deadline)
            except DQLError as exc:
                raise _Incomplete("a later segment of the answer failed (%s)" % exc, series, answer, exc.transient)
            series = _merge_segments(series, answer.get("series") or [])
        return series, answer

    def _wait(self, query, answer, deadline):
        """The answer of a query Guance is still running (``is_running`` + ``async_id``), polled within the budget."""
        polls = 0
        while answer.get("is_running") and answer.get("async_id"):
            wait = ASYNC_POLL_S[min(polls, len(ASYNC_POLL_S) - 1)]
            remaining = deadline.remaining() if deadline is not None else None
            if remaining is not None and remaining <= wait + 1:
                raise _Incomplete("the query was still running on Guance when the time budget ran out", [], answer)
            clock.sleep(wait)
            polls += 1
            body_query = {"qtype": "dql", "query": query, "async_id": answer["async_id"]}
            answer = self._post(ASYNC_PATH, None, deadline, queries=[body_query])
        return answer

    def _post(self, path, query, deadline, queries=None):
        self.requests += 1
        body = {"queries": queries or [{"qtype": "dql", "query": query}], "fieldTagDescNeeded": False}
        q = (queries[0]["query"] if queries else query)["q"]
        try:
            content = self.api.post(path, body, deadline=deadline, expect=answer_problem)
        except openapi.GuanceAPIError as exc:
            raise DQLError("DQL query failed (%s): %s" % (str(exc).splitlines()[0], q), exc)
        problem = answer_problem(content)
        if problem:
            raise DQLError("DQL %s for: %s" % (problem, q))
        first = content["data"][0]
        if first.get("error") or first.get("errorCode"):
            raise DQLError("DQL error %s: %s" % (first.get("errorCode") or first.get("error"), q))
        return first


def answer_problem(content):
    """Why ``content`` is not a DQL answer (no ``data`` list of results), or None: such an answer is retried."""
    data = content.get("data") if isinstance(content, dict) else None
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        return "answer has no data"
    return None


class _Incomplete(Exception):
    """Part of one answer arrived; the rest did not."""

    def __init__(self, why, series, answer, passing=False):
        Exception.__init__(self, why)
        self.why = why
        self.series = series
        self.answer = answer
        self.passing = passing


class _Paging:
    """Fetching every page of one query, noting every reason the result may be short."""

    def __init__(self, client, q, base, deadline, max_pages):
        self.client = client
        self.q = q
        self.base = base
        self.deadline = deadline
        self.max_pages = max_pages
        self.listing = Listing()
        self.pages = 0

    def fetch(self, **paging):
        """(series, answer) of one page, or None when the listing must stop (the reason noted)."""
        if self.pages >= self.max_pages:
            self.listing.gap("the answer has more than %d pages of %d" % (self.max_pages, self.client.page_size))
            return None
        query = dict(self.base)
        query.update(paging)
        self.pages += 1
        try:
            series, answer = self.client.send(query, self.deadline)
        except _Incomplete as exc:
            self.listing.gap(exc.why, exc.passing)
            series, answer = exc.series, exc.answer
        except DQLError as exc:
            if self.pages == 1:
                raise
            self.listing.gap("page %d failed (%s)" % (self.pages, str(exc).splitlines()[0]), exc.transient)
            return None
        sample = answer.get("sample")
        if isinstance(sample, (int, float)) and not isinstance(sample, bool) and 0 < sample < 1:
            self.listing.gap("the answer is a %.0f%% sample" % (sample * 100))
        return [s for s in (_clean(one, self.listing) for one in series) if s is not None], answer

    def by_series(self):
        size = self.client.page_size
        seen = set()
        offset = repeats = 0
        unknown_short = None          # the size of a short page whose end is being confirmed
        while True:
            page = self.fetch(slimit=size, soffset=offset)
            if page is None:
                break
            series, _ = page
            if unknown_short is not None:
                self.client.bounds.learn(unknown_short, len(series))
                unknown_short = None
            repeated = 0
            for one in series:
                key = _series_key(one)
                if key in seen:
                    repeated += 1
                    continue
                seen.add(key)
                self.listing.append(one)
            repeats += repeated
            if repeated and repeated == len(series):
                break                     # a page with nothing new: paging goes round in circles
            offset += len(series)
            ends = self.client.bounds.ends(len(series), size)
            if ends is True:
                break
            if ends is None:
                unknown_short = len(series)
        if repeats:
            self.listing.gap("%d series came back more than once (the order changed between pages): some may be "
                             "missing" % repeats, passing=True)
        return self.listing

    def by_rows(self):
        size = self.client.page_size
        cursor = None
        offset = 0
        total = None
        unknown_short = None
        while True:
            paging = {"limit": size}
            if cursor is not None:
                paging["search_after"] = cursor
            else:
                if offset + size > OFFSET_WINDOW and offset:
                    self.listing.gap("more than %d rows and no search_after cursor offered" % OFFSET_WINDOW)
                    break
                paging["offset"] = offset
            page = self.fetch(**paging)
            if page is None:
                break
            series, answer = page
            count = sum(len(s.get("values") or []) for s in series)
            if unknown_short is not None:
                self.client.bounds.learn(unknown_short, count)
                unknown_short = None
            self.listing.extend(series)
            offset += count
            hits = answer.get("total_hits")
            if isinstance(hits, int) and not isinstance(hits, bool) and hits < TOTAL_HITS_CAP:
                total = hits
            if count == 0 or (total is not None and offset >= total):
                break
            after = answer.get("search_after")
            cursor = after if isinstance(after, list) and after else None
            if total is None:
                ends = self.client.bounds.ends(count, size)
                if ends is True:
                    break
                if ends is None:
                    unknown_short = count
        return self.listing

    def single(self):
        size = self.client.page_size
        page = self.fetch(limit=size, slimit=size)
        if page is not None:
            series, _ = page
            self.listing.extend(series)
            if len(series) >= size or any(len(s.get("values") or []) >= size for s in series):
                self.listing.gap("the answer filled a whole page of %d: there may be more" % size)
        return self.listing


def _next_cursor(answer):
    value = answer.get("next_cursor_time")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return int(value)


def _series_key(one):
    return json.dumps([one.get("name"), one.get("tags") or {}], sort_keys=True, ensure_ascii=False, default=str)


def _merge_segments(series, more):
    by_key = {_series_key(s): s for s in series}
    for one in more:
        key = _series_key(one)
        if key in by_key:
            by_key[key] = dict(by_key[key], values=list(by_key[key].get("values") or []) + list(one.get("values") or []))
        else:
            by_key[key] = one
            series.append(one)
    return [by_key[_series_key(s)] for s in series]


def _clean(one, listing):
    """A series with dict ``tags`` and list ``values``, or None (noted) when it is malformed."""
    if not isinstance(one, dict):
        listing.gap("a series of the answer is not an object")
        return None
    tags = one.get("tags")
    if isinstance(tags, str):
        try:
            tags = json.loads(tags) if tags.strip() else {}
        except ValueError:
            tags = False                 # text that is not JSON: malformed, never "no tags"
    if tags is not None and not isinstance(tags, dict):
        listing.gap("a series of the answer has malformed tags")
        return None
    values = one.get("values")
    columns = one.get("columns")
    if not isinstance(values, list) or not isinstance(columns, list) or \
            any(not isinstance(v, list) for v in values):
        listing.gap("a series of the answer has malformed columns or values")
        return None
    clean = dict(one)
    clean["tags"] = {str(k): v for k, v in (tags or {}).items()}
    return clean


COMBINERS = {
    "max": lambda values: max(values),
    "min": lambda values: min(values),
    "sum": lambda values: sum(values),
    "first": lambda values: values[0],
    "last": lambda values: values[-1],
}


def _combine_buckets(listing, combine):
    """One row per series: several rows (a bucketed answer) are combined per column, or the listing is marked."""
    for one in listing:
        values = one.get("values") or []
        if len(values) <= 1:
            continue
        columns = one.get("columns") or []
        rows = sorted(values, key=lambda row: (row[0] is None, row[0]))   # oldest bucket first
        merged = []
        for index, column in enumerate(columns):
            if column == "time":
                merged.append(rows[-1][index])
                continue
            how = combine.get(column)
            present = [row[index] for row in rows if index < len(row) and row[index] is not None]
            if how not in COMBINERS:
                listing.gap("the server split %r into time buckets and there is no way to combine column %r"
                            % (one.get("name"), column))
                merged.append(present[-1] if present else None)
                continue
            merged.append(COMBINERS[how](present) if present else None)
        one["values"] = [merged]
