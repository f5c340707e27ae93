"""Fault injection: make chosen requests slow, fail, vanish, or answer wrongly.

A fault is a dict (in a scenario's ``sandbox.faults`` list, or given to
``FaultPlan.add``)::

    {"service": "guance",                  # guance | ecs | cms | *   (default *)
     "action": "/api/v1/outer_function/execute",   # path or API action; * wildcards (default *)
     "region": "cn-beijing",               # Alibaba Cloud region (default: any)
     "runs": [0],                          # run indexes it is active in (default: all)
     "times": 2,                           # how many requests it hits (default: all)
     "probability": 0.05,                  # hits a matching request with this chance (default 1)
     "latency_ms": 300,                    # added delay before answering
     "status": 503,                        # answer with this HTTP status instead ...
     "code": "ServiceUnavailable",         # ... this error code (service's error format)
     "message": "...",
     "retry_after": 1.5,                   # Retry-After (Guance) / x-acs-retry-after (Alibaba Cloud)
     "drop": true,                         # close the connection without an answer
     "drop_after_handling": true,          # handle the request, then close without an answer
                                           # (the client cannot tell whether it arrived)
     "body": "<html>502</html>",           # handle the request, answer this raw text instead
     "json": {"success": true, "content": "unexpected"},  # handle it, answer this JSON instead
     "strip": ["content.data"],            # handle it, remove these keys from the real answer
     "endless": true}                      # paging never ends (see below)

Effects, in the order they act on a request:

1. ``latency_ms`` of every hitting fault adds up (a latency beyond the client's read
   timeout is a timeout);
2. ``drop``: the connection is closed, nothing is handled;
3. ``status`` (without ``body`` / ``json``): the service's error answer with that status
   (400-599), ``code``, ``message``, ``retry_after``; nothing is handled;
4. the request is handled for real (side effects happen: events stored, ids used), with
   ``endless`` in force;
5. ``strip``: dotted paths into the real answer's JSON are removed (``content.data`` of a
   Guance envelope, ``Instances`` or ``SpotPrices`` of an ECS answer; a number indexes a list,
   ``*`` means every item of a list: ``content.data.*.series``); a missing path is no error;
6. ``json`` replaces the answer with that JSON (status ``status`` if given, else 200);
   ``body`` replaces it with that text, sent as ``text/html`` (status ``status`` if given,
   else 200); ``body`` wins over ``json``;
7. ``drop_after_handling``: the connection is closed instead of answering.

``endless`` (our design; each service pages on, so that a client capping its pages meets its
cap):

- ECS ``DescribeInstances``: ``NextToken`` is never empty and pages wrap around the matching
  instances (full pages, repeating instances); with ``PageNumber`` paging ``TotalCount`` is
  always larger than the pages seen so far;
- ECS ``DescribeSpotPriceHistory``: ``NextOffset`` is always ``Offset + 1000`` and the page
  wraps around the matching points (non-empty whenever any point matches);
- CMS ``DescribeSystemEventAttribute``: every page is full (``PageSize`` events, wrapping
  around), whenever any event matches;
- Guance DQL: series pages (``slimit``) and row pages (``limit``) wrap around and are always
  full; raw rows paged with ``search_after`` always fill the page and carry a
  ``search_after`` (wrapping to the first row after the last).

Which faults hit: a fault *matches* a request by service, action, region, run and ``times``
not used up; a matching fault with ``probability`` hits only if a draw is below it. Draws come
from one random generator per (run, service, action, region), seeded by ``sandbox.fault_seed``
(default 0) and that stream's name: the same requests of one kind in one run, in the same order,
draw the same faults, whatever other requests do meanwhile (concurrent calls of another kind, or
an earlier run that made more requests, shift nothing). Every hitting latency fault applies, and of the faults with
another effect only the first that hits; a fault counts toward ``times`` only when it hits.
The sandbox's call log then carries ``"fault"``: the effect that applied (``drop``, ``status``,
``body``, ``json``, ``strip``, ``endless``, ``drop_after_handling``, ``latency``).
"""
import fnmatch
import hashlib
import random
import threading

_KNOWN = {"service", "action", "region", "runs", "times", "latency_ms", "status", "code",
          "message", "retry_after", "drop", "drop_after_handling", "note", "probability", "body", "json",
          "strip", "endless"}


class FaultError(ValueError):
    pass


