"""EventReporter: validate inspection events and deliver them to Guance — at least once, never twice.

    from guance_monitor__event_reporter import EventReporter
    EventReporter().report({"title": "...", "message": "...", "status": "warning",
                            "dimension_tags": {"host": "web01"}})

Create it inside the function decorated by ``self_hosted_monitor`` (it reads the
inspection's context). Events go through ``POST /api/v1/outer_function/execute`` with
``guance__openapi.report_event``, the workspace UUID and token from
``/api/v1/workspace/get`` (cached for a few hours).

**The outbox.** ``enqueue`` writes new events to an outbox in the state store before
anything is sent; ``deliver`` sends what the outbox holds, oldest first, in batches,
and removes what Guance accepted. What is left is sent on a later run. Per answer:

- accepted (``success: true``, no outer-function error, whatever else the content holds):
  removed from the outbox;
- **may have arrived** (the connection broke after sending, a timeout, a gateway's 5xx
  page, a 2xx that is not the OpenAPI envelope): kept, marked with the attempt's time; on a run at least
  ``CHECK_DELAY_S`` later the reporter looks for the events in Guance (one DQL query over
  ``E::`monitor``` by ``df_event_id`` over the attempt's time widened by ``LOOKUP_MARGIN_S`` on
  both sides, as Guance dates events by its own clock; or by the inspection's checker ID, title and
  status stored within ``TITLE_MATCH_S`` of the send, as titles repeat; an incomplete answer proves
  nothing and the events wait); one it
  finds is done; one it does not find is sent again once the attempt is ``VISIBILITY_LAG_S``
  old (Guance is assumed to show a stored event by then), and waits before that. Events
  of the same dimension tags wait behind such an event, so that an ``ok`` never
  overtakes its alert;
- **definitely refused** (``EFuncFailed``, another 4xx with Guance's error code,
  ``success: false``): the batch is split to find the events refused; only they are held
  back, the others go on. An event refused on ``MAX_REFUSALS`` runs, over at least
  ``REFUSAL_SPAN_S``, is dropped, and the drop is itself reported in a warning event;
- certainly not arrived (no connection, rate limited, a 5xx in Guance's own envelope):
  retried within the run while time allows; then kept;
- our request budget spent, Guance unreachable, the key refused: nothing more is sent
  this run; all is kept.

What is and is not guaranteed is written in the README ("Delivery").

Each event carries ``df_event_id`` (md5 of refKey, title, status, tags and the run time),
``df_monitor_ref_key`` and ``df_monitor_checker_id``. An event delivered later than
``LATE_AFTER_S`` after it was detected says so in its message, with both times.
"""
import base64
import hashlib
import json
import os

from guance_monitor import clock
from guance_monitor import context
from guance_monitor import dql
from guance_monitor import logs
from guance_monitor import openapi
from guance_monitor import redact
from guance_monitor import report

STATUSES = ("info", "warning", "error", "critical", "ok")
REPORT_FUNC_ID = "guance__openapi.report_event"
BATCH_SIZE = 100
OUTBOX_LIMIT = 5000          # oldest events beyond this are dropped (and the drop reported)
MAX_REFUSALS = 3             # an event refused on this many runs ...
REFUSAL_SPAN_S = 15 * 60     # ... the first at least this long ago, is dropped
CHECK_DELAY_S = 60           # look for an event that may have arrived no sooner than this after sending it
VISIBILITY_LAG_S = 90        # not found this long after the attempt: it did not arrive (before: not yet visible)
LOOKUP_MARGIN_S = 15 * 60    # the look-up spans this much more on both sides: Guance dates events by its own clock
TITLE_MATCH_S = 60           # a match by title alone counts only for an event stored this close to the send
LATE_AFTER_S = 90            # an event sent this long after it was detected says so
TITLE_LIMIT = 256
MESSAGE_LIMIT = 32000        # characters; longer reports are cut at a line, saying how much was cut
WORKSPACE_TTL_S = 6 * 3600
_KNOWN_KEYS = {"title", "message", "status", "dimension_tags", "df_event_id"}
_LINKS = ("df_monitor_ref_key", "df_monitor_checker_id")

