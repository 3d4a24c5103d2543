"""The one HTTP client of qwen-serve's clients (qwen-test, qwen-bench, the readiness probe): no server can hang it
or blow it up.

Limits by construction, not per call site:
- **One total deadline per request**, covering connect, sending, the status line and headers, any number of `1xx`
  answers, and the body: every socket read and write is given what is left of it (httpx's own timeouts are per
  read, so a server that trickles a byte at a time, or sends `100 Continue` for ever, would never time out).
- **A cap on the bytes of the answer as decoded**: an answer is asked for uncompressed (`Accept-Encoding:
  identity`); a server that compresses anyway is decoded here, gzip and deflate only, with the cap counted on the
  decoded bytes (a gzip bomb stops at the cap, not at 4 GB resident); any other encoding is refused in one line.
Whatever is read from the answer is then validated by type where it is used (pydantic models, `one_line` for text).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
import zlib

import httpcore
import httpx

MAX_ANSWER_BYTES = 16 << 20  # a check's whole answer: chat answers are kilobytes, a model list a few

_limit = threading.local()  # the deadline of the request this thread is reading or writing


@contextlib.contextmanager
def _deadline(end: float, what: str, seconds: float):
    saved = getattr(_limit, "value", None)
    _limit.value = (end, what, seconds)
    try:
        yield
    finally:
        _limit.value = saved


def _bounded(operation, timeout: float | None, error: type[Exception]):
    """A socket operation given at most what is left of the request's deadline; past it, the error names the
    request and the limit (not the socket's "timed out")."""
    value = getattr(_limit, "value", None)
    if value is None:
        return operation(timeout)
    end, what, seconds = value
    left = end - time.monotonic()
    if left > 0:
        try:
            return operation(left if timeout is None else min(timeout, left))
        except error:
            if time.monotonic() < end:
                raise
    raise error(f"{what}: no complete answer within {seconds:g} s (the limit)")


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream):
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return _bounded(lambda t: self.inner.read(max_bytes, t), timeout, httpcore.ReadTimeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        _bounded(lambda t: self.inner.write(buffer, t), timeout, httpcore.WriteTimeout)

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore.NetworkStream:
        tls = _bounded(
            lambda t: self.inner.start_tls(ssl_context, server_hostname, t), timeout, httpcore.ConnectTimeout
        )
        return _DeadlineStream(tls)

    def get_extra_info(self, info: str):
        return self.inner.get_extra_info(info)


class _DeadlineBackend(httpcore.SyncBackend):
    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        connect = super().connect_tcp
        stream = _bounded(
            lambda t: connect(host, port, t, local_address, socket_options), timeout, httpcore.ConnectTimeout
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        connect = super().connect_unix_socket
        return _DeadlineStream(_bounded(lambda t: connect(path, t, socket_options), timeout, httpcore.ConnectTimeout))


class _Decoded(httpx.SyncByteStream):
    """The body as the server meant it (gzip/deflate undone here), within the request's deadline and the byte cap."""

    def __init__(self, inner, encoding: str, what: str, end: float, seconds: float, max_bytes: int):
        self.inner, self.what, self.end, self.seconds, self.max_bytes = inner, what, end, seconds, max_bytes
        self.decoder = None if encoding == "identity" else zlib.decompressobj(zlib.MAX_WBITS | 32)
        self.raw_deflate = encoding == "deflate"  # zlib-wrapped, or raw as some servers send it

    def _decode(self, chunk: bytes, room: int) -> bytes:
        if self.decoder is None:
            return chunk
        try:
            out = self.decoder.decompress(chunk, room + 1)
        except zlib.error:
            if not self.raw_deflate:
                raise httpx.DecodingError(f"{self.what}: the compressed answer does not decode") from None
            self.decoder, self.raw_deflate = zlib.decompressobj(-zlib.MAX_WBITS), False
            out = self.decoder.decompress(chunk, room + 1)
        if self.decoder.unconsumed_tail:  # more than the cap waits in this one chunk
            raise httpx.ReadError(f"{self.what}: the answer passed {self.max_bytes:,} bytes (the limit), decoded")
        return out

    def __iter__(self):
        seen = 0
        chunks = iter(self.inner)
        while True:
            with _deadline(self.end, self.what, self.seconds):
                chunk = next(chunks, None)
            if chunk is None:
                return
            chunk = self._decode(chunk, self.max_bytes - seen)
            seen += len(chunk)
            if seen > self.max_bytes:
                raise httpx.ReadError(f"{self.what}: the answer passed {self.max_bytes:,} bytes (the limit)")
            if time.monotonic() > self.end:
                raise httpx.ReadTimeout(f"{self.what}: no complete answer within {self.seconds:g} s (the limit)")
            yield chunk

    def close(self) -> None:
        self.inner.close()


@functools.cache
def _ssl_context():
    """One TLS context for every client of the process: loading the CA bundle takes tens of ms each time."""
    return httpx.create_ssl_context()


class BoundedTransport(httpx.HTTPTransport):
    """Every request through it: its whole answer within `seconds` of sending and at most `max_bytes` decoded."""

    def __init__(self, seconds: float, max_bytes: int = MAX_ANSWER_BYTES, limits: httpx.Limits | None = None):
        ssl_context = _ssl_context()
        super().__init__(verify=ssl_context)
        limits = limits or httpx.Limits()
        self._pool = httpcore.ConnectionPool(  # httpx's own pool, with the deadline on every socket operation
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(),
        )
        self.seconds, self.max_bytes = seconds, max_bytes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        end = time.monotonic() + self.seconds
        what = request.url.path
        request.headers["Accept-Encoding"] = "identity"
        with _deadline(end, what, self.seconds):
            response = super().handle_request(request)
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower() or "identity"
        if encoding not in ("identity", "gzip", "x-gzip", "deflate"):
            response.close()
            raise httpx.DecodingError(
                f"{what}: the server compressed its answer as {encoding[:40]!r} though asked for none; "
                "only gzip and deflate are read"
            )
        headers = httpx.Headers([(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding"])
        stream = _Decoded(response.stream, encoding, what, end, self.seconds, self.max_bytes)
        return httpx.Response(response.status_code, headers=headers, stream=stream, extensions=response.extensions)


def bounded_client(seconds: float, max_bytes: int = MAX_ANSWER_BYTES, **kwargs) -> httpx.Client:
    """An httpx client whose every request has a total deadline and a cap on its decoded answer (BoundedTransport).
    Proxies from the environment are not used: a proxy's transport would not be bounded."""
    transport = BoundedTransport(seconds, max_bytes, limits=kwargs.pop("limits", None))
    return httpx.Client(timeout=seconds, transport=transport, trust_env=False, **kwargs)
