"""SQL building blocks of the reports that differ by dialect: local (Asia/Shanghai) days
and weeks, seconds between two timestamps, and continuous percentiles.

Traps:
- Timestamps are stored as UTC (timestamptz on PostgreSQL, naive UTC text on SQLite).
  Asia/Shanghai has had no daylight saving since 1991, so on SQLite '+8 hours' is the exact
  local time; PostgreSQL converts with the zone itself.
- PostgreSQL has percentile_cont; SQLite has not. The fallback computes the same linear
  interpolation between the two nearest ranks with window functions, in SQL, so both
  backends give the same figures (tests compare them with an independent computation).
"""
from __future__ import annotations

import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor

from flask import current_app, has_app_context
from sqlalchemy import Date, Float, Integer, cast, create_engine, func, literal_column, select, text
from sqlalchemy.sql.elements import ColumnElement

from app.extensions import db

ZONE = "Asia/Shanghai"


def dialect() -> str:
    return db.session.get_bind().dialect.name


REPORT_WORK_MEM = "64MB"


def sort_in_memory() -> None:
    """PostgreSQL: let this transaction's sorts use REPORT_WORK_MEM (the default 4 MB spills
    a year of messages, sorted for the funnel's percentiles, to disk: 21 MB, a quarter of
    the statement's time). Reports are few and read-only, so the memory is bounded."""
    if dialect() == "postgresql":
        db.session.execute(text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))


_SNAPSHOT_ID = re.compile(r"^[0-9A-F]+-[0-9A-F]+(-[0-9A-F]+)?$")
_readers: tuple[int, int, ThreadPoolExecutor] | None = None
_reader_engines: dict = {}
_readers_lock = threading.Lock()


def _reader_pool(size: int) -> ThreadPoolExecutor:
    """The process's `size` reader threads, made anew in a forked child (gunicorn
    --preload) or when the setting changed."""
    global _readers
    with _readers_lock:
        if _readers is None or _readers[:2] != (os.getpid(), size):
            _readers = (os.getpid(), size,
                        ThreadPoolExecutor(size, thread_name_prefix="report-reader"))
        return _readers[2]


def _reader_engine(engine, size: int):
    """An engine over the same database with a pool of its own, one connection per reader
    thread: readers never wait for the application's pool, which the request waiting for
    them may be holding (DB_POOL_SIZE=1 in production: a report would wait for itself),
    and they keep warm backends (a new connection per statement cost its connect and a
    cold catalog cache each time)."""
    key = (os.getpid(), engine.url, size)
    with _readers_lock:
        if key not in _reader_engines:
            _reader_engines[key] = create_engine(engine.url, pool_size=size, max_overflow=0,
                                                 pool_pre_ping=True, pool_recycle=600)
        return _reader_engines[key]


def concurrently(statements: list, while_waiting=None) -> tuple[list[list], object]:
    """Run read-only report statements at once, each on a connection of its own, all in
    the snapshot of the session's transaction, and `while_waiting()` (if given) in the
    session meanwhile; returns (each statement's rows, while_waiting's result).

    PostgreSQL runs a sort-based aggregate (percentile_cont) on one core: a year's
    notification funnel (400,000 messages) took 500-750 ms in one statement while the
    machine's other core idled; its counts and each latency's quantiles at once take
    280-330 ms (bench.list_and_reports). The session exports its snapshot
    (pg_export_snapshot) and every reader imports it (SET TRANSACTION SNAPSHOT, as
    pg_dump -j does), so the statements see exactly the same rows, as one statement
    would. At most REPORT_READERS statements
    of a process run at once (each on a connection of the readers' pool, besides the
    request's: count them in the connection budget, README); REPORT_READERS=0, SQLite, or
    a single statement: one after another in the session."""
    size = current_app.config.get("REPORT_READERS", 0) if has_app_context() else 0
    if dialect() != "postgresql" or len(statements) < 2 or size < 1:
        rows = [db.session.execute(s).all() for s in statements]
        return rows, (while_waiting() if while_waiting else None)
    snapshot = db.session.execute(text("SELECT pg_export_snapshot()")).scalar_one()
    if not _SNAPSHOT_ID.match(snapshot):    # it is inlined below: SET takes no parameters
        raise ValueError(f"unexpected snapshot id {snapshot!r}")
    engine = _reader_engine(db.session.get_bind(), size)

    def read(statement):
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            conn.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
            conn.execute(text("SET TRANSACTION READ ONLY"))
            conn.execute(text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))
            # the statements are the parallelism: workers of their own would only queue
            # for the same cores
            conn.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
            rows = conn.execute(statement).all()
            conn.rollback()
            return rows

    futures = [_reader_pool(size).submit(read, s) for s in statements]
    try:
        extra = while_waiting() if while_waiting else None
    finally:
        # The snapshot lives as long as the session's transaction: wait for every reader
        # before anything can end it (an exception in while_waiting included).
        results = [f.exception() or f.result() for f in futures]
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results, extra


