"""DQL over the Guance OpenAPI (``POST /api/v1/df/query_data_v1``): quoting, paging, rows.

Build queries with ``quote`` / ``ident`` / ``conditions`` so that names and
values from the data or from configs can never change a query's meaning.
``DQLClient.rows`` pages through every series (``slimit``/``soffset``) or row
(``limit``/``offset``) and returns plain dicts: the columns plus the series tags.
"""
from guance_monitor import openapi

QUERY_PATH = "/api/v1/df/query_data_v1"


class DQLError(Exception):
    """The query was refused or the answer was not a DQL result."""


def quote(value):
    """A DQL string literal: ``'it''s'`` style escaping of quotes and backslashes."""
    text = str(value)
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ident(name):
    """A backticked DQL identifier."""
    return "`" + str(name).replace("`", "") + "`"


def eq(name, value):
    return "%s = %s" % (ident(name), quote(value))


def in_list(name, values):
    return "%s IN [%s]" % (ident(name), ", ".join(quote(v) for v in values))


def regex(name, pattern):
    return "%s = re(%s)" % (ident(name), quote(pattern))


def conditions(*parts):
    """``{a, b}`` from the non-empty condition strings, or ``""`` when there are none."""
    kept = [p for p in parts if p]
    return "{" + ", ".join(kept) + "}" if kept else ""


class DQLClient(object):
    """Runs DQL through one ``GuanceOpenAPI`` and counts the requests it made."""

    def __init__(self, api, page_size=1000, max_pages=500):
        self.api = api
        self.page_size = page_size
        self.max_pages = max_pages
        self.requests = 0

    def series(self, q, start_ms, end_ms, by_series=None, extra=None):
        """Every series of the query over ``[start_ms, end_ms]``, all pages fetched.

        Queries with ``BY`` are paged per series (``slimit``/``soffset``), others
        per row (``limit``/``offset``); ``by_series`` overrides the guess.
        """
        if by_series is None:
            by_series = " BY " in q.upper()
        collected = []
        for page in range(self.max_pages):
            offset = page * self.page_size
            query = {"q": q, "timeRange": [int(start_ms), int(end_ms)], "disableMultipleField": False}
            if by_series:
                query.update({"slimit": self.page_size, "soffset": offset})
            else:
                query.update({"limit": self.page_size, "offset": offset})
            if extra:
                query.update(extra)
            page_series = self._send(query)
            collected.extend(page_series)
            if by_series:
                count = len(page_series)
            else:
                count = sum(len(s.get("values") or []) for s in page_series)
            if count < self.page_size:
                return collected
        raise DQLError("DQL result has more than %d pages of %d; narrow the query: %s"
                       % (self.max_pages, self.page_size, q))

    def rows(self, q, start_ms, end_ms, by_series=None, extra=None):
        """The query's rows as dicts of column -> value, with each series' tags merged in."""
        out = []
        for one in self.series(q, start_ms, end_ms, by_series=by_series, extra=extra):
            columns = one.get("columns") or []
            tags = one.get("tags") or {}
            for values in one.get("values") or []:
                row = dict(tags)
                row.update(zip(columns, values))
                out.append(row)
        return out

    def _send(self, query):
        self.requests += 1
        body = {"queries": [{"qtype": "dql", "query": query}], "fieldTagDescNeeded": False}
        try:
            content = self.api.post(QUERY_PATH, body)
        except openapi.GuanceAPIError as exc:
            raise DQLError("DQL query failed (%s): %s" % (exc, query["q"]))
        data = (content or {}).get("data") if isinstance(content, dict) else None
        if not isinstance(data, list) or not data:
            raise DQLError("DQL answer has no data for: %s" % query["q"])
        first = data[0] or {}
        if first.get("error") or first.get("errorCode"):
            raise DQLError("DQL error %s: %s" % (first.get("errorCode") or first.get("error"), query["q"]))
        return first.get("series") or []
