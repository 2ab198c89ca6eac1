"""Report statements read at once on connections of their own (app.queries.reports.sql.
concurrently): all in the session's snapshot, truly at the same time, every reader
finished before the call returns (also when one fails); the funnel's figures are those of
one statement, a channel the code does not list included."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from app.extensions import db
from app.models import OutboxMessage, OutboxStatus, Role
from app.queries.reports import sql
from app.services.reports import figures
from tests.console.test_reports import actor_of, percentile_cont


def _postgres_only(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite runs report statements one after another in the session")


class _Gate(ThreadPoolExecutor):
    """Readers that start only once `opened` is set."""

    def __init__(self):
        super().__init__(4)
        self.opened = threading.Event()

    def submit(self, fn, *args, **kwargs):
        def gated():
            assert self.opened.wait(10)
            return fn(*args, **kwargs)
        return super().submit(gated)


def test_readers_see_the_snapshot_of_the_session_not_a_later_commit(app, make_interview,
                                                                       make_message,
                                                                       monkeypatch):
    """A message committed after the report began (and before any reader ran) is seen by
    no reader: each imports the session's snapshot instead of taking its own."""
    _postgres_only(app)
    iv = make_interview()
    make_message(iv.id)
    gate = _Gate()
    monkeypatch.setattr(sql, "_reader_pool", lambda size: gate)
    count = text("SELECT count(*) FROM outbox_messages")
    with app.app_context():
        other = create_engine(db.engine.url)

        def commit_another_then_open_the_gate():
            with other.begin() as conn:   # a copy of the message, committed
                columns = [c for c in OutboxMessage.__table__.columns.keys()
                           if c not in ("id", "dedupe_key", "open_token")]
                listed = ", ".join(columns)
                conn.execute(text(
                    f"INSERT INTO outbox_messages (dedupe_key, {listed}) "
                    f"SELECT dedupe_key || '-later', {listed} FROM outbox_messages LIMIT 1"))
            gate.opened.set()
            with other.connect() as conn:
                return conn.execute(count).scalar()

        (first, second), committed = sql.concurrently([count, count],
                                                      commit_another_then_open_the_gate)
        other.dispose()
    assert committed == 2                          # the insert is there for everyone else
    assert first[0][0] == second[0][0] == 1        # and not in the report's snapshot


def test_readers_run_at_the_same_time(app):
    """Two readers sleeping half a second are both active at once (pg_stat_activity)."""
    _postgres_only(app)
    marker = f"reader-overlap-{time.time_ns()}"
    sleepy = text(f"SELECT pg_sleep(0.5), '{marker}'")
    with app.app_context():
        watcher = create_engine(db.engine.url)

        def both_active():
            deadline = time.monotonic() + 5
            with watcher.connect() as conn:
                while time.monotonic() < deadline:
                    active = conn.execute(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                        "AND query LIKE :q AND pid <> pg_backend_pid()"),
                        {"q": f"%'{marker}'%"}).scalar()
                    if active == 2:
                        # the readers hold none of the application's pool: a request
                        # holding its only connection (DB_POOL_SIZE=1) cannot starve them
                        return db.engine.pool.checkedout()
                    conn.rollback()   # pg_stat_activity is read once per transaction
                    time.sleep(0.02)
            return None

        _rows, app_pool_in_use = sql.concurrently([sleepy, sleepy], both_active)
        watcher.dispose()
    assert app_pool_in_use == 1    # both readers active; only the session's connection


def test_a_failing_reader_raises_after_every_reader_finished(app):
    _postgres_only(app)
    finished = []
    slow = text("SELECT pg_sleep(0.3)")
    with app.app_context():
        real_pool = sql._reader_pool(2)

        class Tracking:
            def submit(self, fn, *args):
                def tracked():
                    try:
                        return fn(*args)
                    finally:
                        finished.append(args[0])
                return real_pool.submit(tracked)

        tracking = Tracking()
        original = sql._reader_pool
        sql._reader_pool = lambda size: tracking
        try:
            with pytest.raises(Exception, match="division by zero"):
                sql.concurrently([slow, text("SELECT 1 / 0")])
        finally:
            sql._reader_pool = original
        assert len(finished) == 2                  # the slow one too, before the raise
        # the session is still usable: its transaction was not left to the readers
        assert db.session.execute(text("SELECT 1")).scalar() == 1


def test_a_channel_the_code_does_not_list_gets_its_own_latencies(app, make_interview,
                                                                  make_message):
    """A message sent over a channel outside routing.CHANNELS (none today; a future one)
    is in the funnel with exact percentiles, and in the overall ones, on both backends."""
    actor = actor_of(app, "boss", Role.ADMIN)
    iv = make_interview()
    created = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    for channel, seconds in (("wecom", 2), ("wecom", 6), ("subscribe", 1), ("subscribe", 3),
                             ("subscribe", 5)):
        make_message(iv.id, channel=channel, status=OutboxStatus.SENT, created_at=created,
                     sent_at=created + timedelta(seconds=seconds))
    with app.app_context():
        report = figures.notification_report(
            actor, figures.report_filters("2026-03-01", "2026-03-03"), now=created)
    got = {c.channel: c for c in report.channels}
    assert set(got) == {"wecom", "subscribe"}
    assert (got["wecom"].notify_p50, got["wecom"].notify_p95) == (
        pytest.approx(4.0, abs=0.01), pytest.approx(percentile_cont([2, 6], 0.95), abs=0.01))
    assert got["subscribe"].notify_p50 == pytest.approx(3.0, abs=0.01)
    assert report.total.notify_p50 == pytest.approx(3.0, abs=0.01)
    assert report.total.notify_p95 == pytest.approx(percentile_cont([1, 2, 3, 5, 6], 0.95),
                                                    abs=0.01)
    assert got["wecom"].open_p50 is None and report.total.queued == 5


def test_without_readers_the_same_figures_come_from_the_session(app, monkeypatch):
    """REPORT_READERS=0: one statement after another in the session, the same report."""
    from tests.console.report_data import seed

    seed(app)
    actor = actor_of(app, "boss", Role.ADMIN)
    with app.app_context():
        f = figures.report_filters("2026-01-01", "2026-12-31")
        at_once = figures.notification_report(actor, f)
        monkeypatch.setitem(app.config, "REPORT_READERS", 0)
        in_turn = figures.notification_report(actor, f)
    assert at_once == in_turn and at_once.total.queued > 0
