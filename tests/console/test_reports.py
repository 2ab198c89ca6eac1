"""Reports: every figure equals a count computed here from the rows this test seeded
(per day and week in Beijing time, per reason, category, initiator, position, the
per-channel funnel, latency percentiles, the promise, unreachable candidates); each role
sees only its departments; interviewers get 403; bad periods get a Chinese error."""
from __future__ import annotations

import csv
import io
import math
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook

from app.core.timeutil import SHANGHAI
from app.extensions import db
from app.models import InterviewStatus, OutboxStatus, Role
from app.services.reports import figures
from app.services.users.actor import Actor
from tests.console.report_data import (
    DEPARTMENTS,
    FROM,
    INITIATOR_OF,
    NOW,
    PROMISE_MINUTES,
    TO,
    in_period,
    local_day,
    seed,
)
from tests.factories import console_login, hr_user


def percentile_cont(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@pytest.fixture
def seeded(app):
    return seed(app)


def actor_of(app, username: str, role: Role, departments=()) -> Actor:
    user_id = hr_user(app, username, role=role, departments=departments)
    with app.app_context():
        from app.models import HrUser

        return Actor.hr(db.session.get(HrUser, user_id))


def filters(**kw):
    return figures.report_filters(FROM.isoformat(), TO.isoformat(), **kw)


# --- cancellations ------------------------------------------------------------------------

@pytest.mark.parametrize("scope", ["admin", "sales_manager"])
def test_cancellation_figures_equal_independent_counts(app, seeded, scope):
    if scope == "admin":
        actor, departments = actor_of(app, "boss", Role.ADMIN), DEPARTMENTS
    else:
        actor = actor_of(app, "sales", Role.RECRUITING_MANAGER, ("销售部",))
        departments = ("销售部",)
    expected = seeded.effective(departments)
    assert expected, "the seed must give this scope cancellations"
    with app.app_context():
        report = figures.cancellation_report(actor, filters())
    at = [c["decided_at"] or c["requested_at"] for c in expected]
    assert report.per_day == Counter(local_day(t) for t in at)
    weeks = Counter()
    for t in at:
        d = t.astimezone(SHANGHAI).date()
        weeks[(d - timedelta(days=d.weekday())).isoformat()] += 1
    assert report.per_week == weeks
    assert {r.code: r.count for r in report.by_reason} == Counter(c["reason"] for c in expected)
    assert report.by_category == Counter(c["category"] for c in expected)
    assert report.by_initiator == Counter(INITIATOR_OF[c["actor_type"]] for c in expected)
    assert report.total == len(expected)


def test_cancellations_count_on_the_beijing_day(app):
    """23:30 UTC on 1 March is 07:30 on 2 March in Beijing: it counts on 2 March."""
    from tests.factories import cancellation, interview

    actor = actor_of(app, "boss", Role.ADMIN)
    iv = interview(app, status=InterviewStatus.CANCELLED)
    cancellation(app, iv.id, requested_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC),
                 decided_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    with app.app_context():
        report = figures.cancellation_report(actor, filters())
    assert report.per_day == {"2026-03-02": 1}
    assert report.per_week == {"2026-03-02": 1}


def test_position_rates_against_the_overall_rate_and_the_alert_rule(app, seeded):
    actor = actor_of(app, "boss", Role.ADMIN)
    rows = [i for i in seeded.interviews if in_period(i["scheduled_at"])]
    per = defaultdict(lambda: [0, 0])
    for i in rows:
        per[i["position"]][0] += 1
        per[i["position"]][1] += i["status"] == InterviewStatus.CANCELLED
    with app.app_context():
        from app.services.rules import update_rules

        update_rules({"cancel_rate_alert_percent": 35}, actor_id=None)
        db.session.commit()
        report = figures.position_report(actor, filters())
    assert {p.title: [p.interviews, p.cancelled] for p in report.positions} == dict(per)
    total, cancelled = len(rows), sum(v[1] for v in per.values())
    assert report.overall_rate == pytest.approx(cancelled / total)
    assert report.alert_percent == 35
    flagged = {p.title for p in report.positions if report.flagged(p)}
    assert flagged == {t for t, (n, c) in per.items() if 100 * c / n > 35}
    assert flagged and flagged != set(per)   # the seed gives both kinds


# --- notifications ------------------------------------------------------------------------

@pytest.mark.parametrize("scope", ["admin", "tech_specialist"])
def test_notification_funnel_latencies_and_promise(app, seeded, scope):
    if scope == "admin":
        actor, departments = actor_of(app, "boss", Role.ADMIN), (*DEPARTMENTS, None)
    else:
        actor = actor_of(app, "tech", Role.RECRUITING_SPECIALIST, ("技术部",))
        departments = ("技术部",)
    messages = seeded.period_messages(departments)
    with app.app_context():
        report = figures.notification_report(actor, filters(), now=NOW)
    by_channel = defaultdict(list)
    for m in messages:
        by_channel[m["channel"]].append(m)
    got = {c.channel: c for c in report.channels}
    assert set(got) == set(by_channel)
    for channel, rows in by_channel.items():
        c = got[channel]
        assert c.queued == len(rows)
        assert c.sent == sum(m["sent_at"] is not None for m in rows)
        assert c.delivered == sum(m["delivered_at"] is not None or m["read_at"] is not None
                                  for m in rows)
        assert c.opened == sum(m["read_at"] is not None for m in rows)
        assert c.failed == sum(m["status"] in (OutboxStatus.FAILED, OutboxStatus.UNREACHABLE)
                               for m in rows)
        notify = [(m["sent_at"] - m["created_at"]).total_seconds() for m in rows
                  if m["sent_at"]]
        opened = [(m["read_at"] - m["sent_at"]).total_seconds() for m in rows if m["read_at"]]
        for got_value, want in ((c.notify_p50, percentile_cont(notify, 0.5)),
                                (c.notify_p95, percentile_cont(notify, 0.95)),
                                (c.open_p50, percentile_cont(opened, 0.5)),
                                (c.open_p95, percentile_cont(opened, 0.95))):
            assert got_value == (None if want is None else pytest.approx(want, abs=0.01))
        if c.sent:
            assert c.arrival_rate == pytest.approx(c.delivered / c.sent)
    all_notify = [(m["sent_at"] - m["created_at"]).total_seconds() for m in messages
                  if m["sent_at"]]
    assert report.total.queued == len(messages)
    assert report.total.notify_p95 == pytest.approx(percentile_cont(all_notify, 0.95), abs=0.01)
    candidate = [m for m in messages if m["recipient_type"] == "candidate"]
    kept = sum(1 for m in candidate if m["sent_at"] and
               (m["sent_at"] - m["created_at"]).total_seconds() <= PROMISE_MINUTES * 60)
    assert report.promise.due == len(candidate)      # NOW is days after the period
    assert report.promise.kept == kept
    assert report.promise.percent == pytest.approx(100 * kept / len(candidate))
    unreached = defaultdict(list)
    for m in candidate:
        unreached[m["number"]].append(m["status"])
    expected = {n for n, statuses in unreached.items()
                if all(s in (OutboxStatus.FAILED, OutboxStatus.UNREACHABLE) for s in statuses)}
    assert {u.number for u in report.unreachable} == expected


def test_an_unsent_message_inside_the_promise_is_not_yet_counted(app, make_interview,
                                                                 make_message):
    actor = actor_of(app, "boss", Role.ADMIN)
    iv = make_interview()
    now = datetime.now(UTC)
    make_message(iv.id, status=OutboxStatus.QUEUED, sent_at=None,
                 created_at=now - timedelta(minutes=5))              # not yet due
    make_message(iv.id, status=OutboxStatus.RETRYING, sent_at=None,
                 created_at=now - timedelta(minutes=90))             # due, missed
    make_message(iv.id, status=OutboxStatus.SENT, created_at=now - timedelta(minutes=30),
                 sent_at=now - timedelta(minutes=29))                # kept
    with app.app_context():
        report = figures.notification_report(actor, figures.report_filters(), now=now)
    assert (report.promise.due, report.promise.kept) == (2, 1)
    assert report.promise.percent == 50.0


def test_a_message_withdrawn_at_dispatch_counts_nowhere(app, make_interview, make_message):
    """Skipped (the interview changed before it went out): never owed, so neither queued,
    due, missed nor overdue."""
    from app.queries.notifications.promise import promise_stats

    actor = actor_of(app, "boss", Role.ADMIN)
    iv = make_interview()
    now = datetime.now(UTC)
    make_message(iv.id, status=OutboxStatus.SKIPPED, sent_at=None,
                 created_at=now - timedelta(minutes=90))
    make_message(iv.id, status=OutboxStatus.SENT, created_at=now - timedelta(minutes=30),
                 sent_at=now - timedelta(minutes=29))
    with app.app_context():
        report = figures.notification_report(actor, figures.report_filters(), now=now)
        stats = promise_stats(actor=actor, now=now)
    assert report.total.queued == 1
    assert (report.promise.due, report.promise.kept) == (1, 1)
    assert stats.overdue == []


# --- scope and access ---------------------------------------------------------------------

def test_a_sales_manager_never_sees_tech_figures(app, client, seeded):
    hr_user(app, "sales", role=Role.RECRUITING_MANAGER, departments=("销售部",))
    assert console_login(client, "sales").status_code == 302
    args = {"date_from": FROM.isoformat(), "date_to": TO.isoformat()}
    for key in ("cancellations", "positions", "notifications"):
        page = client.get(f"/console/reports/{key}", query_string=args)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "Java工程师" not in html and "前端工程师" not in html
    # Asking for 技术部 explicitly gives nothing either.
    html = client.get("/console/reports/positions",
                      query_string={**args, "department": "技术部"}).get_data(as_text=True)
    assert "Java工程师" not in html and "所选周期内没有数据" in html
    rows = list(csv.reader(io.StringIO(client.get(
        "/console/reports/positions/export/positions.csv",
        query_string=args).get_data(as_text=True).lstrip("\ufeff"))))
    assert {r[0] for r in rows[1:-1]} == {"销售部"}
    assert int(rows[-1][2]) == sum(1 for i in seeded.interviews if in_period(i["scheduled_at"])
                                   and i["department"] == "销售部")


@pytest.mark.parametrize("path", ["/console/reports", "/console/reports/cancellations",
                                  "/console/reports/notifications",
                                  "/console/reports/positions/export/positions.xlsx",
                                  "/console/interviews/export.csv"])
def test_an_interviewer_gets_403(app, client, path):
    hr_user(app, "iv", role=Role.INTERVIEWER)
    console_login(client, "iv")
    response = client.get(path)
    assert response.status_code == 403
    assert "没有权限" in response.get_data(as_text=True)


def test_reports_need_login(client):
    assert client.get("/console/reports/cancellations").status_code == 302


def test_the_service_refuses_an_interviewer(app):
    from app.core.errors import Forbidden

    actor = actor_of(app, "iv", Role.INTERVIEWER, ("技术部",))
    with app.app_context(), pytest.raises(Forbidden) as caught:
        figures.cancellation_report(actor, filters())
    assert caught.value.code == "reports_forbidden"


@pytest.mark.parametrize("args, code_message", [
    ({"date_from": "2026-03-10", "date_to": "2026-03-01"}, "开始日期不能晚于结束日期"),
    ({"date_from": "2025-01-01", "date_to": "2026-03-01"}, "统计周期最长"),
    ({"date_from": "03/01/2026"}, "格式有误"),
])
def test_a_bad_period_gets_a_chinese_error(app, client, args, code_message):
    hr_user(app, "boss", role=Role.ADMIN)
    console_login(client, "boss")
    page = client.get("/console/reports/cancellations", query_string=args)
    assert page.status_code == 422
    assert code_message in page.get_data(as_text=True)
    export = client.get("/console/reports/cancellations/export/daily.csv", query_string=args)
    assert export.status_code == 422
    assert code_message in export.get_data(as_text=True)


def test_unknown_report_or_table_is_404(app, client):
    hr_user(app, "boss", role=Role.ADMIN)
    console_login(client, "boss")
    assert client.get("/console/reports/nope").status_code == 404
    assert client.get("/console/reports/cancellations/export/nope.csv").status_code == 404
    assert client.get("/console/reports/cancellations/export/daily.pdf").status_code == 404


# --- pages and exports --------------------------------------------------------------------

def test_pages_carry_chart_data_and_tables(app, client, seeded):
    hr_user(app, "boss", role=Role.ADMIN)
    console_login(client, "boss")
    args = {"date_from": FROM.isoformat(), "date_to": TO.isoformat()}
    html = client.get("/console/reports/cancellations", query_string=args).get_data(as_text=True)
    for key in ("daily", "weekly", "reasons", "categories", "initiators"):
        assert f'data-chart="chart-{key}"' in html
        assert f'<script type="application/json" id="chart-{key}">' in html
    assert "<script>" not in html                      # no inline code: CSP 'self'
    assert "vendor/echarts/echarts.min.js" in html
    html = client.get("/console/reports/notifications", query_string=args).get_data(as_text=True)
    assert "各渠道通知漏斗" in html and "无法触达的候选人" in html


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_report_table_round_trip(app, client, seeded, fmt):
    hr_user(app, "boss", role=Role.ADMIN)
    console_login(client, "boss")
    response = client.get(f"/console/reports/cancellations/export/reasons.{fmt}",
                          query_string={"date_from": FROM.isoformat(),
                                        "date_to": TO.isoformat()})
    assert response.status_code == 200
    assert response.is_streamed
    rows = read_back(response.get_data(), fmt)
    assert rows[0] == ["原因", "原因代码", "类别", "取消数", "占比（%）"]
    got = {r[1]: int(r[3]) for r in rows[1:]}
    assert got == Counter(c["reason"] for c in seeded.effective())
    labels = {r[1]: r[0] for r in rows[1:]}
    assert labels.get("formula") == "'=1+2"        # neutralised, never a formula
    with app.app_context():
        from app.models import AuditEntry

        entry = db.session.scalars(db.select(AuditEntry).where(
            AuditEntry.action == "report.exported")).one()
    assert entry.data["report"] == "cancellations.reasons" and entry.data["format"] == fmt


def read_back(body: bytes, fmt: str) -> list[list[str]]:
    if fmt == "csv":
        assert body.startswith("\ufeff".encode())
        return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    width = len(rows[0]) if rows else 0        # read-only mode drops trailing empty cells
    return [row + [""] * (width - len(row)) for row in rows]


def test_percentiles_interpolate_as_percentile_cont_on_both_backends(app, make_interview,
                                                                     make_message):
    """1, 2, 3, 4 and 10 seconds to send: p50 3, p95 8.8 (linear between ranks 4 and 5);
    an unsent message is left out, not counted as zero."""
    from app.models import OutboxMessage
    from app.queries.reports.sql import percentiles, seconds_between

    iv = make_interview()
    created = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    for seconds in (1, 2, 3, 4, 10):
        make_message(iv.id, created_at=created, sent_at=created + timedelta(seconds=seconds))
    make_message(iv.id, status=OutboxStatus.QUEUED, created_at=created, sent_at=None)
    with app.app_context():
        found = percentiles(OutboxMessage.__table__,
                            [seconds_between(OutboxMessage.created_at, OutboxMessage.sent_at)],
                            [OutboxMessage.interview_id == iv.id])
    [(p50, p95)] = found[None]
    assert p50 == pytest.approx(3.0, abs=0.01)
    assert p95 == pytest.approx(8.8, abs=0.01)
    assert percentile_cont([1, 2, 3, 4, 10], 0.95) == pytest.approx(8.8)


def test_a_sunday_belongs_to_the_week_of_its_monday(app):
    """Sunday 15 March 2026, 23:59 in Beijing, is in the week of Monday 9 March; Monday
    16 March 00:00 starts the next one."""
    from tests.factories import cancellation, interview

    actor = actor_of(app, "boss", Role.ADMIN)
    for n, local in enumerate(("2026-03-15 23:59", "2026-03-16 00:00")):
        at = datetime.fromisoformat(local).replace(tzinfo=SHANGHAI).astimezone(UTC)
        iv = interview(app, f"AI-W-{n}", status=InterviewStatus.CANCELLED)
        cancellation(app, iv.id, requested_at=at, decided_at=at)
    with app.app_context():
        report = figures.cancellation_report(actor, figures.report_filters(
            "2026-03-09", "2026-03-22"))
    assert report.per_day == {"2026-03-15": 1, "2026-03-16": 1}
    assert report.per_week == {"2026-03-09": 1, "2026-03-16": 1}


def test_the_latest_unreachable_walk_equals_the_full_grouping(app, seeded, monkeypatch):
    """The report page's newest-first walk (any page size, any limit) lists the same
    interviews, in the same order, as grouping every message (the export)."""
    from app.queries.reports import notifications

    actor = actor_of(app, "boss", Role.ADMIN)
    with app.app_context():
        everything = notifications.unreachable(actor, filters())
        assert len(everything) >= 2
        for walk_rows in (1, 2, 500):
            monkeypatch.setattr(notifications, "WALK_ROWS", walk_rows)
            for limit in range(1, len(everything) + 2):
                assert notifications.unreachable(actor, filters(), limit) == \
                    everything[:limit], (walk_rows, limit)
