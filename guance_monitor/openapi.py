"""The Guance OpenAPI client: node resolution, the ``DF-API-KEY`` header, pacing, retries, errors.

One ``GuanceOpenAPI`` per run, shared by registration, event reporting and DQL. Every
request (retries included) first takes a slot from the key's ``Pacer``, so that all our
inspections on one key stay within Guance's 20 requests a minute.

Every failure is a ``GuanceAPIError`` whose ``kind`` says what the caller may conclude:

======================  =========================================================  =====================
kind                    when                                                       may have arrived?
======================  =========================================================  =====================
``unsent``              no connection could be made (refused, connect timeout)     no
``network``             the connection broke or timed out after the request left   maybe
``unavailable``         HTTP 5xx with Guance's own envelope: the service answered  no
                        that it failed
``server``              HTTP 5xx without the envelope (a gateway's page: 502, 504  maybe
                        may hide a backend that did the work), or an outer
                        function that failed otherwise than refusing its input
``malformed``           a 2xx answer that is not the OpenAPI envelope              maybe
``rate_limited``        HTTP 401 ``ft.TriggerApi*CurrentLimiting``, HTTP 429       no
``budget``              our pacer found no request slot within the time left       no
``account``             HTTP 401/403 otherwise (``ft.InvalidAPIKey``...)           no
``refused``             another 4xx with Guance's error code, ``success: false``,  no (definite)
                        an outer function's ``EFuncFailed`` (invalid input)
======================  =========================================================  =====================

``unsent``, ``network``, ``unavailable``, ``server``, ``malformed`` and ``rate_limited``
are retried inside the run's deadline (a server's ``Retry-After`` honoured; a rate-limit answer also holds
the whole key's pacer); the others are not. Errors never carry the key.
"""
import json

import requests

from guance_monitor import pacer as pacing
from guance_monitor import redact
from guance_monitor import retry

# The documented Guance sites (DataFlux Func's guance-node-urls.json): node key -> OpenAPI base URL.
# ``cn3`` is in Func's list but not in Guance's OpenAPI index (README: "Guance nodes").
NODES = {
    "default": "https://openapi.guance.com",
    "aws": "https://aws-openapi.guance.com",
    "cn3": "https://cn3-openapi.guance.com",
    "cn4": "https://cn4-openapi.guance.com",
    "cn5": "https://cn5-openapi.guance.com",
    "cn6": "https://cn6-openapi.guance.one",
    "us1": "https://us1-openapi.guance.com",
    "eu1": "https://eu1-openapi.guance.one",
    "ap1": "https://ap1-openapi.guance.one",
}

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 20.0
RATE_LIMIT_CODES = ("ft.TriggerApiAkCurrentLimiting", "ft.TriggerApiWorkspaceCurrentLimiting")
RATE_LIMIT_WAIT_S = 60.0          # no Retry-After: the documented window is a minute
RETRIED = ("unsent", "network", "unavailable", "server", "malformed", "rate_limited")
NOT_ARRIVED = ("unsent", "unavailable", "rate_limited")
MAYBE_ARRIVED = ("network", "server", "malformed")


class GuanceAPIError(Exception):
    """A Guance OpenAPI call failed; the text names the path, status and server message."""

    def __init__(self, path, kind, status=None, code=None, message=None, retry_after=None):
        self.path = path
        self.kind = kind
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        details = [str(x) for x in ("HTTP %s" % status if status is not None else None, code,
                                    str(message)[:300] if message else None) if x]
        text = "Guance OpenAPI %s failed" % path
        if details:
            text += ": " + ", ".join(details)
        Exception.__init__(self, redact.redact(text))

    @property
    def transient(self):
        """Worth trying again (now, or on a later run)."""
        return self.kind in RETRIED or self.kind == "budget"

    @property
    def maybe_arrived(self):
        """The request may have reached Guance and taken effect although no answer says so."""
        return self.kind in MAYBE_ARRIVED

    @property
    def refused(self):
        """Guance definitely refused this request (it will refuse it again)."""
        return self.kind == "refused"

    @property
    def rate_limited(self):
        return self.kind in ("rate_limited", "budget")


class GuanceConfigError(ValueError):
    """The account (key, node) is unusable; the text says what to fix."""