class Fault:
    def __init__(self, spec, where="fault"):
        if not isinstance(spec, dict):
            raise FaultError("%s: expected an object, got %r" % (where, spec))
        unknown = sorted(set(spec) - _KNOWN)
        if unknown:
            raise FaultError("%s: unknown key %r (known: %s)" % (where, unknown[0], ", ".join(sorted(_KNOWN))))
        self.service = spec.get("service", "*")
        self.action = spec.get("action", "*")
        self.region = spec.get("region")
        self.runs = spec.get("runs")
        self.times = spec.get("times")
        for key in ("latency_ms", "retry_after"):
            value = spec.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise FaultError("%s.%s: expected a number >= 0, got %r" % (where, key, value))
        self.latency_ms = float(spec.get("latency_ms") or 0)
        self.status = spec.get("status")
        self.code = spec.get("code")
        self.message = spec.get("message")
        self.retry_after = spec.get("retry_after")
        self.drop = bool(spec.get("drop"))
        self.drop_after_handling = bool(spec.get("drop_after_handling"))
        self.body = spec.get("body")
        self.json = spec.get("json")
        self.has_json = "json" in spec
        self.strip = spec.get("strip") or []
        self.endless = spec.get("endless", False)
        self.probability = spec.get("probability")
        replaces = self.body is not None or self.has_json
        low = 200 if replaces else 400
        if self.status is not None and not (isinstance(self.status, int) and not isinstance(self.status, bool)
                                            and low <= self.status <= 599):
            raise FaultError("%s.status: expected an HTTP %sstatus %d-599, got %r"
                             % (where, "" if replaces else "error ", low, self.status))
        if self.times is not None and not (isinstance(self.times, int) and self.times >= 0):
            raise FaultError("%s.times: expected a count >= 0, got %r" % (where, self.times))
        if self.runs is not None and not (isinstance(self.runs, list) and all(isinstance(r, int) for r in self.runs)):
            raise FaultError("%s.runs: expected a list of run indexes, got %r" % (where, self.runs))
        if self.body is not None and not isinstance(self.body, str):
            raise FaultError("%s.body: expected the answer's text, got %r" % (where, self.body))
        if not isinstance(self.strip, list) or not all(isinstance(p, str) and p for p in self.strip):
            raise FaultError("%s.strip: expected a list of dotted paths, got %r" % (where, self.strip))
        if not isinstance(self.endless, bool):
            raise FaultError("%s.endless: expected true or false, got %r" % (where, self.endless))
        if self.probability is not None and (isinstance(self.probability, bool) or
                                             not isinstance(self.probability, (int, float)) or
                                             not 0 <= self.probability <= 1):
            raise FaultError("%s.probability: expected a number from 0 to 1, got %r" % (where, self.probability))
        self.hits = 0

    def matches(self, service, action, region, run):
        if not fnmatch.fnmatchcase(service, self.service):
            return False
        if not fnmatch.fnmatchcase(action or "", self.action):
            return False
        if self.region is not None and region != self.region:
            return False
        if self.runs is not None and run not in self.runs:
            return False
        return self.times is None or self.hits < self.times

    @property
    def effect(self):
        """The name of what this fault does besides latency, or None."""
        if self.drop:
            return "drop"
        if self.status is not None and self.body is None and not self.has_json:
            return "status"
        flags = (("body", self.body is not None), ("json", self.has_json), ("strip", bool(self.strip)),
                 ("endless", self.endless), ("drop_after_handling", self.drop_after_handling))
        for name, present in flags:
            if present:
                return name
        return None


class FaultPlan:
    def __init__(self, specs=None, seed=0):
        self._lock = threading.Lock()
        self.seed = seed
        self._streams = {}
        self.faults = []
        for index, spec in enumerate(specs or []):
            self.faults.append(Fault(spec, "sandbox.faults[%d]" % index))

    def add(self, **spec):
        fault = Fault(spec)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self):
        with self._lock:
            self.faults = []

    def _stream(self, service, action, region, run):
        """The random generator of one (run, service, action, region)."""
        name = repr((self.seed, run, service, action, region))
        if name not in self._streams:
            digest = hashlib.sha256(name.encode("utf-8")).hexdigest()
            self._streams[name] = random.Random(int(digest[:16], 16))
        return self._streams[name]

    def pick(self, service, action, region, run):
        """The faults that hit this request: every latency fault, and the first one with an effect.

        A fault counts a hit (for ``times``) only when it applies.
        """
        picked = []
        effect_taken = False
        with self._lock:
            draws = self._stream(service, action, region, run)
            for fault in self.faults:
                if not fault.matches(service, action, region, run):
                    continue
                has_effect = fault.effect is not None
                if has_effect and effect_taken:
                    continue
                if fault.probability is not None and draws.random() >= fault.probability:
                    continue
                effect_taken = effect_taken or has_effect
                fault.hits += 1
                picked.append(fault)
        return picked


def strip_paths(document, paths):
    """``document`` (parsed JSON) with the dotted ``paths`` removed, in place; missing paths are skipped."""
    for path in paths:
        _strip(document, path.split("."))
    return document


def _strip(node, parts):
    head, rest = parts[0], parts[1:]
    if isinstance(node, list):
        if head == "*":
            targets = list(range(len(node)))
        elif head.lstrip("-").isdigit() and -len(node) <= int(head) < len(node):
            targets = [int(head)]
        else:
            return
        if not rest:
            for index in sorted(targets, reverse=True):
                del node[index]
            return
        for index in targets:
            _strip(node[index], rest)
    elif isinstance(node, dict) and head in node:
        if rest:
            _strip(node[head], rest)
        else:
            del node[head]
