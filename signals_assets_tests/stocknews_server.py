"""A loopback fake of the Stock News API, for tests and benchmarks.

    with FakeStockNewsAPI(articles, tickers) as api:
        source = StockNewsAPI(api_key=FAKE_TOKEN, base_url=api.base_url)
        ...
        api.requests  # [(path, params), ...] as received, token included

It serves /api/v1 (tickers=...), /api/v1/category?section=alltickers and /api/v1/account/tickersdbv2
with the request semantics of `signals_assets.news.emulator.NewsAPIEmulator` (US Eastern date range,
tickers, type, items/page paging), checks the token (403 when wrong), keeps connections alive like
the real service, and can be told to fail: `script_failures([...])` for the next requests in order,
or `hook(path, params)` for every request after those. `rewrite(path, params, payload)` changes the
emulator's 200 answers before they are sent (odd but plausible answers: `each_item(...)` breaks items,
a `total_pages` that is too low, ...), while the emulator still routes and pages the clean items.
`limit_calls(n)` plays a plan's quota: after n more calls every request is answered that the quota is used
up (429 by default, or 403) until `reset_quota()` (the month turns) or `limit_calls(None)`.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from signals_assets.news.emulator import EmulatedAPIError, NewsAPIEmulator

FAKE_TOKEN = "sk-test-SECRET-123"
API_PREFIX = "/api/v1"
DISCONNECT = "disconnect"  # a Fault status: close the connection without answering
QUOTA_MESSAGE = "You have reached your monthly API limit. Upgrade your plan or wait until next month."


@dataclass(frozen=True)
class Fault:
    """A scripted answer: an HTTP status (or DISCONNECT), headers, body, and an optional delay first."""

    status: int | str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | bytes = ""
    delay_s: float = 0.0


FaultLike = Fault | tuple
Hook = Callable[[str, dict], FaultLike | None]
Rewrite = Callable[[str, dict, dict], dict]


class FakeStockNewsAPI:
    def __init__(
        self,
        articles: Iterable[Mapping[str, Any]],
        tickers: Iterable[Mapping[str, Any]] | None = None,
        *,
        token: str = FAKE_TOKEN,
        paging: Literal["total_pages", "empty_page"] = "total_pages",
        max_items: int = 50,
        latency_s: float = 0.0,
    ):
        """`paging="empty_page"` leaves `total_pages` out, so clients must stop at an empty page.
        `max_items` caps `items` silently (as plans do); `latency_s` delays every answer (benchmarks)."""
        self.emulator = NewsAPIEmulator(
            articles, tickers or (), total_pages=paging == "total_pages", max_items=max_items
        )
        self.token = token
        self.latency_s = latency_s
        self.hook: Hook | None = None
        self.rewrite: Rewrite | None = None
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.connections = 0
        self._faults: list[Fault] = []
        self._quota: int | None = None  # calls the plan allows (None: no limit)
        self._quota_used = 0
        self._quota_answer = _json_fault(429, {"message": QUOTA_MESSAGE})
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----- lifecycle -----

    def __enter__(self) -> FakeStockNewsAPI:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the fake first (use it as a context manager)"
        return f"http://127.0.0.1:{self._server.server_address[1]}{API_PREFIX}"

    # ----- scripting and inspection -----

    def script_failures(self, faults: Iterable[FaultLike]) -> None:
        """Answer the next requests with these faults, in order: Fault or (status, headers, body) tuples."""
        with self._lock:
            self._faults.extend(_as_fault(fault) for fault in faults)

    def limit_calls(self, calls: int | None, *, status: int = 429, message: str = QUOTA_MESSAGE) -> None:
        """Serve `calls` more requests, then answer `status` {"message": message} to every one (None: no limit).
        Every request counts, as with the real API, the quota answers too."""
        with self._lock:
            self._quota, self._quota_used = calls, 0
            self._quota_answer = _json_fault(status, {"message": message})

    def reset_quota(self) -> None:
        """The plan's month turns: the same number of calls is allowed again."""
        with self._lock:
            self._quota_used = 0

    def requests_to(self, path: str) -> list[dict[str, str]]:
        """Params of the requests received for one path (e.g. "/api/v1/category")."""
        return [params for received, params in self.requests if received == path]

    # ----- serving (called by the handler threads) -----

    def _answer(self, path: str, params: dict[str, str]) -> Fault:
        with self._lock:
            self.requests.append((path, dict(params)))
            scripted = self._faults.pop(0) if self._faults else None
            over_quota = self._quota is not None and self._quota_used >= self._quota
            self._quota_used += 1
        if scripted is not None:
            return scripted
        if over_quota:
            return self._quota_answer
        hooked = self.hook(path, dict(params)) if self.hook else None
        if hooked is not None:
            return _as_fault(hooked)
        if params.get("token") != self.token:
            return _json_fault(403, {"message": "Invalid or missing API token."})
        if not path.startswith(API_PREFIX):
            return _json_fault(404, {"message": "Not found."})
        query = {name: value for name, value in params.items() if name != "token"}
        try:
            payload = self.emulator.answer(path[len(API_PREFIX) :], query)
        except EmulatedAPIError as exc:
            return _json_fault(exc.status, {"message": exc.message})
        return _json_fault(200, self.rewrite(path, query, payload) if self.rewrite else payload)

    def _connected(self) -> None:
        with self._lock:
            self.connections += 1


