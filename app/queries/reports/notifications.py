"""Notification figures from the outbox: a funnel per channel (queued, sent, delivered,
opened), time to notify and to open (p50 / p95), the notification promise kept, and the
candidates nobody could reach; every figure computed in SQL in the actor's scope.

Definitions (the same as the 通知时效 page, app/queries/notifications/promise.py):
- a message's event time is its outbox row's created_at (written in the change's own
  transaction); time to notify = sent_at - created_at; time to open = read_at - sent_at;
- delivered: WeChat's delivery event came, or the message was opened (an open proves it
  arrived even when the event never came);
- promise: a candidate message kept it when sent within notify_promise_minutes; it is due
  when sent, or unsent and older than the promise (an unsent message still inside the
  promise is not counted either way);
- unreachable: every candidate message of an interview in the period ended failed or
  unreachable (final: refused, or accepted by WeChat and then reported undelivered).
Messages not tied to an interview (batch summaries to staff) have no department: only
users who see every department (admins) count them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, exists, func, or_, select, tuple_
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import Candidate, Interview, OutboxMessage, OutboxStatus, Position
from app.queries.reports.filters import ReportFilters, narrows, scoped
from app.queries.reports.sql import (
    concurrently,
    dialect,
    percentiles,
    seconds_between,
    sort_in_memory,
)
from app.services.notifications import routing
from app.services.users.actor import Actor

FINAL_FAILURES = (OutboxStatus.FAILED, OutboxStatus.UNREACHABLE)
CANDIDATE = "candidate"


def _scoped(actor: Actor, f: ReportFilters, *extra):
    """(source, where): the outbox rows of the period in the actor's scope, without the
    messages withdrawn at dispatch (skipped: they were never meant to reach anyone)."""
    where = [*f.in_period(OutboxMessage.created_at), *extra,
             OutboxMessage.status != OutboxStatus.SKIPPED,
             *scoped(f.conditions(actor), via=OutboxMessage.interview_id)]
    return OutboxMessage.__table__, where


@dataclass(frozen=True)
class ChannelFunnel:
    channel: str | None
    queued: int
    sent: int
    delivered: int
    opened: int
    failed: int
    notify_p50: float | None = None   # seconds
    notify_p95: float | None = None
    open_p50: float | None = None
    open_p95: float | None = None

    @property
    def arrival_rate(self) -> float | None:
        return self.delivered / self.sent if self.sent else None

    @property
    def open_rate(self) -> float | None:
        return self.opened / self.delivered if self.delivered else None


def funnel(actor: Actor, f: ReportFilters, promise_minutes: int | None = None,
           now: datetime | None = None, while_waiting=None
           ) -> tuple[list[ChannelFunnel], ChannelFunnel, Promise | None]:
    """The funnel and latencies per channel, the same over every channel, and (given
    promise_minutes) the promise kept. `while_waiting()` runs in the session while the
    figures are read (the report reads its unreachable candidates meanwhile).

    PostgreSQL over every department: three statements at once (sql.concurrently, in one
    snapshot): the counts per channel, and each latency's p50 / p95 per channel and
    overall (_quantile_stmts); over some departments or positions: one statement
    (_in_one_statement). SQLite: the counts, then the percentiles per channel and overall
    (app.queries.reports.sql), one after another. The tests hold all three to the same
    figures."""
    source, where = _scoped(actor, f)
    delivered = or_(OutboxMessage.delivered_at.is_not(None), OutboxMessage.read_at.is_not(None))
    counts = [func.count().label("queued"), func.count(OutboxMessage.sent_at).label("sent"),
              func.count(case((delivered, 1))).label("delivered"),
              func.count(OutboxMessage.read_at).label("opened"),
              func.count(case((OutboxMessage.status.in_(FINAL_FAILURES), 1))).label("failed")]
    with_promise = promise_minutes is not None
    if with_promise:
        counts += _promise_counts(promise_minutes, now)
    # NULL when not sent (not opened): such rows are left out of the percentiles.
    latencies = [seconds_between(OutboxMessage.created_at, OutboxMessage.sent_at),
                 seconds_between(OutboxMessage.sent_at, OutboxMessage.read_at)]
    count_stmt = (select(OutboxMessage.channel, *counts).select_from(source).where(*where)
                  .group_by(OutboxMessage.channel))
    nothing = [(None, None), (None, None)]
    if dialect() == "postgresql" and narrows(f.conditions(actor)):
        count_rows, per_channel, overall = _in_one_statement(source, where, counts, latencies)
        if while_waiting:
            while_waiting()
    elif dialect() == "postgresql":
        (count_rows, *quantile_rows), _ = concurrently(
            [count_stmt, *_quantile_stmts(source, where, latencies)], while_waiting)
        per_channel: dict = {}
        overall = []
        for rows in quantile_rows:
            (r,) = rows
            for channel, value in zip(KNOWN_CHANNELS, r[:-1], strict=True):
                per_channel.setdefault(channel, []).append(_pair(value))
            overall.append(_pair(r[-1]))
        others = [r.channel for r in count_rows if r.channel not in KNOWN_CHANNELS and r.sent]
        if others:   # a channel this code does not list (none today): by GROUP BY
            per_channel.update(percentiles(source, latencies, [*where, or_(
                OutboxMessage.channel.notin_(KNOWN_CHANNELS), OutboxMessage.channel.is_(None))],
                OutboxMessage.channel))
    else:
        count_rows = db.session.execute(count_stmt).all()
        per_channel = percentiles(source, latencies, where, OutboxMessage.channel)
        overall = percentiles(source, latencies, where).get(None, nothing)
        if while_waiting:
            while_waiting()
    rows, due, kept_count = [], 0, 0
    for r in count_rows:
        if with_promise:
            due, kept_count = due + r.due, kept_count + r.kept
        (notify_p50, notify_p95), (open_p50, open_p95) = per_channel.get(r.channel, nothing)
        rows.append(ChannelFunnel(r.channel, r.queued, r.sent, r.delivered, r.opened, r.failed,
                                  notify_p50, notify_p95, open_p50, open_p95))
    rows.sort(key=lambda r: (-r.queued, r.channel or ""))
    (notify_p50, notify_p95), (open_p50, open_p95) = overall
    total = ChannelFunnel(None, *(sum(getattr(r, k) for r in rows) for k in
                                  ("queued", "sent", "delivered", "opened", "failed")),
                          notify_p50, notify_p95, open_p50, open_p95)
    return rows, total, (Promise(promise_minutes, due, kept_count) if with_promise else None)


KNOWN_CHANNELS = routing.CHANNELS


def _in_one_statement(source, where: list, counts: list, latencies: list):
    """PostgreSQL, some departments or positions only: (count rows per channel, quantiles
    per channel, overall quantiles) from one statement (GROUPING SETS: per channel and
    overall, counts and percentile_cont together). The scope's semi-join is the cost
    there, built once; three statements at once built it three times (a manager's year:
    370 ms in one, 640 ms in three)."""
    quantiles = [func.percentile_cont(postgresql.array([0.5, 0.95])).within_group(v)
                 .label(name) for v, name in zip(latencies, ("notify", "open"), strict=True)]
    sort_in_memory()
    stmt = (select(OutboxMessage.channel, func.grouping(OutboxMessage.channel).label("all"),
                   *counts, *quantiles)
            .select_from(source).where(*where)
            .group_by(func.grouping_sets(tuple_(OutboxMessage.channel), tuple_())))
    count_rows, per_channel, overall = [], {}, [(None, None), (None, None)]
    for r in db.session.execute(stmt):
        pairs = [_pair(r.notify), _pair(r.open)]
        if r.all:
            overall = pairs
        else:
            count_rows.append(r)
            per_channel[r.channel] = pairs
    return count_rows, per_channel, overall


def _pair(value) -> tuple:
    return tuple(None if v is None else float(v) for v in (value or (None, None)))


def _quantile_stmts(source, where: list, latencies: list) -> list:
    """PostgreSQL: for each latency, one statement over the rows that have it giving its
    p50 / p95 per known channel and overall: percentile_cont in the array form (one sort
    gives both) with FILTER per channel, which sorts each channel's values alone, where
    GROUP BY channel first sorted every row by channel (a quarter of the time)."""
    stmts = []
    for value, end in zip(latencies, (OutboxMessage.sent_at, OutboxMessage.read_at),
                          strict=True):
        def quantiles(value=value):
            return func.percentile_cont(postgresql.array([0.5, 0.95])).within_group(value)
        stmts.append(select(*[quantiles().filter(OutboxMessage.channel == channel)
                              for channel in KNOWN_CHANNELS], quantiles())
                     .select_from(source).where(*where, end.is_not(None)))
    return stmts


@dataclass(frozen=True)
class Promise:
    minutes: int
    due: int
    kept: int

    @property
    def percent(self) -> float | None:
        return 100.0 * self.kept / self.due if self.due else None


def _promise_counts(minutes: int, now: datetime) -> list:
    """The count columns (due, kept) of the promise over outbox rows: candidate messages
    sent within `minutes`, of those sent or unsent and older than the promise."""
    candidate = OutboxMessage.recipient_type == CANDIDATE
    sent = OutboxMessage.sent_at.is_not(None)
    took = seconds_between(OutboxMessage.created_at, OutboxMessage.sent_at)
    overdue = OutboxMessage.created_at < now - timedelta(minutes=minutes)
    return [func.count(case((candidate & or_(sent, overdue), 1))).label("due"),
            func.count(case((candidate & sent & (took <= minutes * 60), 1))).label("kept")]


@dataclass(frozen=True)
class Unreachable:
    public_id: str
    number: str
    candidate: str
    title: str
    department: str
    messages: int
    last_at: datetime | None


def unreachable(actor: Actor, f: ReportFilters, limit: int | None = None) -> list[Unreachable]:
    """Interviews whose candidate nobody could reach in the period, latest first (the
    latest message of each), then by number.

    With a limit (the report page): the finally failed candidate messages are walked
    newest first, each kept only when no candidate message of its interview in the period
    got through, until `limit` interviews are found (the walk reads a few hundred rows
    where grouping a year of messages read 200,000). Without (the export): every
    interview's candidate messages grouped."""
    source, where = _scoped(actor, f, OutboxMessage.recipient_type == CANDIDATE,
                            OutboxMessage.interview_id.is_not(None))
    if limit:
        found = _latest_unreachable(f, where, limit)
        if not found:
            return []
        failed = (select(OutboxMessage.interview_id, func.count().label("messages"),
                         func.max(OutboxMessage.created_at).label("last_at"))
                  .select_from(source)
                  .where(*where, OutboxMessage.interview_id.in_(found))
                  .group_by(OutboxMessage.interview_id))
    else:
        failed = (select(OutboxMessage.interview_id, func.count().label("messages"),
                         func.max(OutboxMessage.created_at).label("last_at"))
                  .select_from(source).where(*where)
                  .group_by(OutboxMessage.interview_id)
                  .having(func.count(case((OutboxMessage.status.notin_(FINAL_FAILURES), 1)))
                          == 0))
    failed = failed.subquery()
    stmt = (select(Interview.public_id, Interview.number, Candidate.name, Position.title,
                   Position.department, failed.c.messages, failed.c.last_at)
            .select_from(failed.join(Interview.__table__, Interview.id == failed.c.interview_id)
                         .join(Position.__table__, Position.id == Interview.position_id)
                         .join(Candidate.__table__, Candidate.id == Interview.candidate_id))
            .order_by(failed.c.last_at.desc(), Interview.number))
    rows = [Unreachable(r.public_id, r.number, r.name, r.title, r.department, r.messages,
                        r.last_at) for r in db.session.execute(stmt)]
    return rows[:limit] if limit else rows


