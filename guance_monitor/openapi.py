"""The Guance OpenAPI client: node resolution, the ``DF-API-KEY`` header, retries, errors.

One ``GuanceOpenAPI`` per run, shared by registration, event reporting and
DQL queries. Transient failures (connection errors, timeouts, HTTP 429 and
5xx) are retried with backoff inside the run's deadline; a server's
``Retry-After`` is honoured. Errors raised from here never carry the key.
"""
import json

import requests

from guance_monitor import redact
from guance_monitor import retry

# The documented Guance sites (DataFlux Func's guance-node-urls.json): node key -> OpenAPI base URL.
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


class GuanceAPIError(Exception):
    """A Guance OpenAPI call failed; the text names the path, status and server message."""

    def __init__(self, path, status=None, code=None, message=None, transient=None):
        self.path = path
        self.status = status
        self._transient = transient
        self.code = code
        self.message = message
        parts = ["Guance OpenAPI %s failed" % path]
        if status is not None:
            parts.append("HTTP %s" % status)
        if code:
            parts.append(str(code))
        if message:
            parts.append(str(message)[:300])
        Exception.__init__(self, redact.redact(": ".join([parts[0], ", ".join(parts[1:])])
                                               if len(parts) > 1 else parts[0]))

    @property
    def transient(self):
        if self._transient is not None:
            return self._transient
        return self.status is None or self.status == 429 or self.status >= 500


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


class GuanceOpenAPI(object):
    """A small client over ``requests`` for the OpenAPI endpoints the inspections use."""

    def __init__(self, api_key_id, api_key, guance_node=None, deadline=None, session=None):
        for name, value in (("api_key_id", api_key_id), ("api_key", api_key)):
            if not isinstance(value, str) or not value.strip():
                raise GuanceConfigError(
                    "the account's %s is empty: fill in your Guance API key (管理 / API Key 管理) "
                    "in the startup script's account" % name)
        # The key ID authenticates the requests (it is the DF-API-KEY header), so both are secret.
        self.api_key_id = redact.register_secret(api_key_id.strip())
        self.api_key = redact.register_secret(api_key.strip())
        self.base_url = resolve_node(guance_node)
        self.deadline = deadline or retry.Deadline(None)
        self.session = session or requests.Session()
        self._workspace = None
        self.calls = 0

    # -- transport -------------------------------------------------------------------------

    def request(self, method, path, params=None, body=None, attempts=4, check=None):
        """Send one request (retrying transient failures); return the envelope's ``content``.

        ``check(content)`` may raise GuanceAPIError for a failure the envelope does
        not show (an outer function's own error); a transient one is retried too.
        """
        url = self.base_url + path

        def once():
            self.calls += 1
            try:
                response = self.session.request(
                    method, url, params=params,
                    data=None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8"),
                    headers={"DF-API-KEY": self.api_key_id,
                             "Content-Type": "application/json;charset=UTF-8"},
                    timeout=(self.deadline.cap(CONNECT_TIMEOUT), self.deadline.cap(READ_TIMEOUT)))
            except requests.RequestException as exc:
                raise GuanceAPIError(path, message=_network_reason(exc))
            content = _unwrap(path, response)
            if check is not None:
                check(content)
            return content

        def classify(exc):
            if isinstance(exc, GuanceAPIError) and exc.transient:
                return True, getattr(exc, "retry_after", None)
            return False, None

        return retry.call(once, classify, self.deadline, attempts=attempts)

    def get(self, path, **params):
        return self.request("GET", path, params=params)

    def post(self, path, body):
        return self.request("POST", path, body=body)

    # -- workspace -------------------------------------------------------------------------

    def workspace(self):
        """``{uuid, token, language, ...}`` of the key's workspace (fetched once per client)."""
        if self._workspace is None:
            content = self.get("/api/v1/workspace/get") or {}
            if not content.get("uuid") or not content.get("token"):
                raise GuanceAPIError("/api/v1/workspace/get", message="workspace uuid or token missing")
            redact.register_secret(content["token"])
            self._workspace = content
        return self._workspace

    # -- outer functions -------------------------------------------------------------------

    def execute_outer_function(self, func_id, kwargs, attempts=4):
        """Run a Guance outer function; its ``result``, or GuanceAPIError when it failed."""
        path = "/api/v1/outer_function/execute"
        body = {"funcId": func_id, "funcBody": {"kwargs": kwargs, "options": {"returnType": "json"}}}

        def check(content):
            error = (content or {}).get("error")
            if isinstance(error, (int, float)) and error > 200:
                # The function ran and failed (e.g. 599.3 EFuncFailed): 5xx-like errors may pass.
                raise GuanceAPIError(path, status=500 if error >= 500 else 400,
                                     code=content.get("message"),
                                     message="%s returned error %s %s" % (
                                         func_id, error, content.get("detail") or ""))

        content = self.request("POST", path, body=body, attempts=attempts, check=check) or {}
        return (content.get("data") or {}).get("result")


def _network_reason(exc):
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed (%s)" % type(exc).__name__
    return type(exc).__name__


def _unwrap(path, response):
    """The envelope's content, or GuanceAPIError with the server's code and message."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.status_code >= 400 or not isinstance(payload, dict) or payload.get("success") is False:
        code = message = None
        if isinstance(payload, dict):
            code = payload.get("errorCode")
            message = payload.get("message")
        elif response.text:
            message = response.text[:200]
        # A refusal inside a 200 answer (success: false) is final, not transient.
        error = GuanceAPIError(path, status=response.status_code if response.status_code >= 400 else None,
                               code=code, message=message,
                               transient=None if response.status_code >= 400 else False)
        error.retry_after = _retry_after(response)
        raise error
    return payload.get("content")


def _retry_after(response):
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