def local_day(column) -> ColumnElement:
    """The Asia/Shanghai calendar day of a UTC timestamp: a date on PostgreSQL (grouping
    by it costs a third of grouping by to_char text), 'YYYY-MM-DD' text on SQLite; both
    read as 'YYYY-MM-DD' once cast to a string."""
    if dialect() == "postgresql":
        return cast(func.timezone(ZONE, column), Date)
    return func.date(column, "+8 hours")


def week_of_day(day) -> ColumnElement:
    """The Monday of the ISO week of a day (as local_day gives), as 'YYYY-MM-DD' text."""
    if dialect() == "postgresql":
        return func.to_char(func.date_trunc("week", cast(day, Date)), "YYYY-MM-DD")
    return func.date(day, "weekday 0", "-6 days")


def seconds_between(start, end) -> ColumnElement:
    """end - start in seconds (float)."""
    if dialect() == "postgresql":
        # date_part gives double precision; extract gives numeric since PostgreSQL 14,
        # whose arithmetic and sorting cost a quarter more over a year of messages.
        return func.date_part("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def percentiles(source, values: list, where: list, group_by=None,
                qs=(0.5, 0.95)) -> dict:
    """{group: [(p_q1, p_q2, ...) for each of `values`]} over the rows of `source` (a table
    or join) matching `where`; NULL values are left out (as percentile_cont does), a group
    with none gives Nones. Continuous percentiles (linear interpolation). Without group_by
    the only key is None. PostgreSQL: one statement; SQLite: one per value."""
    key = group_by if group_by is not None else literal_column("NULL")
    if dialect() == "postgresql":
        columns = [func.percentile_cont(q).within_group(v) for v in values for q in qs]
        stmt = select(key.label("k"), *columns).select_from(source).where(*where)
        if group_by is not None:
            stmt = stmt.group_by(group_by)
        found = {}
        for row in db.session.execute(stmt):
            flat = [None if v is None else float(v) for v in row[1:]]
            found[row[0]] = [tuple(flat[i * len(qs):(i + 1) * len(qs)])
                             for i in range(len(values))]
        return found
    found: dict = {}
    for index, value in enumerate(values):
        for k, result in _sqlite_percentiles(source, value, where, key, qs).items():
            found.setdefault(k, [tuple(None for _ in qs)] * len(values))
            found[k][index] = result
    return found


def _sqlite_percentiles(source, value, where: list, key, qs) -> dict:
    ranked = select(
        key.label("k"), value.label("v"),
        func.row_number().over(partition_by=key, order_by=value).label("rn"),
        func.count().over(partition_by=key).label("n"),
    ).select_from(source).where(*where, value.is_not(None)).subquery()
    columns = []
    for q in qs:
        position = 1 + q * (ranked.c.n - 1)            # 1-based fractional rank
        lower = cast(position, Integer)                 # floor (positions are >= 1)
        fraction = position - lower
        columns.append(
            func.sum(func.iif(ranked.c.rn == lower, ranked.c.v * (1 - fraction), 0.0))
            + func.sum(func.iif(ranked.c.rn == lower + 1, ranked.c.v * fraction, 0.0)))
    stmt = select(ranked.c.k, *[cast(c, Float) for c in columns]).group_by(ranked.c.k)
    return {row[0]: tuple(None if v is None else float(v) for v in row[1:])
            for row in db.session.execute(stmt)}