log = logs.get(__name__)


class EventError(ValueError):
    """An event is malformed; the text names the event and the field."""


def validate(event, where="event"):
    """A normalised copy of ``event``: title one line (cut at ``TITLE_LIMIT``), message text (capped at
    ``MESSAGE_LIMIT``), known status, tags dict. Names from data can be long: cutting is not an error."""
    if not isinstance(event, dict):
        raise EventError("%s: expected a dict with title, message, status, got %s" % (where, type(event).__name__))
    unknown = sorted(set(event) - _KNOWN_KEYS - set(_LINKS))
    if unknown:
        raise EventError("%s: unknown field %r (fields: title, message, status, dimension_tags)" % (where, unknown[0]))
    title = event.get("title")
    if not isinstance(title, str) or not title.strip():
        raise EventError("%s.title: required, one line of text" % where)
    if "\n" in title.strip() or "\r" in title:
        raise EventError("%s.title: must be one line" % where)
    message = event.get("message")
    if not isinstance(message, str):
        raise EventError("%s.message: required, markdown text" % where)
    status = event.get("status")
    if status not in STATUSES:
        raise EventError("%s.status: expected one of %s, got %r" % (where, ", ".join(STATUSES), status))
    tags = event.get("dimension_tags") or {}
    if isinstance(tags, str):
        try:
            tags = json.loads(tags)
        except ValueError:
            raise EventError("%s.dimension_tags: expected a dict (or its JSON)" % where)
    if not isinstance(tags, dict):
        raise EventError("%s.dimension_tags: expected a dict of tag -> value" % where)
    clean_tags = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key or isinstance(value, (dict, list)) or value is None:
            raise EventError("%s.dimension_tags.%s: expected a text value" % (where, key))
        clean_tags[key] = value if isinstance(value, str) else str(value)
    clean = {"title": _one_line(title, TITLE_LIMIT), "message": cap_message(message), "status": status,
             "dimension_tags": clean_tags}
    for key in ("df_event_id",) + _LINKS:
        if event.get(key):
            clean[key] = str(event[key])
    return clean


def validate_all(events):
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, (list, tuple)):
        raise EventError("events: expected an event dict or a list of them, got %s" % type(events).__name__)
    return [validate(e, "events[%d]" % i) for i, e in enumerate(events)]


def cap_message(message, limit=MESSAGE_LIMIT):
    """``message`` cut at a line boundary to at most ``limit`` characters, saying how much was cut."""
    if len(message) <= limit:
        return message
    note = "\n\n> 报告过长，已截断 %d 个字符（共 %d）/ report cut: %d of %d characters not shown\n"
    room = limit - len(note % (len(message), len(message), len(message), len(message)))
    cut = message.rfind("\n", 0, room)
    if cut < room // 2:
        cut = room
    head = message[:cut].rstrip()
    if head.count("```") % 2:
        head += "\n```"
    hidden = len(message) - cut
    return head + note % (hidden, len(message), hidden, len(message))


def event_id(ref_key, event, at_ms):
    """A stable id for this event of this inspection at this run time."""
    basis = json.dumps([ref_key, event["title"], event["status"], event["dimension_tags"], at_ms],
                       sort_keys=True, ensure_ascii=False)
    return "event-" + hashlib.md5(basis.encode("utf-8")).hexdigest()


def _one_line(text, limit):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _keystream(key, nonce, length):
    out = b""
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(b"%s|%s|%d" % (key.encode("utf-8"), nonce, counter)).digest()
        counter += 1
    return out[:length]


