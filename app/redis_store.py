"""One Redis code path on the redis-py API.

With REDIS_URL the client is real Redis; without it (the embedded default) it is
fakeredis, an in-process Redis-compatible store, shared by every thread of the process.
All keys go through `key()` so several deployments (or test runs) can share one Redis.
"""
from __future__ import annotations

import redis


class RedisStore:
    def __init__(self):
        self._client: redis.Redis | None = None
        self.prefix = "aiic:"
        self.embedded = False

    def init_app(self, app) -> None:
        url = app.config.get("REDIS_URL")
        self.prefix = app.config.get("REDIS_KEY_PREFIX", "aiic:")
        if url:
            self._client = redis.Redis.from_url(
                url, decode_responses=False, socket_timeout=5, socket_connect_timeout=3,
                health_check_interval=30)
            self.embedded = False
        else:
            import fakeredis

            server = app.config.get("EMBEDDED_REDIS_SERVER") or fakeredis.FakeServer()
            app.config["EMBEDDED_REDIS_SERVER"] = server
            self._client = fakeredis.FakeRedis(server=server)
            self.embedded = True
        app.extensions["redis_store"] = self

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            raise RuntimeError("RedisStore used before init_app()")
        return self._client

    def key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    def clear_namespace(self) -> int:
        """Delete every key under this store's prefix (tests and sandbox resets)."""
        count = 0
        for k in self.client.scan_iter(match=self.prefix + "*", count=500):
            self.client.delete(k)
            count += 1
        return count
