"""HTTP plumbing of the sandbox: the request/response objects services see, and the server.

A *service* (Guance OpenAPI, ECS, CMS) is an object with:

- ``name``: ``"guance"``, ``"ecs"``, ``"cms"``;
- ``identify(request)`` -> ``(action, region)`` when the request is for it, else ``None``;
  ``action`` is the OpenAPI path for Guance and the API action for Alibaba Cloud;
- ``handle(request, action)`` -> ``Response``;
- ``error(request, status, code, message, headers=None)`` -> ``Response`` in the
  service's own error format (used for injected faults).

The server asks each service in turn, applies the fault plan, dispatches, and
appends ``{service, action, status, region, run}`` to the call log. A client that went away
before its answer (it timed out) is not reported as a server error.
"""
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


class Request:
    def __init__(self, method, target, headers, body):
        split = urlsplit(target)
        self.method = method.upper()
        self.target = target
        self.path = split.path or "/"
        self.raw_query = split.query
        self.query = dict(parse_qsl(split.query, keep_blank_values=True))
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body or b""

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def json(self):
        """The body as JSON; ValueError when it is not."""
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))


class Response:
    def __init__(self, status=200, body=None, headers=None):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def encode(self):
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class DropConnection(Exception):
    """Raised by the fault plan: close the socket without answering."""


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, dispatcher):
        self.dispatcher = dispatcher
        ThreadingHTTPServer.__init__(self, address, _Handler)

    def handle_error(self, request, client_address):
        """A client that went away before its answer (it timed out, as clients do) is not a sandbox error:
        nothing is printed. Anything else is, as ``socketserver`` does."""
        if isinstance(sys.exc_info()[1], CLIENT_GONE):
            return
        ThreadingHTTPServer.handle_error(self, request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Small answers would otherwise wait for the client's delayed ACK (~40 ms each).
    disable_nagle_algorithm = True
    server_version = "guance-monitor-sandbox"

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, self.path, dict(self.headers.items()), body)
        try:
            response = self.server.dispatcher(request)
        except DropConnection:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        payload = response.encode()
        self.send_response(response.status)
        headers = {"Content-Type": "application/json;charset=UTF-8"}
        headers.update(response.headers)
        for key, value in headers.items():
            self.send_header(key, str(value))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve

    def log_message(self, *args):  # the call log replaces the access log
        pass


def serve(dispatcher, host="127.0.0.1", port=0):
    """Start a server thread; returns the server (``server.server_address[1]`` is the port)."""
    server = SandboxHTTPServer((host, port), dispatcher)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="sandbox-http", daemon=True)
    thread.start()
    return server
