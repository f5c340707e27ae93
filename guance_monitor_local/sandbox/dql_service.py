"""The DQL endpoints as the sandbox serves them: settings, asynchronous answers, per-request behaviour.

``DQLService(store, settings, now_ms)`` answers the bodies of ``POST /api/v1/df/query_data_v1`` and
``POST /api/v1/df/asynchronous/query_data`` (``queries[]`` of ``{"qtype": "dql", "query": {...}}``);
``sandbox.dql`` (the engine) answers each query. Errors raise ``dql.DQLError`` naming ``queries[i]``.

Settings: the scenario's ``sandbox.dql`` object, checked by ``check_settings`` (a bad value raises
``ValueError`` naming its path, e.g. ``sandbox.dql.max_limit``). Every key is optional and off by
default except ``offset_window``:

=========================  ===========  ==============================================================
key                        default      effect
=========================  ===========  ==============================================================
``offset_window``          10000        raw rows of ``L O CO E`` paged by offset: ``offset + limit``
                                        above it answers 400 ``DQL.ResultWindowTooLarge`` (null: no
                                        window). *[sandbox]*: Elasticsearch's ``max_result_window``;
                                        Guance documents no window and no code for it.
``max_slimit``             null         the server returns at most this many series per answer
``max_limit``              null         ... and at most this many rows per series (raw default 1000
                                        too); ``soffset`` / ``offset`` still count from what was asked
``unstable_series_order``  false        series of a query without ``sorder_by`` / ``sorderby`` come in
                                        a new random order on every request (drawn from ``seed`` and
                                        the request's number), so offset paging over series can
                                        repeat and miss series
``seed``                   0            the seed of ``unstable_series_order``
``async_polls``            0            N >= 1: every query answered by ``query_data_v1`` is running
                                        (``is_running: true``, an ``async_id``, no series); the
                                        asynchronous endpoint answers it running N - 1 more times,
                                        then with the result
``segment_ms``             null         an answer covers only the newest S ms of the range (up to
                                        ``cursor_time`` when sent); ``next_cursor_time`` is the next
                                        segment's end, or -1 when the range is covered
``auto_interval_ms``       null         aggregate queries with no interval (text or request) and no
                                        nesting are bucketed by it; the answer's ``interval`` /
                                        ``window`` say so
``sample_rate``            1            r < 1: unless the request has ``disable_sampling: true``, the
                                        points read are a fixed ~r share of them; ``sample: r``
=========================  ===========  ==============================================================

Asynchronous queries (``POST /api/v1/df/asynchronous/query_data``, documented as
``query_data_v1``'s body with ``async_id`` beside ``qtype`` and ``query`` in each ``queries[]`` item,
taken from a previous answer's ``content.data[*].async_id``):

- an item without ``async_id`` is a new query, answered as ``query_data_v1`` answers it;
- an item with the ``async_id`` of a running query must carry the same ``query`` object; it is
  answered running (``is_running: true``, ``series: []``) until the query's polls are used up, then
  with the result, computed when the query was sent, with ``async_id`` kept and ``is_running:
  false``. The id is then forgotten. *[sandbox]* choices: the docs show no answer of this endpoint;
- an unknown (or forgotten) ``async_id``: 400 ``DQL.AsyncQueryNotFound`` *[sandbox]*; another query
  under a known id: 400 ``DQL.InvalidParam``.

A running answer: ``{"async_id", "is_running": true, "complete": false, "next_cursor_time": -1,
"sample": 1, "interval": 0, "window": 0, "max_point": 0, "scan_completed": false, "series": [],
"column_names": [], "cost", "query_parse"}`` (no ``total_hits``, no ``search_after``).

Fault effect ``endless`` (``sandbox.faults``) reaches the engine as ``Options.endless``.
"""
import copy
import threading

from guance_monitor_local.sandbox import dql

DEFAULTS = {
    "offset_window": dql.DEFAULT_OFFSET_WINDOW,
    "max_slimit": None,
    "max_limit": None,
    "unstable_series_order": False,
    "seed": 0,
    "async_polls": 0,
    "segment_ms": None,
    "auto_interval_ms": None,
    "sample_rate": 1,
}
_POSITIVE_OR_NULL = ("offset_window", "max_slimit", "max_limit", "segment_ms", "auto_interval_ms")


