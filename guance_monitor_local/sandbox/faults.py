"""Fault injection: make chosen requests slow, fail or vanish.

A fault is a dict (in a scenario's ``sandbox.faults`` list, or given to
``FaultPlan.add``)::

    {"service": "guance",                  # guance | ecs | cms | *   (default *)
     "action": "/api/v1/outer_function/execute",   # path or API action; * wildcards (default *)
     "region": "cn-beijing",               # Alibaba Cloud region (default: any)
     "runs": [0],                          # run indexes it is active in (default: all)
     "times": 2,                           # how many matching requests it hits (default: all)
     "latency_ms": 300,                    # added delay before answering
     "status": 503,                        # answer with this HTTP status instead ...
     "code": "ServiceUnavailable",         # ... this error code (service's error format)
     "message": "...",
     "retry_after": 1.5,                   # Retry-After (Guance) / x-acs-retry-after (Alibaba Cloud)
     "drop": true,                         # close the connection without an answer
     "drop_after_handling": true}          # handle the request, then close without an answer
                                           # (the client cannot tell whether it arrived)

Latency combines with the other effects; ``drop`` wins over ``status``, which
wins over ``drop_after_handling``.
"""
import fnmatch
import threading

_KNOWN = {"service", "action", "region", "runs", "times", "latency_ms", "status", "code",
          "message", "retry_after", "drop", "drop_after_handling", "note"}


class FaultError(ValueError):
    pass


class Fault(object):
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
        if self.status is not None and not (isinstance(self.status, int) and 400 <= self.status <= 599):
            raise FaultError("%s.status: expected an HTTP error status 400-599, got %r" % (where, self.status))
        if self.times is not None and not (isinstance(self.times, int) and self.times >= 0):
            raise FaultError("%s.times: expected a count >= 0, got %r" % (where, self.times))
        if self.runs is not None and not (isinstance(self.runs, list) and all(isinstance(r, int) for r in self.runs)):
            raise FaultError("%s.runs: expected a list of run indexes, got %r" % (where, self.runs))
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


class FaultPlan(object):
    def __init__(self, specs=None):
        self._lock = threading.Lock()
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

    def pick(self, service, action, region, run):
        """The faults that apply to this request: every latency fault, and the first one with an effect.

        A fault counts a hit (for ``times``) only when it applies.
        """
        picked = []
        effect_taken = False
        with self._lock:
            for fault in self.faults:
                if not fault.matches(service, action, region, run):
                    continue
                has_effect = fault.drop or fault.status is not None or fault.drop_after_handling
                if has_effect and effect_taken:
                    continue
                effect_taken = effect_taken or has_effect
                fault.hits += 1
                picked.append(fault)
        return picked
