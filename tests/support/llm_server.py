"""A loopback OpenAI-compatible chat-completions server for tests.

Judges call ``litellm.completion`` over real HTTP; tests point them at this server instead of a
provider, so nothing leaves the machine and no API key is needed::

    with LLMServer() as server:
        server.script(verdict("no", "off topic"), status(429, retry_after=1))
        litellm.completion(model="openai/judge-test", api_base=server.base_url, api_key="sk-x", ...)
        assert server.requests[0].body["messages"][0]["content"] == "..."

Each request takes the next scripted reply; when the script is empty, the ``respond_with``
handler answers, then ``default``. Every GET/POST/PUT/PATCH/DELETE request, to any path, is
recorded in ``requests`` before it is answered.

The server speaks HTTP/1.1 with keep-alive (the OpenAI SDK pools connections through httpx).
Plain answers carry a Content-Length; streamed answers (``"stream": true`` in the request body)
use chunked transfer encoding with OpenAI's Server-Sent Events chunk format.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import select
import socket
import socketserver
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_REPLY",
    "MODEL_ID",
    "LLMServer",
    "Recorded",
    "Reply",
    "garbage_body",
    "ok",
    "reject_response_format",
    "stall",
    "status",
    "text",
    "truncated",
    "verdict",
]

ReplyKind = Literal["ok", "status", "stall", "reject_response_format", "garbage"]

#: Model id served by ``GET /v1/models`` and echoed when a request names no model.
MODEL_ID = "judge-test"

# Errors a client may raise while the server writes to a connection it has given up on.
_DISCONNECTED = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)

# OpenAI-style (type, code) for the error body of each status; others fall back by class.
_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    408: ("timeout", "timeout"),
    409: ("invalid_request_error", "conflict"),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", "bad_gateway"),
    503: ("server_error", "service_unavailable"),
    504: ("server_error", "gateway_timeout"),
}


@dataclass(frozen=True)
class Recorded:
    """One request the server received."""

    path: str
    """Request target as sent, e.g. ``/v1/chat/completions``."""
    headers: dict[str, str]
    """Request headers, names lower-cased."""
    body: dict[str, Any]
    """Parsed JSON body (``{}`` for an empty or unparsable body)."""
    received_at: float
    """``time.monotonic()`` when the request line and body had been read."""
    method: str = "POST"

    @property
    def prompt_text(self) -> str:
        """All message contents (string content and text parts) joined by newlines."""
        parts: list[str] = []
        for message in self.body.get("messages") or []:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(
                    str(part.get("text", ""))
                    for part in content
                    if isinstance(part, dict) and part.get("type") == "text"
                )
        return "\n".join(parts)


@dataclass(frozen=True)
class Reply:
    """What the server answers to one request; build it with the module-level constructors."""

    kind: ReplyKind
    content: str = ""
    prompt_tokens: int = 11
    completion_tokens: int = 7
    finish_reason: str = "stop"
    model: str | None = None
    status: int = 200
    retry_after: float | None = None
    message: str | None = None
    seconds: float = 0.0
    then: Reply | None = None
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def ok(
    content: str,
    *,
    prompt_tokens: int = 11,
    completion_tokens: int = 7,
    finish_reason: str = "stop",
    model: str | None = None,
) -> Reply:
    """A normal chat completion whose assistant message is ``content``.

    ``model`` defaults to echoing the request's model.
    """
    return Reply(
        kind="ok",
        content=content,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        finish_reason=finish_reason,
        model=model,
    )


def verdict(result: object, rationale: str = "scripted verdict") -> Reply:
    """A completion whose content is the JSON object ``{"result": ..., "rationale": ...}``."""
    return ok(json.dumps({"result": result, "rationale": rationale}))


def status(
    code: int,
    *,
    retry_after: float | None = None,
    message: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """An HTTP error ``code`` with an OpenAI-style error body.

    ``retry_after`` (seconds) is sent as a ``Retry-After`` header, e.g. ``"2"`` or ``"0.5"``;
    ``headers`` adds any others (e.g. ``{"retry-after-ms": "250"}``). Mind that litellm picks
    its exception class partly from ``message``: "rate limit" in it makes a RateLimitError.
    """
    if not 400 <= code <= 599:
        raise ValueError(f"status() takes an HTTP error code (400-599), not {code}")
    return Reply(
        kind="status",
        status=code,
        retry_after=retry_after,
        message=message,
        headers=tuple((headers or {}).items()),
    )


def stall(seconds: float, then: Reply | None = None) -> Reply:
    """Wait ``seconds`` before answering ``then`` (a default verdict), e.g. to outlast a timeout.

    If the client has gone away by then, the connection is dropped without an answer.
    """
    return Reply(kind="stall", seconds=seconds, then=then)


def text(
    content: str,
    *,
    prompt_tokens: int = 11,
    completion_tokens: int = 7,
    finish_reason: str = "stop",
    model: str | None = None,
) -> Reply:
    """Same as :func:`ok`; reads better for non-JSON prose content."""
    return ok(
        content,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        finish_reason=finish_reason,
        model=model,
    )


def truncated(content: str) -> Reply:
    """A completion cut off at the token limit (``finish_reason="length"``)."""
    return ok(content, finish_reason="length")


def reject_response_format(then: Reply) -> Reply:
    """Answer 400 "response_format not supported" if the request has one, else ``then``.

    Takes one script slot per request either way.
    """
    return Reply(kind="reject_response_format", then=then)


def garbage_body(
    body: bytes = b"<html><body>upstream proxy error</body></html>",
    *,
    content_type: str = "application/json",
) -> Reply:
    """HTTP 200 whose body is not JSON at all (by default while claiming to be JSON)."""
    return Reply(kind="garbage", body=body, content_type=content_type)


DEFAULT_REPLY = ok('{"result": "yes", "rationale": "default reply"}')
"""What an unscripted request gets, unless ``LLMServer.default`` is changed."""

_STALL_THEN = verdict("yes", "after stall")
_ids = itertools.count(1)


def _error_body(
    code: int, message: str | None, *, param: str | None = None, error_code: str | None = None
) -> dict[str, Any]:
    kind, default_code = _ERROR_KINDS.get(
        code, ("invalid_request_error" if code < 500 else "server_error", None)
    )
    return {
        "error": {
            "message": message or f"Simulated HTTP {code} from the test LLM server",
            "type": kind,
            "param": param,
            "code": error_code or default_code,
        }
    }


def _split(content: str, pieces: int = 3) -> list[str]:
    """Cut ``content`` into up to ``pieces`` non-empty parts (none for empty content)."""
    if not content:
        return []
    size = max(1, -(-len(content) // pieces))
    return [content[i : i + size] for i in range(0, len(content), size)]


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections would block server_close() forever
    owner: LLMServer

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name with getfqdn(); skip the DNS lookup.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: object, client_address: object) -> None:
        # Keep stderr quiet; a test can inspect LLMServer.errors instead.
        self.owner._errors.append(sys.exc_info()[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pytest-genai-llm-server/1"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests own stderr."""

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection)

    def finish(self) -> None:
        try:
            with contextlib.suppress(OSError):
                super().finish()
        finally:
            self.server.owner._untrack(self.connection)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # --- request handling -------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        owner = self.server.owner
        try:
            raw = self._read_body()
        except ValueError:
            self.close_connection = True
            self._send_json(400, _error_body(400, "Malformed request body"))
            return
        body, parse_error = _parse_json(raw)
        recorded = Recorded(
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            received_at=time.monotonic(),
            method=method,
        )
        owner._record(recorded)
        path = urlsplit(self.path).path.rstrip("/")
        try:
            if method == "GET" and path == "/v1/models":
                self._send_json(200, _models_body())
            elif method == "POST" and path == "/v1/chat/completions":
                if parse_error is not None:
                    self._send_json(400, _error_body(400, parse_error))
                    return
                reply = owner._next_reply(recorded)
                if owner._sleep(owner.latency):
                    self.close_connection = True
                    return
                self._serve(reply, recorded)
            else:
                self._send_json(404, _error_body(404, f"Unknown path {method} {self.path}"))
        except _DISCONNECTED:
            self.close_connection = True

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers, up to the blank line
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(length) if length else b""

    def _serve(self, reply: Reply, recorded: Recorded) -> None:
        owner = self.server.owner
        if reply.kind == "stall":
            if owner._sleep(reply.seconds) or self._client_gone():
                self.close_connection = True
                return
            self._serve(reply.then or _STALL_THEN, recorded)
        elif reply.kind == "reject_response_format":
            response_format = recorded.body.get("response_format")
            if response_format is not None:
                kind = (
                    response_format.get("type") if isinstance(response_format, dict) else None
                ) or "unknown"
                message = (
                    f"Invalid parameter: 'response_format' of type '{kind}' is not supported "
                    "with this model."
                )
                self._send_json(
                    400,
                    _error_body(
                        400, message, param="response_format", error_code="unsupported_parameter"
                    ),
                )
            else:
                self._serve(reply.then or DEFAULT_REPLY, recorded)
        elif reply.kind == "status":
            headers = dict(reply.headers)
            if reply.retry_after is not None:
                headers["Retry-After"] = f"{reply.retry_after:g}"
            self._send_json(reply.status, _error_body(reply.status, reply.message), headers)
        elif reply.kind == "garbage":
            self._send_bytes(200, reply.body, reply.content_type)
        elif recorded.body.get("stream") is True:
            self._send_stream(reply, recorded)
        else:
            self._send_json(200, _completion_body(reply, recorded))

    # --- writing ----------------------------------------------------------------------------

    def _client_gone(self) -> bool:
        """Whether the peer has closed its end (readable with nothing to read)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _send_json(self, code: int, payload: object, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(code, json.dumps(payload).encode(), "application/json", headers)

    def _send_bytes(
        self,
        code: int,
        data: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _send_stream(self, reply: Reply, recorded: Recorded) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        for event in _stream_events(reply, recorded):
            data = f"data: {event}\n\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.write(b"0\r\n\r\n")


def _parse_json(raw: bytes) -> tuple[dict[str, Any], str | None]:
    """The request body as a dict, and an error message if it is not a JSON object."""
    if not raw.strip():
        return {}, None
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return {}, f"Request body is not valid JSON: {exc}"
    if not isinstance(parsed, dict):
        return {}, "Request body must be a JSON object"
    return parsed, None


def _models_body() -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "pytest-genai"}],
    }


def _usage(reply: Reply) -> dict[str, int]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def _model(reply: Reply, recorded: Recorded) -> str:
    return reply.model or str(recorded.body.get("model") or MODEL_ID)


def _completion_body(reply: Reply, recorded: Recorded) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-test{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": _model(reply, recorded),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content},
                "logprobs": None,
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": _usage(reply),
    }


def _stream_events(reply: Reply, recorded: Recorded) -> Iterator[str]:
    """The SSE ``data:`` payloads of a streamed answer, ending with ``[DONE]``."""
    options = recorded.body.get("stream_options")
    include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
    base: dict[str, Any] = {
        "id": f"chatcmpl-test{next(_ids)}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": _model(reply, recorded),
    }

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
        event = {
            **base,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if include_usage:
            event["usage"] = None
        return json.dumps(event)

    yield chunk({"role": "assistant", "content": ""})
    for piece in _split(reply.content):
        yield chunk({"content": piece})
    yield chunk({}, reply.finish_reason)
    if include_usage:
        yield json.dumps({**base, "choices": [], "usage": _usage(reply)})
    yield "[DONE]"


class LLMServer:
    """OpenAI-compatible chat-completions server on 127.0.0.1, port 0, in a background thread.

    ``script()`` queues replies (one per chat-completions request); with the queue empty the
    ``respond_with`` handler answers (if it returns a reply), then ``default``. ``latency``
    seconds pass before every chat-completions answer. ``requests`` holds every request
    received, in order.
    """

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.connections_opened = 0
        """TCP connections accepted since the last ``reset()`` (keep-alive shows as fewer)."""
        self.latency: float = 0.0
        self.default: Reply = DEFAULT_REPLY
        self._queue: deque[Reply] = deque()
        self._handler: Callable[[Recorded], Reply | None] | None = None
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._errors: list[BaseException | None] = []
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (only while started)."""
        if self._httpd is None:
            raise RuntimeError("LLMServer is not started")
        return self._httpd.server_port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``, to pass as ``api_base``/``base_url``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        """Bind a free port and serve in a daemon thread (no-op if already started)."""
        if self._httpd is not None:
            return
        self._stopping.clear()
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"llm-server-{httpd.server_port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, drop open connections and wake stalled answers (no-op if stopped)."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> LLMServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- scripting --------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the script, the handler, recorded requests and errors, latency and the default.

        Connections stay open: a client's pooled keep-alive connection is reused across tests.
        """
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self._errors.clear()
            self._handler = None
            self.connections_opened = 0
        self.latency = 0.0
        self.default = DEFAULT_REPLY

    def script(self, *replies: Reply) -> None:
        """Queue replies: each chat-completions request takes the next one."""
        for reply in replies:
            if not isinstance(reply, Reply):
                raise TypeError(f"script() takes Reply objects, not {type(reply).__name__}")
        with self._lock:
            self._queue.extend(replies)

    def respond_with(self, handler: Callable[[Recorded], Reply | None] | None) -> None:
        """Answer with ``handler(request)`` when the script is empty (``None`` falls through)."""
        with self._lock:
            self._handler = handler

    @property
    def errors(self) -> list[BaseException | None]:
        """Exceptions raised while handling requests (a ``respond_with`` handler, bugs)."""
        return list(self._errors)

    @property
    def pending(self) -> int:
        """How many scripted replies have not been used yet."""
        with self._lock:
            return len(self._queue)

    # --- used by the request handler ----------------------------------------------------------

    def _record(self, recorded: Recorded) -> None:
        with self._lock:
            self.requests.append(recorded)

    def _next_reply(self, recorded: Recorded) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            handler = self._handler
        if handler is None:
            return self.default
        try:
            reply = handler(recorded)
        except Exception as exc:
            self._errors.append(exc)
            return status(500, message=f"respond_with handler raised {exc!r}")
        return reply if reply is not None else self.default

    def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds``; True if the server is stopping meanwhile."""
        if seconds <= 0:
            return self._stopping.is_set()
        return self._stopping.wait(seconds)

    def _track(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)
            self.connections_opened += 1

    def _untrack(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)
