"""What the sandbox served and received, as rows and as files a user can read.

The row formats are those of the demo's files (and of the sandbox's read-only
``GET /_sandbox/calls`` and ``GET /_sandbox/events``):

- ``calls.jsonl``: ``{"service", "action", "status", "region", "run"}`` per request served
  (``run``: the index of the scenario run the sandbox was in, or null);
- ``events.jsonl``: ``{"run", "check", "title", "status", "dimension_tags", "message"}`` per
  event Guance accepted (``run``: that run's time, ISO 8601 UTC, or null);
- ``events/NNN-<check>-<status>.md``: each event's report, its title as the heading.

``Journal(directory)`` starts the three afresh and appends to them as things happen.
"""
import io
import json
import os
import threading

from guance_monitor import clock


def call_row(call):
    return {"service": call["service"], "action": call["action"], "status": call["status"],
            "region": call["region"], "run": call["run"]}


def event_row(event, runs):
    """The line of an event; ``runs``: the scenario's run times (for the event's run index)."""
    index = event.get("run")
    return {"run": clock.iso(runs[index]) if index is not None else None, "check": event.get("check"),
            "title": event["title"], "status": event["status"], "dimension_tags": event["dimension_tags"],
            "message": event["message"]}


def report_name(number, row):
    return "%03d-%s-%s.md" % (number, row.get("check") or "event", row["status"])


def report_text(row):
    return "# %s\n\n%s\n" % (row["title"], row["message"].rstrip())


def json_line(row):
    return json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n"


def write_reports(folder, rows):
    """``folder`` emptied of earlier reports, then one report per event row."""
    clear_reports(folder)
    for number, row in enumerate(rows, 1):
        _write(os.path.join(folder, report_name(number, row)), report_text(row), "w")


def clear_reports(folder):
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".md"):
            os.remove(os.path.join(folder, name))


def _write(path, text, mode):
    with io.open(path, mode, encoding="utf-8") as handle:
        handle.write(text)


class Journal:
    """``calls.jsonl``, ``events.jsonl`` and ``events/`` in ``directory``, appended as things happen."""

    def __init__(self, directory):
        self.directory = directory
        self.calls_path = os.path.join(directory, "calls.jsonl")
        self.events_path = os.path.join(directory, "events.jsonl")
        self.reports = os.path.join(directory, "events")
        self._events = 0
        self._lock = threading.Lock()
        os.makedirs(directory, exist_ok=True)
        for path in (self.calls_path, self.events_path):
            _write(path, "", "w")
        clear_reports(self.reports)

    def call(self, row):
        with self._lock:
            _write(self.calls_path, json_line(row), "a")

    def event(self, row):
        with self._lock:
            self._events += 1
            _write(self.events_path, json_line(row), "a")
            _write(os.path.join(self.reports, report_name(self._events, row)), report_text(row), "w")