def resolve_node(guance_node):
    """The OpenAPI base URL for a node key, ``None``/``""`` (default site) or a full URL."""
    if guance_node is None:
        return NODES["default"]
    if not isinstance(guance_node, str):
        raise GuanceConfigError("guance_node must be a node key or a URL, got %r" % (guance_node,))
    node = guance_node.strip()
    if not node:
        return NODES["default"]
    if node.startswith(("http://", "https://")):
        return node.rstrip("/")
    if node.lower() in NODES:
        return NODES[node.lower()]
    raise GuanceConfigError(
        "unknown guance_node %r: use one of %s, leave it empty for the default site, "
        "or give the OpenAPI URL of a private deployment" % (node, ", ".join(sorted(NODES))))


def node_key(guance_node):
    """The node key (``default``, ``us1``...) of an account's node, or None for a URL."""
    if guance_node is None or (isinstance(guance_node, str) and not guance_node.strip()):
        return "default"
    text = str(guance_node).strip().lower()
    return text if text in NODES else None


class GuanceOpenAPI:
    """A small client over ``requests`` for the OpenAPI endpoints the inspections use."""

    def __init__(self, api_key_id, api_key, guance_node=None, deadline=None, session=None, pacer=None):
        for name, value in (("api_key_id", api_key_id), ("api_key", api_key)):
            if not isinstance(value, str) or not value.strip():
                raise GuanceConfigError(
                    "the account's %s is empty: fill in your Guance API key (管理 / API Key 管理) "
                    "in the startup script's account" % name)
        # The key ID authenticates the requests (it is the DF-API-KEY header), so both are secret.
        self.api_key_id = redact.register_secret(api_key_id.strip())
        self.api_key = redact.register_secret(api_key.strip())
        self.guance_node = guance_node
        self.base_url = resolve_node(guance_node)
        self.deadline = deadline or retry.Deadline(None)
        self.session = session or requests.Session()
        self.pacer = pacer
        self.calls = 0
        self.calls_by_path = {}

    # -- transport -------------------------------------------------------------------------

    def request(self, method, path, params=None, body=None, attempts=4, deadline=None, retry_kinds=RETRIED,
                expect=None):
        """Send one request; return the envelope's ``content``.

        Failures of a kind in ``retry_kinds`` are retried inside the deadline: all of
        ``RETRIED`` for reads, only those that certainly did not arrive for a request
        that must not take effect twice. ``expect(content)`` says why a well-formed answer
        is still not the one expected (``None`` when it is): such an answer is ``malformed``,
        retried like one.
        """
        url = self.base_url + path
        deadline = deadline or self.deadline
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")

        def once():
            if self.pacer is not None:
                try:
                    self.pacer.acquire(deadline)
                except pacing.RateBudgetExhausted as exc:
                    raise GuanceAPIError(path, "budget", message=str(exc))
            self.calls += 1
            self.calls_by_path[path] = self.calls_by_path.get(path, 0) + 1
            try:
                response = self.session.request(
                    method, url, params=params, data=data,
                    headers={"DF-API-KEY": self.api_key_id, "Content-Type": "application/json;charset=UTF-8"},
                    timeout=(deadline.cap(CONNECT_TIMEOUT), deadline.cap(READ_TIMEOUT)))
            except requests.RequestException as exc:
                raise GuanceAPIError(path, _network_kind(exc), message=_network_reason(exc))
            try:
                content = unwrap(path, response)
            except GuanceAPIError as exc:
                if exc.kind == "rate_limited" and self.pacer is not None:
                    self.pacer.penalize(exc.retry_after or RATE_LIMIT_WAIT_S)
                raise
            problem = expect(content) if expect is not None else None
            if problem:
                raise GuanceAPIError(path, "malformed", status=response.status_code, message=problem)
            return content

        def classify(exc):
            if isinstance(exc, GuanceAPIError) and exc.kind in retry_kinds:
                if exc.kind == "rate_limited" and self.pacer is not None:
                    return True, 0.0          # the pacer holds the requests until the window frees
                return True, exc.retry_after
            return False, None

        return retry.call(once, classify, deadline, attempts=attempts)

    def get(self, path, **params):
        return self.request("GET", path, params=params)

    def post(self, path, body, **kwargs):
        return self.request("POST", path, body=body, **kwargs)

    # -- workspace -------------------------------------------------------------------------

    def workspace(self):
        """``{uuid, token, language, ...}`` of the key's workspace (``GET /api/v1/workspace/get``)."""
        content = self.get("/api/v1/workspace/get")
        if not isinstance(content, dict) or not content.get("uuid") or not content.get("token"):
            raise GuanceAPIError("/api/v1/workspace/get", "malformed", message="workspace uuid or token missing")
        redact.register_secret(content["token"])
        return content

    # -- outer functions -------------------------------------------------------------------

    def execute_outer_function(self, func_id, kwargs, attempts=3, deadline=None):
        """Run a Guance outer function (no ``options``: its documented default); ``content.data.result``.

        Only failures that certainly did not reach the function are retried here; the
        caller decides what to do about one that may have (``maybe_arrived``).
        """
        path = "/api/v1/outer_function/execute"
        content = self.request("POST", path, body={"funcId": func_id, "funcBody": {"kwargs": kwargs}},
                               attempts=attempts, deadline=deadline, retry_kinds=NOT_ARRIVED)
        failure = outer_function_failure(path, func_id, content)
        if failure is not None:
            raise failure
        data = content.get("data") if isinstance(content, dict) else None
        return data.get("result") if isinstance(data, dict) else None


