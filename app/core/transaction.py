"""The one owner of a request's (or job's) transaction and database connection.

A request uses one pooled connection at most: the one its ORM session holds. Services
write through `transaction()` (the session's connection, committed once) or, for a write
that is a single statement, `single_statement()`, which takes a pooled connection in
autocommit mode only when the session holds none, so a process whose pool has one
connection never waits for itself.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from app.core import sqlwrite
from app.extensions import db


@contextmanager
def transaction() -> Iterator:
    """The session's SQLAlchemy connection; commit at the end, roll back on any error."""
    try:
        yield db.session.connection()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


@dataclass(frozen=True)
class StatementConnection:
    conn: object        # PostgreSQL: the driver connection; else SQLAlchemy's connection
    postgres: bool
    autocommit: bool
    sa: object | None = None  # the session's SQLAlchemy connection (None in autocommit)


@contextmanager
def session_unit() -> Iterator[StatementConnection]:
    """The session's transaction, with its connection in both forms (for readers using
    SQLAlchemy and a writer using the driver); committed once at the end."""
    with transaction() as conn:
        postgres = conn.dialect.name == "postgresql"
        yield StatementConnection(conn.connection.driver_connection if postgres else conn,
                                  postgres, False, conn)


@contextmanager
def single_statement() -> Iterator[StatementConnection]:
    """A connection for a unit of work that is one statement on PostgreSQL."""
    engine = db.engine
    if engine.dialect.name != "postgresql" or _session_in_transaction():
        with session_unit() as unit:
            yield unit
        return
    # One statement is the whole transaction: autocommit, no BEGIN/COMMIT trips.
    with sqlwrite.autocommit(engine) as driver:
        yield StatementConnection(driver, True, True)


def _session_in_transaction() -> bool:
    """Whether this thread's session holds a connection, without creating a session for
    the question (the candidate's cancel has none: creating one costs a hot path)."""
    return db.session.registry.has() and db.session().in_transaction()
