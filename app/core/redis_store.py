"""One Redis code path on the redis-py API.

With REDIS_URL the client is real Redis; without it (the embedded default) it is
fakeredis, an in-process Redis-compatible store, shared by every thread of the process.
All keys go through `key()` so several deployments (or test runs) can share one Redis.
The client and prefix belong to the app: with several apps in one process (tests), each
uses its own, picked through the current app context.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import redis
from flask import current_app, has_app_context


@dataclass
class _Bound:
    client: redis.Redis
    prefix: str
    embedded: bool
    scripts: dict = field(default_factory=dict)


class RedisStore:
    def __init__(self):
        self._last: _Bound | None = None  # used outside any app context (threads, scripts)

    def init_app(self, app) -> None:
        url = app.config.get("REDIS_URL")
        prefix = app.config.get("REDIS_KEY_PREFIX", "aiic:")
        if url:
            client = redis.Redis.from_url(url, decode_responses=False, socket_timeout=5,
                                          socket_connect_timeout=3, health_check_interval=30)
            bound = _Bound(client, prefix, False)
        else:
            import fakeredis

            server = app.config.get("EMBEDDED_REDIS_SERVER") or fakeredis.FakeServer()
            app.config["EMBEDDED_REDIS_SERVER"] = server
            bound = _Bound(fakeredis.FakeRedis(server=server), prefix, True)
        app.extensions["redis_store"] = bound
        self._last = bound

    def _bound(self) -> _Bound:
        if has_app_context():
            bound = current_app.extensions.get("redis_store")
            if bound is not None:
                return bound
        if self._last is None:
            raise RuntimeError("RedisStore used before init_app()")
        return self._last

    @property
    def client(self) -> redis.Redis:
        return self._bound().client

    @property
    def prefix(self) -> str:
        return self._bound().prefix

    @property
    def embedded(self) -> bool:
        return self._bound().embedded

    def script(self, source: str):
        """A Lua script registered with this app's client (run with EVALSHA; loaded again
        by redis-py if the server lost it)."""
        bound = self._bound()
        found = bound.scripts.get(source)
        if found is None:
            found = bound.scripts[source] = bound.client.register_script(source)
        return found

    def key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    def clear_namespace(self) -> int:
        """Delete every key under this store's prefix (tests and sandbox resets)."""
        count = 0
        for k in self.client.scan_iter(match=self.prefix + "*", count=500):
            self.client.delete(k)
            count += 1
        return count