def _whole(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_settings(value, where="sandbox.dql"):
    """The ``sandbox.dql`` settings with defaults filled in; ValueError naming the bad path."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ValueError("%s: expected an object" % where)
    settings = dict(DEFAULTS)
    for key, item in value.items():
        path = "%s.%s" % (where, key)
        if key in _POSITIVE_OR_NULL:
            if item is not None and not (_whole(item) and item >= 1):
                raise ValueError("%s: expected a whole number >= 1 or null, got %r" % (path, item))
        elif key == "unstable_series_order":
            if not isinstance(item, bool):
                raise ValueError("%s: expected true or false, got %r" % (path, item))
        elif key == "seed":
            if not _whole(item):
                raise ValueError("%s: expected a whole number, got %r" % (path, item))
        elif key == "async_polls":
            if not (_whole(item) and item >= 0):
                raise ValueError("%s: expected a whole number >= 0, got %r" % (path, item))
        elif key == "sample_rate":
            if isinstance(item, bool) or not isinstance(item, (int, float)) or not 0 < item <= 1:
                raise ValueError("%s: expected a number in (0, 1], got %r" % (path, item))
        else:
            raise ValueError("%s: unknown key (known: %s)" % (path, ", ".join(sorted(DEFAULTS))))
        settings[key] = item
    return settings


class DQLService:
    """Answers the DQL endpoints' bodies from a ``dql.PointStore`` with the scenario's settings."""

    def __init__(self, store, settings=None, now_ms=None):
        self.store = store
        self.settings = check_settings(settings)
        self.now_ms = now_ms
        self.requests = 0              # queries answered or started: draws the unstable series orders
        self._running = {}             # async_id -> {"query", "answer", "polls"}
        self._ids = 0
        self._lock = threading.Lock()

    def options(self, endless=False):
        """The engine options for the next query."""
        settings = self.settings
        with self._lock:
            self.requests += 1
            number = self.requests
        seed = None
        if settings["unstable_series_order"]:
            seed = (settings["seed"] * 1000003 + number) % (2 ** 32)
        return dql.Options(offset_window=settings["offset_window"], max_slimit=settings["max_slimit"],
                           max_limit=settings["max_limit"], shuffle_seed=seed, sample_rate=settings["sample_rate"],
                           auto_interval_ms=settings["auto_interval_ms"], segment_ms=settings["segment_ms"],
                           endless=endless)

    def query_data_v1(self, body, endless=False):
        """``content`` of a ``query_data_v1`` answer."""
        return {"data": [self._start(index, item, endless) for index, item in enumerate(_queries(body))]}

    def asynchronous(self, body, endless=False):
        """``content`` of an ``asynchronous/query_data`` answer."""
        data = []
        for index, item in enumerate(_queries(body)):
            async_id = item.get("async_id")
            if async_id in (None, ""):
                data.append(self._start(index, item, endless))
            else:
                data.append(self._poll(index, item, async_id))
        return {"data": data}

    def _start(self, index, item, endless):
        try:
            answer = dql.execute(self.store, item["query"], self.now_ms(), self.options(endless))
        except dql.DQLError as exc:
            raise dql.DQLError(exc.code, "queries[%d]: %s" % (index, exc))
        polls = self.settings["async_polls"]
        if not polls:
            return answer
        with self._lock:
            self._ids += 1
            async_id = "async_%08d" % self._ids
            self._running[async_id] = {"query": copy.deepcopy(item["query"]), "answer": answer, "polls": polls - 1}
        answer["async_id"] = async_id
        return _running(answer)

    def _poll(self, index, item, async_id):
        with self._lock:
            task = self._running.get(async_id)
            if task is None:
                raise dql.DQLError("DQL.AsyncQueryNotFound", "queries[%d]: async_id %r names no running query"
                                   % (index, async_id))
            if item["query"] != task["query"]:
                raise dql.DQLError("DQL.InvalidParam", "queries[%d]: async_id %r belongs to another query: send the "
                                                       "query it was given for" % (index, async_id))
            if task["polls"] > 0:
                task["polls"] -= 1
                return _running(task["answer"])
            del self._running[async_id]
            return task["answer"]


def _queries(body):
    queries = body.get("queries") if isinstance(body, dict) else None
    if not isinstance(queries, list) or not queries:
        raise dql.DQLError("ft.InvalidParam", "queries: expected a non-empty list")
    for index, item in enumerate(queries):
        if not isinstance(item, dict) or item.get("qtype") != "dql" or not isinstance(item.get("query"), dict):
            raise dql.DQLError("ft.InvalidParam",
                               "queries[%d]: expected {\"qtype\": \"dql\", \"query\": {\"q\": ...}}" % index)
    return queries


def _running(answer):
    """The answer of a query still running: its id and parse, no data."""
    return {"async_id": answer["async_id"], "is_running": True, "complete": False, "next_cursor_time": -1,
            "sample": 1, "interval": 0, "window": 0, "max_point": 0, "scan_completed": False, "series": [],
            "column_names": [], "cost": "0ms", "query_parse": answer["query_parse"]}
