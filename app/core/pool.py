"""Checking pooled database connections before use, without a round trip per request.

`pool_pre_ping` pings on every checkout: one extra round trip on every request. A
connection that went back to the pool a moment ago is alive, so we ping only connections
that sat idle longer than DB_PING_AFTER_IDLE_SECONDS (0: ping every time). A dead
connection found by the ping is replaced before the request sees it; one that dies within
the idle window fails its statement, and SQLAlchemy then discards the whole pool.
"""
from __future__ import annotations

import time

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

_CHECKED_IN_AT = "aiic_checked_in_at"


def ping_idle_connections(engine: Engine, idle_seconds: float) -> None:
    dialect = engine.dialect

    @event.listens_for(engine.pool, "checkin")
    def _remember_checkin(dbapi_connection, record) -> None:
        if record is not None:
            record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _ping_if_idle(dbapi_connection, record, proxy) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is not None and time.monotonic() - checked_in_at < idle_seconds:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"connection failed its ping: {exc}") from exc
        if not alive:
            raise DisconnectionError("connection failed its ping")
