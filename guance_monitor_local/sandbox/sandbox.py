"""The sandbox: Guance OpenAPI, ECS and CMS on one loopback port, answering from a scenario.

    with Sandbox(scenario) as sandbox:
        sandbox.set_run(0)                 # the scenario clock reads runs[0]
        ... point clients at sandbox.url ...
        sandbox.events, sandbox.calls      # what was reported, what was served

Everything a client sends is checked the way the real service checks it
(``DF-API-KEY``; ACS3-HMAC-SHA256 signatures) and answered in the real wire
format. Faults from ``scenario.sandbox["faults"]`` or ``sandbox.faults.add``
(drawn with ``scenario.sandbox["fault_seed"]``) act around dispatch, as
``sandbox.faults`` describes; a service reads the effects in force for the
request it is handling with ``sandbox.effect(name)`` (``endless``).

The clock: held at a run (``set_run``, ``set_now``), or the real clock
(``follow_real_time``: the run index is then the last run whose time has
come, so a scenario moved to now plays its runs as real time reaches them).

What arrived is visible outside the process: ``GET /_sandbox/calls`` and
``GET /_sandbox/events`` (optionally ``?since=N`` to skip the first N rows)
answer the rows of ``journal`` (read-only, not logged as calls), and a
``journal.Journal`` given as ``journal=`` gets every row as it happens.
"""
import copy
import json
import threading
import time

from guance_monitor import clock
from guance_monitor_local.sandbox import http
from guance_monitor_local.sandbox import journal as journals
from guance_monitor_local.sandbox.faults import FaultPlan, strip_paths

OWN_PREFIX = "/_sandbox/"