def seal(text, key):
    """``text`` encrypted with a keystream derived from ``key`` (the API key, which the store never holds)."""
    nonce = base64.b16encode(os.urandom(8))
    data = text.encode("utf-8")
    mixed = bytes(a ^ b for a, b in zip(data, _keystream(key, nonce, len(data))))
    check = hashlib.sha256(key.encode("utf-8") + nonce + data).hexdigest()[:12]
    return "%s:%s:%s" % (nonce.decode("ascii"), check, base64.b64encode(mixed).decode("ascii"))


def unseal(sealed, key):
    """The text ``seal`` sealed with ``key``, or None (another key, or not a sealed text)."""
    try:
        nonce, check, body = str(sealed).split(":", 2)
        mixed = base64.b64decode(body.encode("ascii"))
        data = bytes(a ^ b for a, b in zip(mixed, _keystream(key, nonce.encode("ascii"), len(mixed))))
        if hashlib.sha256(key.encode("utf-8") + nonce.encode("ascii") + data).hexdigest()[:12] != check:
            return None
        return data.decode("utf-8")
    except (ValueError, TypeError, UnicodeError):
        return None


def _found(found, entry, now_ms):
    """Whether a look-up found ``entry``: by its ``df_event_id``, or (Guance kept another id) by its title and
    status stored close to its send — titles repeat, so an older event with the same title is not it."""
    event = entry["event"]
    if event["df_event_id"] in found["ids"]:
        return True
    earliest = entry["created_ms"] - TITLE_MATCH_S * 1000
    return any(earliest <= when <= now_ms for when in found["titles"].get((event["title"], event["status"]), ()))


def dimension_key(event):
    return json.dumps(event.get("dimension_tags") or {}, sort_keys=True, ensure_ascii=False)


class Outbox:
    """The entries waiting for Guance, in order, persisted in the state store after every change."""

    KEY = "events"

    def __init__(self, store):
        self.store = store
        self.problem = None
        self.entries = self._load()

    def _load(self):
        value, problem = self.store.read(self.KEY)
        if problem:
            self.problem = "the event outbox could not be read (%s): events waiting in it are lost" % problem
            log.error(self.problem)
            return []
        if not isinstance(value, list):
            return []
        now = clock.now_ms()
        entries = []
        for item in value:
            entry = _entry(item, now)
            if entry is not None:
                entries.append(entry)
        return entries

    def save(self):
        if self.entries:
            self.store.set(self.KEY, self.entries)
        else:
            self.store.delete(self.KEY)


def _entry(item, now_ms):
    """An outbox entry from what the store held (earlier releases kept ``{event, rejections}``)."""
    if not isinstance(item, dict) or not isinstance(item.get("event"), dict):
        return None
    event = item["event"]
    if not event.get("df_event_id"):
        return None
    number = lambda v, d: v if isinstance(v, (int, float)) and not isinstance(v, bool) else d  # noqa: E731
    return {"event": event, "created_ms": number(item.get("created_ms"), now_ms),
            "refusals": int(number(item.get("refusals", item.get("rejections")), 0)),
            "first_refused_ms": number(item.get("first_refused_ms"), None),
            "maybe_ms": number(item.get("maybe_ms"), None), "kind": item.get("kind") or "event"}