def outer_function_failure(path, func_id, content):
    """The GuanceAPIError for an outer function that ran and failed, or None.

    The documented failure is ``content.error`` 599.3, ``reason: EFuncFailed``,
    ``message: Calling Function failed`` with ``content.detail.einfoTEXT`` — the
    function refused its input: ``refused``. A function that timed out on the
    server may have done its work: ``server``. An answer without ``error`` is
    a success, whatever else it holds.
    """
    if not isinstance(content, dict):
        return None
    error = content.get("error")
    if isinstance(error, bool) or not isinstance(error, (int, float)) or error <= 200:
        return None
    reason = content.get("reason") or ""
    detail = content.get("detail")
    info = detail.get("einfoTEXT") if isinstance(detail, dict) else detail
    text = "%s: error %s %s%s" % (func_id, error, content.get("message") or "", " (%s)" % info if info else "")
    kind = "refused" if reason == "EFuncFailed" or 400 <= error < 500 else "server"
    return GuanceAPIError(path, kind, code=reason or None, message=text)


def _network_kind(exc):
    if isinstance(exc, requests.ConnectTimeout):
        return "unsent"
    if isinstance(exc, requests.ConnectionError):
        text = repr(exc)
        if "NewConnectionError" in text or "Connection refused" in text or "Failed to establish" in text:
            return "unsent"
    return "network"


def _network_reason(exc):
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed (%s)" % type(exc).__name__
    return type(exc).__name__


def unwrap(path, response):
    """The envelope's content, or GuanceAPIError of the right kind."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    status = response.status_code
    code = message = None
    if isinstance(payload, dict):
        code = payload.get("errorCode") or None
        message = payload.get("message") or None
    elif response.text:
        message = " ".join(response.text[:200].split())
    retry_after = _retry_after(response)
    if status >= 400:
        if code in RATE_LIMIT_CODES or status == 429:
            kind = "rate_limited"
        elif status >= 500:
            kind = "unavailable" if isinstance(payload, dict) and ("errorCode" in payload or "success" in payload) \
                else "server"
        elif status in (401, 403):
            kind = "account"
        elif code:
            kind = "refused"
        else:
            kind = "malformed"       # a 4xx without Guance's envelope: a proxy, not Guance
        raise GuanceAPIError(path, kind, status=status, code=code, message=message, retry_after=retry_after)
    if not isinstance(payload, dict) or "success" not in payload and "content" not in payload:
        raise GuanceAPIError(path, "malformed", status=status, message=message or "the answer is not JSON")
    if payload.get("success") is False:
        kind = "rate_limited" if code in RATE_LIMIT_CODES else "refused"
        raise GuanceAPIError(path, kind, status=status, code=code, message=message, retry_after=retry_after)
    return payload.get("content")


def _retry_after(response):
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
