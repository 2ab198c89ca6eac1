"""A real HTTP receiver for webhook tests (the company's ATS, as far as we can tell).

It records every request and answers from a script: a status code, or "timeout" (sleep
longer than the sender's timeout before answering 200). When the script runs out it
answers `default`.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from functools import partial

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests import factories


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    url: str = ""
    default: int | str = 200
    script: list = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    sleep_seconds: float = 2.0
    by_path: dict = field(default_factory=dict)  # path -> fixed answer (a healthy receiver)
    latency: float = 0.0  # seconds every answer takes (to overlap concurrent senders)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, *answers) -> None:
        """Queue answers for the next requests (status codes or "timeout")."""
        with self.lock:
            self.script.extend(answers)

    def _next(self):
        with self.lock:
            return self.script.pop(0) if self.script else self.default

    def wsgi(self, environ, start_response):
        request = Request(environ)
        body = request.get_data()
        with self.lock:
            self.requests.append(Received(request.path, dict(request.headers), body))
        answer = self.by_path.get(request.path) or self._next()
        if self.latency:
            time.sleep(self.latency)
        if answer == "timeout":
            time.sleep(self.sleep_seconds)
            answer = 200
        if isinstance(answer, tuple):
            status, headers = answer
        else:
            status, headers = answer, {}
        text = "ok" if 200 <= status < 300 else f"服务器错误 {status} " + "x" * 600
        return Response(text, status=status, headers=headers,
                        content_type="text/plain; charset=utf-8")(environ, start_response)

    def delivery_ids(self) -> list[str]:
        with self.lock:
            return [r.headers.get("X-Aiic-Delivery") for r in self.requests]


@pytest.fixture
def receiver():
    rec = Receiver()
    server = make_server("127.0.0.1", 0, rec.wsgi, threaded=True)
    rec.url = f"http://127.0.0.1:{server.port}/hooks/aiic"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture
def make_endpoint(app):
    """make_endpoint(url, events=..., secret=..., name="ATS") -> the endpoint's id,
    created through the service (as an admin would)."""
    return partial(factories.webhook_endpoint, app)


@pytest.fixture
def enqueue(app):
    """enqueue(event_type=..., event_id=..., payload=None) -> deliveries queued, in a
    committed transaction of its own."""
    return partial(factories.webhook_event, app)