class EventReporter:
    def __init__(self, ctx=None):
        self.ctx = ctx or context.current()
        if self.ctx is None or self.ctx.api is None:
            raise RuntimeError(
                "EventReporter needs the inspection's context: create it inside the function "
                "decorated with @self_hosted_monitor(...) (not at module level)")
        self.store = self.ctx.store.scoped("spool:%s" % (self.ctx.ref_key or "default"))
        self.stats = {"sent": 0, "looked_up": 0, "found": 0, "dropped": 0, "refused": 0}
        self.problems = []

    # -- public ------------------------------------------------------------------------------

    def report(self, events):
        """Validate ``events`` (one dict or a list), put them in the outbox, send what can be sent.

        Returns ``{"sent": n, "pending": m}``; ``pending`` events wait in the outbox for a
        later run. Raises EventError for a malformed event (nothing is queued then).
        """
        self.enqueue(events)
        return self.deliver()

    def enqueue(self, events, kind="event"):
        """Validate and append ``events`` to the outbox (durably). Returns their ids."""
        fresh = validate_all(events)
        at_ms = clock.to_ms(self.ctx.started_at)
        now = clock.now_ms()
        outbox = Outbox(self.store)
        self._note_problem(outbox)
        queued = set(e["event"]["df_event_id"] for e in outbox.entries)
        ids = []
        for event in fresh:
            event.setdefault("df_event_id", event_id(self.ctx.ref_key, event, at_ms))
            if self.ctx.ref_key:
                event["df_monitor_ref_key"] = self.ctx.ref_key
            if self.ctx.rule_uuid:
                event["df_monitor_checker_id"] = self.ctx.rule_uuid
            ids.append(event["df_event_id"])
            if event["df_event_id"] not in queued:
                queued.add(event["df_event_id"])
                outbox.entries.append({"event": event, "created_ms": now, "refusals": 0, "first_refused_ms": None,
                                       "maybe_ms": None, "kind": kind})
        dropped = self._trim(outbox)
        outbox.save()
        if dropped:
            self._report_dropped(dropped, "发件箱已满 / the outbox was full")
        return ids

    def deliver(self, deadline=None):
        """Send what the outbox holds, within ``deadline``. Returns ``{"sent", "pending", "dropped"}``."""
        outbox = Outbox(self.store)
        self._note_problem(outbox)
        sent_before, dropped_before = self.stats["sent"], self.stats["dropped"]
        if outbox.entries:
            _Delivery(self, outbox, deadline or self.ctx.deadline).run()
        return {"sent": self.stats["sent"] - sent_before, "pending": len(outbox.entries),
                "dropped": self.stats["dropped"] - dropped_before}

    flush = deliver

    # -- helpers -----------------------------------------------------------------------------

    def _note_problem(self, outbox):
        if outbox.problem and outbox.problem not in self.problems:
            self.problems.append(outbox.problem)

    def _trim(self, outbox):
        if len(outbox.entries) <= OUTBOX_LIMIT:
            return []
        extra = len(outbox.entries) - OUTBOX_LIMIT
        dropped, outbox.entries = outbox.entries[:extra], outbox.entries[extra:]
        log.error("the event outbox is full: the %d oldest events waiting for Guance are dropped", extra)
        return dropped

    def _report_dropped(self, entries, why):
        """One warning event naming the events that will never reach Guance (not for drop reports themselves)."""
        entries = [e for e in entries if e.get("kind") != "drop-report"]
        self.stats["dropped"] += len(entries)
        if not entries:
            return
        for entry in entries:
            log.error("event dropped (%s): %r", why, entry["event"]["title"])
        rows = [(report.display_time(e["created_ms"]), e["event"]["status"], e["event"]["title"]) for e in entries]
        title = self.ctx.title or "inspection"
        message = ("以下事件未能送达观测云，已放弃 / These events could not be delivered to Guance and were given up:"
                   "\n\n原因 / Why: %s\n\n%s\n" % (report.md(why), report.table(
                       ["检测时间 Detected", "状态 Status", "标题 Title"], rows, limit=20)))
        self.enqueue([{"title": "%s：%d 个事件无法送达 / %d events could not be delivered" % (
            _one_line(title, 120), len(entries), len(entries)), "status": "warning", "message": message,
            "dimension_tags": {"check": "delivery"}}], kind="drop-report")