class Sandbox:
    def __init__(self, scenario, host="127.0.0.1", port=0, services=None, journal=None):
        self.scenario = scenario
        self.host = host
        self.port = port
        self.faults = FaultPlan(scenario.sandbox.get("faults") or [], seed=scenario.sandbox.get("fault_seed", 0))
        self._request = threading.local()   # the fault effects of the request this thread handles
        self.calls = []          # [{service, action, status, region, run, at_ms[, fault]}]
        self.journal = journal   # journal.Journal, or None
        self._run_index = None   # index into scenario.runs, or None outside runs
        self._following = False
        self._now_ms = None
        self._held_at = 0.0        # clock.slept() when the time was held
        self._lock = threading.Lock()
        self._server = None
        self.services = services if services is not None else self._default_services()

    def _default_services(self):
        from guance_monitor_local.sandbox.guance import GuanceService
        services = [GuanceService(self)]
        try:
            from guance_monitor_local.sandbox.aliyun import AliyunService
        except ImportError:  # the Alibaba Cloud emulator is optional for Guance-only use
            return services
        return services + AliyunService.for_sandbox(self)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self):
        if self._server is None:
            self._server = http.serve(self.dispatch, self.host, self.port)
            self.port = self._server.server_address[1]
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    @property
    def endpoint(self):
        """``host:port`` for the Alibaba Cloud SDK's ``endpoint`` (with ``protocol='http'``)."""
        return "%s:%d" % (self.host, self.port)

    # -- the scenario clock ----------------------------------------------------------------

    def set_run(self, index):
        """Enter run ``index``: the sandbox clock reads ``scenario.runs[index]``."""
        self._following = False
        self._run_index = index
        self.set_now(self.scenario.runs[index])

    def set_now(self, when):
        self._now_ms = clock.to_ms(clock.parse_time(when))
        self._held_at = clock.slept()

    def running_ms(self):
        """The held time plus what was slept through the clock since (as a held wall clock moves): rate windows."""
        if self._now_ms is None:
            return clock.to_ms(clock.now())
        return self._now_ms + int((clock.slept() - self._held_at) * 1000)

    def follow_real_time(self):
        """The clock reads the real time; the run is the last one whose time has come."""
        self._following = True
        self._now_ms = None

    def now_ms(self):
        return self._now_ms if self._now_ms is not None else clock.to_ms(clock.now())

    @property
    def run_index(self):
        """The index of the current run in ``scenario.runs``, or None outside runs."""
        if self._following:
            return current_run(self.scenario.runs, self.now_ms())
        return self._run_index

    @run_index.setter
    def run_index(self, index):
        self._run_index = index

    # -- what happened ---------------------------------------------------------------------

    def service(self, name):
        for one in self.services:
            if one.name == name:
                return one
        raise KeyError(name)

    @property
    def events(self):
        """Events received through ``outer_function/execute`` (and ``events/create``)."""
        return self.service("guance").events

    def calls_of(self, service=None, action=None):
        return [c for c in self.calls
                if (service is None or c["service"] == service) and (action is None or c["action"] == action)]

    def event_received(self, event):
        """Called by the Guance service for each event it accepted."""
        if self.journal is not None:
            self.journal.event(journals.event_row(event, self.scenario.runs))

    def call_rows(self):
        with self._lock:
            return [journals.call_row(call) for call in self.calls]

    def event_rows(self):
        return [journals.event_row(event, self.scenario.runs) for event in list(self.events)]

    # -- dispatch --------------------------------------------------------------------------

    def dispatch(self, request):
        if request.path.startswith(OWN_PREFIX):
            return self.own_endpoint(request)
        for service in self.services:
            identified = service.identify(request)
            if identified is not None:
                action, region = identified
                break
        else:
            response = http.Response(404, {"code": 404, "errorCode": "Sandbox.NotFound", "success": False,
                                           "message": "the sandbox does not serve %s %s"
                                                      % (request.method, request.path)})
            self._record("unknown", request.path, response.status, None, None)
            return response

        faults = self.faults.pick(service.name, action, region, self.run_index)
        latency = sum(f.latency_ms for f in faults)
        if latency:
            time.sleep(latency / 1000.0)
        effect = ([f for f in faults if f.effect is not None] or [None])[0]
        label = effect.effect if effect is not None else ("latency" if faults else None)
        if label == "drop":
            self._record(service.name, action, "dropped", region, label)
            raise http.DropConnection()
        if label == "status":
            response = service.error(request, effect.status, effect.code, effect.message,
                                     retry_after=effect.retry_after)
            self._record(service.name, action, response.status, region, label)
            return response
        self._request.endless = effect is not None and effect.endless
        try:
            response = service.handle(request, action)
        except Exception as exc:  # noqa: BLE001 - a sandbox bug must not look like a silent answer
            response = service.error(request, 500, "Sandbox.InternalError", "%s: %s" % (type(exc).__name__, exc))
        finally:
            self._request.endless = False
        if effect is not None:
            response = self._mangle(response, effect)
            if effect.drop_after_handling:
                self._record(service.name, action, "dropped-after-handling", region, label)
                raise http.DropConnection()
        self._record(service.name, action, response.status, region, label)
        return response

    def effect(self, name):
        """The value of fault effect ``name`` (``endless``) for the request this thread is handling."""
        return getattr(self._request, name, False)

    @staticmethod
    def _mangle(response, fault):
        """The real answer as the fault turns it: keys stripped, or replaced by other JSON or text."""
        if fault.strip:
            body = copy.deepcopy(response.body)
            if isinstance(body, bytes):
                try:
                    body = json.loads(body.decode("utf-8"))
                except ValueError:
                    body = None
            if isinstance(body, (dict, list)):
                response.body = strip_paths(body, fault.strip)
        if fault.body is not None:
            headers = dict(response.headers, **{"Content-Type": "text/html;charset=UTF-8"})
            return http.Response(fault.status or 200, fault.body.encode("utf-8"), headers)
        if fault.has_json:
            return http.Response(fault.status or 200, json.dumps(fault.json).encode("utf-8"), response.headers)
        return response

    def _record(self, service, action, status, region, fault):
        call = {"service": service, "action": action, "status": status, "region": region, "run": self.run_index,
                "at_ms": self.running_ms()}
        if fault is not None:
            call["fault"] = fault
        with self._lock:
            self.calls.append(call)
            if self.journal is not None:
                self.journal.call(journals.call_row(call))

    # -- what arrived, for a user outside the process --------------------------------------

    def own_endpoint(self, request):
        """``GET /_sandbox/calls`` and ``/_sandbox/events``: the rows so far (``?since=N``: from row N)."""
        rows_of = {"calls": self.call_rows, "events": self.event_rows}
        name = request.path[len(OWN_PREFIX):].strip("/")
        if name not in rows_of:
            return http.Response(404, {"error": "no such sandbox endpoint: %s; there are %s" % (
                request.path, ", ".join(OWN_PREFIX + n for n in sorted(rows_of)))})
        if request.method != "GET":
            return http.Response(405, {"error": "%s is read-only: use GET" % request.path}, {"Allow": "GET"})
        since = request.query.get("since") or "0"
        if not since.isdigit():
            return http.Response(400, {"error": "since: expected a row count, got %r" % since})
        return http.Response(200, rows_of[name]()[int(since):])


def current_run(runs, now_ms):
    """The index of the last run at or before ``now_ms``; None before the first."""
    index = None
    for position, when in enumerate(runs):
        if clock.to_ms(when) <= now_ms:
            index = position
    return index
