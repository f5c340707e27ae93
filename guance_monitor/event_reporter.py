"""EventReporter: validate inspection events and deliver them to Guance, exactly once.

    from guance_monitor__event_reporter import EventReporter
    EventReporter().report({"title": "...", "message": "...", "status": "warning",
                            "dimension_tags": {"host": "web01"}})

Create it inside the function decorated by ``self_hosted_monitor`` (it reads
the inspection's context). Events go through ``POST
/api/v1/outer_function/execute`` with ``guance__openapi.report_event``, the
workspace UUID and token from ``/api/v1/workspace/get``.

Delivery: new events are first written to a spool in the state store, then
sent in batches; what was sent leaves the spool. Transient failures are
retried inside the run's budget; what still failed stays in the spool and is
sent first on the next run. Every event carries a ``df_event_id`` derived from
its content and run, so a batch re-sent after an ambiguous failure (a timeout
after the server had it) is recognised as the same events.
"""
import hashlib
import json

from guance_monitor import clock
from guance_monitor import context
from guance_monitor import openapi
from guance_monitor import redact

STATUSES = ("info", "warning", "error", "critical", "ok")
REPORT_FUNC_ID = "guance__openapi.report_event"
BATCH_SIZE = 100
SPOOL_LIMIT = 5000           # oldest events beyond this are dropped, with a log line
MAX_REJECTIONS = 3           # a batch the server refuses outright is retried on this many runs
TITLE_LIMIT = 256
_KNOWN_KEYS = {"title", "message", "status", "dimension_tags", "df_event_id"}


class EventError(ValueError):
    """An event is malformed; the text names the event and the field."""


def validate(event, where="event"):
    """A normalised copy of ``event``: title one line, message text, known status, tags dict."""
    if not isinstance(event, dict):
        raise EventError("%s: expected a dict with title, message, status, got %s" % (where, type(event).__name__))
    unknown = sorted(set(event) - _KNOWN_KEYS)
    if unknown:
        raise EventError("%s: unknown field %r (fields: title, message, status, dimension_tags)" % (where, unknown[0]))
    title = event.get("title")
    if not isinstance(title, str) or not title.strip():
        raise EventError("%s.title: required, one line of text" % where)
    if "\n" in title.strip() or "\r" in title:
        raise EventError("%s.title: must be one line" % where)
    if len(title) > TITLE_LIMIT:
        raise EventError("%s.title: longer than %d characters" % (where, TITLE_LIMIT))
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
    clean = {"title": title.strip(), "message": message, "status": status, "dimension_tags": clean_tags}
    if event.get("df_event_id"):
        clean["df_event_id"] = str(event["df_event_id"])
    return clean


def validate_all(events):
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, (list, tuple)):
        raise EventError("events: expected an event dict or a list of them, got %s" % type(events).__name__)
    return [validate(e, "events[%d]" % i) for i, e in enumerate(events)]


def event_id(ref_key, event, at_ms):
    """A stable id for this event of this inspection at this run time."""
    basis = json.dumps([ref_key, event["title"], event["status"], event["dimension_tags"], at_ms],
                       sort_keys=True, ensure_ascii=False)
    return "event-" + hashlib.md5(basis.encode("utf-8")).hexdigest()


class EventReporter(object):
    def __init__(self, ctx=None):
        self.ctx = ctx or context.current()
        if self.ctx is None or self.ctx.api is None:
            raise RuntimeError(
                "EventReporter needs the inspection's context: create it inside the function "
                "decorated with @self_hosted_monitor(...) (not at module level)")
        self.spool_store = self.ctx.store.scoped("spool:%s" % (self.ctx.ref_key or "default"))

    def report(self, events):
        """Validate ``events`` (one dict or a list), spool them, send what can be sent.

        Returns ``{"sent": n, "pending": m}``; ``pending`` events stay spooled for
        the next run. Raises EventError for a malformed event (nothing is sent then).
        """
        fresh = validate_all(events)
        at_ms = clock.to_ms(self.ctx.started_at)
        for event in fresh:
            event.setdefault("df_event_id", event_id(self.ctx.ref_key, event, at_ms))
            if self.ctx.ref_key:
                event["df_monitor_ref_key"] = self.ctx.ref_key
            if self.ctx.rule_uuid:
                event["df_monitor_checker_id"] = self.ctx.rule_uuid
        spool = self._load_spool()
        queued = set(item["event"]["df_event_id"] for item in spool)
        spool.extend({"event": e, "rejections": 0} for e in fresh if e["df_event_id"] not in queued)
        spool = self._trim(spool)
        self._save_spool(spool)
        return self._drain(spool)

    def flush(self):
        """Send what earlier runs left in the spool."""
        return self._drain(self._load_spool())

    # -- delivery --------------------------------------------------------------------------

    def _drain(self, spool):
        """Send the spool in order; returns counts. What is left (or refused) stays spooled."""
        sent = 0
        refused = []   # refused by the server: retried on a later run, behind the rest
        try:
            workspace = self.ctx.api.workspace() if spool else None
        except openapi.GuanceAPIError as exc:
            redact.log("events not sent yet (%d kept for the next run): %s", len(spool), exc)
            return {"sent": 0, "pending": len(spool)}
        one_by_one = 0  # after a refused batch, its events go one at a time to find the bad one
        while spool:
            batch = spool[:1 if one_by_one else BATCH_SIZE]
            try:
                self.ctx.api.execute_outer_function(REPORT_FUNC_ID, {
                    "workspace_uuid": workspace["uuid"],
                    "workspace_token": workspace["token"],
                    "data": [item["event"] for item in batch],
                })
                sent += len(batch)
            except openapi.GuanceAPIError as exc:
                if exc.transient:
                    redact.log("events not sent yet (%d kept for the next run): %s", len(spool), exc)
                    break
                if len(batch) > 1:
                    one_by_one = len(batch)
                    continue
                refused.extend(self._count_refusal(batch, exc))
            one_by_one = max(0, one_by_one - 1)
            spool = spool[len(batch):]
            self._save_spool(spool + refused)
        pending = spool + refused
        self._save_spool(pending)
        return {"sent": sent, "pending": len(pending)}

    @staticmethod
    def _count_refusal(batch, exc):
        """The items of a refused batch still worth retrying (fewer than MAX_REJECTIONS refusals)."""
        kept = []
        for item in batch:
            item["rejections"] = item.get("rejections", 0) + 1
            if item["rejections"] >= MAX_REJECTIONS:
                redact.log("event dropped after %d refusals: %r (%s)",
                           item["rejections"], item["event"]["title"], exc)
            else:
                kept.append(item)
        if kept:
            redact.log("Guance refused %d events, will retry on the next run: %s", len(kept), exc)
        return kept

    def _trim(self, spool):
        if len(spool) > SPOOL_LIMIT:
            dropped = len(spool) - SPOOL_LIMIT
            redact.log("event spool full: dropping the %d oldest unsent events", dropped)
            spool = spool[dropped:]
        return spool

    def _load_spool(self):
        value = self.spool_store.get("events") or []
        return value if isinstance(value, list) else []

    def _save_spool(self, spool):
        if spool:
            self.spool_store.set("events", spool)
        else:
            self.spool_store.delete("events")