class _Delivery:
    """One pass over the outbox: look up what may have arrived, then send the rest in batches."""

    def __init__(self, reporter, outbox, deadline):
        self.reporter = reporter
        self.ctx = reporter.ctx
        self.api = reporter.ctx.api
        self.outbox = outbox
        self.deadline = deadline
        self.workspace = None
        self.workspace_cached = False
        self.stopped = None            # why sending stopped this pass
        self.refused_now = set()       # ids refused in this pass (not retried in it)
        self.dropped = []

    def run(self):
        self.resolve_maybe_arrived()
        while self.stopped is None:
            batch = self.next_batch()
            if not batch:
                break
            self.send(batch)
        self.outbox.save()
        if self.dropped:
            self.reporter._report_dropped(self.dropped, "观测云多次明确拒绝 / Guance refused them on %d runs"
                                          % MAX_REFUSALS)
        if self.stopped:
            log.info("%d events wait in the outbox for the next run: %s", len(self.outbox.entries), self.stopped)

    # -- events that may have arrived ---------------------------------------------------------

    def resolve_maybe_arrived(self):
        now = clock.now_ms()
        due = [e for e in self.outbox.entries if e["maybe_ms"] is not None and now - e["maybe_ms"] >= CHECK_DELAY_S * 1000]
        if not due:
            return
        try:
            found = self.look_up([e["event"] for e in due], min(e["created_ms"] for e in due) - LOOKUP_MARGIN_S * 1000,
                                 now + LOOKUP_MARGIN_S * 1000)
        except (dql.DQLError, openapi.GuanceAPIError) as exc:
            found, why = None, str(exc).splitlines()[0]
        else:
            why = "the answer was incomplete"
        if found is None:
            log.warning("could not check whether %d events already reached Guance (%s); they wait for the next run",
                        len(due), why)
            return
        self.reporter.stats["looked_up"] += len(due)
        arrived = set(id(e) for e in due if _found(found, e, now))
        for entry in due:
            if id(entry) not in arrived and now - entry["maybe_ms"] >= VISIBILITY_LAG_S * 1000:
                entry["maybe_ms"] = None          # not there long after the attempt: send it again
        self.reporter.stats["found"] += len(arrived)
        self.reporter.stats["sent"] += len(arrived)
        self.outbox.entries = [e for e in self.outbox.entries if id(e) not in arrived]
        self.outbox.save()

    def look_up(self, events, start_ms, end_ms):
        """What Guance holds of ``events``: ``{"ids": set, "titles": {(title, status): [times]}}`` (one DQL query);
        None when the answer was incomplete (what it lacks is unknown, not absent)."""
        ids = [e["df_event_id"] for e in events]
        where = [dql.in_list("df_event_id", ids)]
        if self.ctx.rule_uuid:
            where.append("(%s && %s)" % (dql.eq("df_monitor_checker_id", self.ctx.rule_uuid),
                                         dql.in_list("df_title", sorted(set(e["title"] for e in events)))))
        query = "E::%s:(%s) {%s}" % (dql.ident("monitor"), ", ".join(dql.ident(c) for c in (
            "df_event_id", "df_title", "df_status")), " || ".join(where))
        rows = dql.DQLClient(self.api).rows(query, start_ms, end_ms, paging="rows", deadline=self.deadline)
        if not rows.complete:
            return None
        titles = {}
        for row in rows:
            when = row.get("time")
            if isinstance(when, (int, float)) and not isinstance(when, bool):
                titles.setdefault((row.get("df_title"), row.get("df_status")), []).append(when)
        return {"ids": set(r.get("df_event_id") for r in rows), "titles": titles}

    # -- sending ----------------------------------------------------------------------------

    def next_batch(self):
        """The next entries that may go now, in outbox order (behind nothing that may have arrived)."""
        blocked = set()
        batch = []
        for entry in self.outbox.entries:
            dims = dimension_key(entry["event"])
            if entry["maybe_ms"] is not None or entry["event"]["df_event_id"] in self.refused_now:
                blocked.add(dims)
                continue
            if dims in blocked:
                continue
            batch.append(entry)
            if len(batch) >= BATCH_SIZE:
                break
        return batch

    def load_workspace(self, fresh=False):
        """The workspace UUID and token: cached a few hours, the token sealed with the API key (never stored bare)."""
        cache = self.reporter.store
        if not fresh:
            cached = cache.get("workspace")
            token = unseal(cached.get("token_sealed"), self.api.api_key) if isinstance(cached, dict) else None
            if token and cached.get("uuid"):
                redact.register_secret(token)
                self.workspace, self.workspace_cached = {"uuid": cached["uuid"], "token": token}, True
                return self.workspace
        content = self.api.workspace()
        self.workspace = {"uuid": content["uuid"], "token": content["token"]}
        self.workspace_cached = False
        cache.set("workspace", {"uuid": content["uuid"], "token_sealed": seal(content["token"], self.api.api_key)},
                  expires=WORKSPACE_TTL_S)
        return self.workspace

    def post(self, batch):
        now = clock.now_ms()
        data = [self.outgoing(entry, now) for entry in batch]
        self.api.execute_outer_function(REPORT_FUNC_ID, {
            "workspace_uuid": self.workspace["uuid"], "workspace_token": self.workspace["token"], "data": data,
        }, deadline=self.deadline)

    def outgoing(self, entry, now_ms):
        event = dict(entry["event"])
        if self.ctx.rule_uuid and not event.get("df_monitor_checker_id"):
            event["df_monitor_checker_id"] = self.ctx.rule_uuid
        if now_ms - entry["created_ms"] >= LATE_AFTER_S * 1000:
            event["message"] = cap_message(event["message"].rstrip() + "\n\n> 延迟送达：检测于 %s，发送于 %s。文中的剩余时间等均以检测时间为准。"
                                           " / Delivered late: detected at %s, sent at %s; times left and durations "
                                           "above are as of detection.\n" % (
                                               report.display_time(entry["created_ms"]), report.display_time(now_ms),
                                               report.display_time(entry["created_ms"]), report.display_time(now_ms)))
        return event

    def send(self, batch):
        """Send ``batch``; on a definite refusal split it until the refused events are found."""
        try:
            if self.workspace is None:
                self.load_workspace()
            self.post(batch)
        except openapi.GuanceAPIError as exc:
            if exc.refused and self.workspace_cached:
                self.load_workspace(fresh=True)     # a rotated workspace token looks like a refusal
                return self.send(batch)
            self.failed(batch, exc)
            return
        self.accepted(batch)

    def accepted(self, batch):
        done = set(id(e) for e in batch)
        self.outbox.entries = [e for e in self.outbox.entries if id(e) not in done]
        self.reporter.stats["sent"] += len(batch)
        self.outbox.save()

    def failed(self, batch, exc):
        reason = str(exc).splitlines()[0]
        if exc.refused:
            if len(batch) > 1:
                middle = len(batch) // 2
                self.send(batch[:middle])
                if self.stopped is None:
                    self.send(batch[middle:])
                return
            self.refused(batch[0], reason)
            return
        if exc.maybe_arrived:
            now = clock.now_ms()
            for entry in batch:
                entry["maybe_ms"] = now
            self.stopped = "the last batch may have arrived (%s); it is checked before it is sent again" % reason
        elif exc.kind == "account":
            self.stopped = "Guance refused the API key (%s): check the startup script's account" % reason
            log.error(self.stopped)
        else:
            self.stopped = reason
        self.outbox.save()

    def refused(self, entry, reason):
        event_id_ = entry["event"]["df_event_id"]
        now = clock.now_ms()
        entry["refusals"] += 1
        entry["first_refused_ms"] = entry["first_refused_ms"] or now
        self.refused_now.add(event_id_)
        self.reporter.stats["refused"] += 1
        if entry["refusals"] >= MAX_REFUSALS and now - entry["first_refused_ms"] >= REFUSAL_SPAN_S * 1000:
            self.outbox.entries = [e for e in self.outbox.entries if e is not entry]
            self.dropped.append(entry)
        else:
            log.warning("Guance refused the event %r (%s); it is tried again on the next run (%d of %d)",
                        entry["event"]["title"], reason, entry["refusals"], MAX_REFUSALS)
        self.outbox.save()