WALK_ROWS = 500


def _latest_unreachable(f: ReportFilters, where: list, limit: int) -> list[int]:
    """The ids of the `limit` interviews (and any tied with the last one) whose latest
    candidate messages are the newest among those nobody could reach, read newest first
    in pages of WALK_ROWS through the created_at index."""
    other = aliased(OutboxMessage)
    got_through = exists().where(
        other.interview_id == OutboxMessage.interview_id,
        other.recipient_type == CANDIDATE,
        other.status.notin_((*FINAL_FAILURES, OutboxStatus.SKIPPED)),
        *f.in_period(other.created_at))
    latest: dict[int, datetime] = {}
    after: tuple | None = None
    while True:
        stmt = (select(OutboxMessage.id, OutboxMessage.interview_id, OutboxMessage.created_at)
                .where(*where, OutboxMessage.status.in_(FINAL_FAILURES), ~got_through)
                .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
                .limit(WALK_ROWS))
        if after is not None:
            stmt = stmt.where(tuple_(OutboxMessage.created_at, OutboxMessage.id) < after)
        rows = db.session.execute(stmt).all()
        for row in rows:
            if len(latest) >= limit and row.created_at < min(latest.values()):
                return list(latest)
            latest.setdefault(row.interview_id, row.created_at)
        if len(rows) < WALK_ROWS:
            return list(latest)
        after = (rows[-1].created_at, rows[-1].id)