def unused_base_url() -> str:
    """A base URL on a loopback port nothing listens on (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{API_PREFIX}"


def each_item(change: Callable[[dict], Any]) -> Rewrite:
    """A `rewrite` that serves `change(item)` (given a copy of each item) instead of each item."""

    def rewrite(path: str, params: dict, payload: dict) -> dict:
        return {**payload, "data": [change(dict(item)) for item in payload["data"]]}

    return rewrite


def _as_fault(fault: FaultLike) -> Fault:
    return fault if isinstance(fault, Fault) else Fault(*fault)


def _json_fault(status: int, payload: Any) -> Fault:
    return Fault(status, {"Content-Type": "application/json"}, json.dumps(payload))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # kept-alive client connections must not hold up stop()
    fake: FakeStockNewsAPI

    def handle_error(self, request, client_address) -> None:
        """Quiet: clients hanging up (disconnect faults, test teardown) are expected."""


class _Handler(BaseHTTPRequestHandler):
    # Answer at once: Nagle + delayed ACK would add ~40 ms to every loopback request.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"  # keep-alive, like the real service, so session reuse is visible
    timeout = 10  # an idle kept-alive connection's thread ends after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._connected()

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        fake = self.server.fake
        url = urlsplit(self.path)
        answer = fake._answer(url.path, dict(parse_qsl(url.query, keep_blank_values=True)))
        time.sleep(fake.latency_s + answer.delay_s)
        if answer.status == DISCONNECT:
            self.close_connection = True
            return
        body = answer.body.encode("utf-8") if isinstance(answer.body, str) else answer.body
        self.send_response(int(answer.status))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: no request lines on stderr."""


def api_item(
    title: str,
    date: str,
    tickers: list[str],
    *,
    sentiment: str = "Positive",
    news_url: str | None = "auto",
    **overrides: Any,
) -> dict[str, Any]:
    """One item in the API's `data` shape; `news_url="auto"` derives a unique URL from the title."""
    slug = "-".join(title.lower().split())
    item = {
        "news_url": f"https://news.invalid/{slug}" if news_url == "auto" else news_url,
        "image_url": f"https://news.invalid/images/{slug}.jpg",
        "title": title,
        "text": f"{title}. More details inside.",
        "source_name": "Test Wire",
        "date": date,
        "topics": [],
        "sentiment": sentiment,
        "type": "Article",
        "tickers": list(tickers),
    }
    item.update(overrides)
    return item
