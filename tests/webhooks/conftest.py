"""A real HTTP receiver for webhook tests (the company's ATS, as far as we can tell).

It records every request and answers from a script: a status code, or "timeout" (sleep
longer than the sender's timeout before answering 200). When the script runs out it
answers `default`.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


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
    """Create an endpoint through the service (as an admin would)."""
    from app.services import webhooks

    def make(url: str, events=("interview.cancelled",), secret="s3cret-for-tests-0123456789",
             name="ATS"):
        with app.app_context():
            endpoint = webhooks.create_endpoint(name=name, url=url, events=list(events),
                                                actor_id=None, secret=secret)
            return endpoint.id
    return make


@pytest.fixture
def enqueue(app):
    """Queue an event in its own committed transaction; returns deliveries queued."""
    from app.extensions import db
    from app.services import webhooks

    def enqueue(event_type="interview.cancelled", event_id="interview.cancelled:1",
                payload=None):
        with app.app_context():
            n = webhooks.enqueue_event(event_type, event_id, payload or {
                "occurred_at": "2024-03-15T10:00:00+08:00",
                "interview": {"id": "iv_x", "number": "AI-2024-03-15-001"},
                "candidate": {"ref": "ATS-1", "name": "张三"}, "reason": None,
                "actor": {"type": "candidate", "id": 1}})
            db.session.commit()
            return n
    return enqueue
