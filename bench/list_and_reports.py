"""The interview list / search and every report on 1,000,000 interviews in PostgreSQL,
beside a bare indexed single-table count in the same run.

Data (built once with generate_series SQL in a dedicated database, BENCH_REPORTS_DB,
default aiic_bench_reports, and reused while it holds the same number of interviews;
BENCH_REPORTS_REBUILD=1 builds it again, BENCH_REPORTS_DROP=1 drops it at the end):
200 positions in 20 departments, 1,000,000 candidates and interviews spread over the
Beijing year 2026, 20 % cancelled (with their effective cancellations over 8 reasons and
3 initiators), 5 % waiting for approval (requested cancellations), two outbox rows per
cancellation (candidate and HR) over three channels, every status.

Measured in process (the query and service functions the console views call, in an app
context, as an admin and as a recruiting manager of 2 of the 20 departments):
- baseline: SELECT count(*) FROM interviews WHERE scheduled_at in the period (an index
  range count on one table), for 30 days (the list's ratios) and for each report period;
- list / search: list_interviews page 1 with no filter, a status, a week, a department,
  an interview number prefix, a candidate name, the initiator filter, two broad searches
  (a title and a name fragment matching 5 % and 11 % of all interviews), page 50;
- reports: cancellation_report, position_report, notification_report for 30 days (the
  default period) and for 365 days (the longest allowed).
Each case runs BENCH_REPORTS_ROUNDS times (default 15) after a warm-up; prints p50 / p95
in ms and p95 / the baseline's p95 (of the same period). Targets: list p95 <= 300 ms,
each report p95 <= 500 ms.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import date

from sqlalchemy import create_engine, text

from bench.cancel_endpoint import PG_ADMIN, REDIS_URL

N = int(os.environ.get("BENCH_REPORTS_INTERVIEWS", "1000000"))
DB_NAME = os.environ.get("BENCH_REPORTS_DB", "aiic_bench_reports")
ROUNDS = int(os.environ.get("BENCH_REPORTS_ROUNDS", "15"))
POSITIONS, DEPARTMENTS = 200, 20
MANAGER_DEPARTMENTS = ("部门01", "部门02")
LIST_TARGET_MS, REPORT_TARGET_MS = 300, 500
PERIOD_30 = (date(2026, 6, 1), date(2026, 6, 30))
PERIOD_365 = (date(2026, 1, 1), date(2026, 12, 31))

SEED_SQL = """
INSERT INTO hr_users (id, username, display_name, role, password_hash, active, created_at,
                      updated_at, must_change_password)
VALUES (1, 'admin', '王管理', 'admin', 'x', true, now(), now(), false),
       (2, 'manager', '李经理', 'recruiting_manager', 'x', true, now(), now(), false);
INSERT INTO hr_user_departments (user_id, department) VALUES (2, '部门01'), (2, '部门02');
SELECT setval(pg_get_serial_sequence('hr_users', 'id'), 2);

INSERT INTO cancel_reasons (id, code, label, category, actor, requires_note, note_max_length,
                            sort_order, active, created_at, updated_at)
SELECT r.id, r.code, r.label, r.category, r.actor, false, 200, r.id, true, now(), now()
FROM (VALUES (1, 'time_conflict', '时间冲突', 'candidate_initiated', 'candidate'),
             (2, 'found_other_job', '已找到其他工作', 'candidate_initiated', 'candidate'),
             (3, 'personal', '个人原因', 'candidate_initiated', 'candidate'),
             (4, 'other', '其他', 'candidate_initiated', 'candidate'),
             (5, 'position_paused', '岗位暂停招聘', 'position_change', 'company'),
             (6, 'position_filled', '岗位已招满', 'position_change', 'company'),
             (7, 'resume_mismatch', '简历与岗位要求不符', 'candidate_mismatch', 'company'),
             (8, 'system_failure', '系统故障', 'technical', 'company'))
     AS r(id, code, label, category, actor);
SELECT setval(pg_get_serial_sequence('cancel_reasons', 'id'), 8);

INSERT INTO positions (id, title, department, level, is_senior, cancel_requires_review, active,
                       created_at, updated_at)
SELECT p, '岗位' || lpad(p::text, 3, '0'), '部门' || lpad((1 + p % :departments)::text, 2, '0'),
       'P' || (4 + p % 4), false, false, true, now(), now()
FROM generate_series(1, :positions) AS p;
SELECT setval(pg_get_serial_sequence('positions', 'id'), :positions);

INSERT INTO candidates (id, name, created_at, updated_at)
SELECT i, '候选人' || i, now(), now() FROM generate_series(1, :n) AS i;
SELECT setval(pg_get_serial_sequence('candidates', 'id'), :n);

INSERT INTO interviews (id, public_id, number, candidate_id, position_id, status, scheduled_at,
                        duration_minutes, version, created_at, updated_at)
SELECT i, 'iv_bench' || i, 'AI-B-' || lpad(i::text, 7, '0'), i,
       1 + (i::bigint * 7919) % :positions,
       CASE WHEN h < 20 THEN 'cancelled' WHEN h < 25 THEN 'cancel_pending'
            WHEN h < 50 THEN 'confirmed' WHEN h < 70 THEN 'completed' ELSE 'scheduled' END,
       make_timestamptz(2026, 1, 1, 0, 0, 0, 'Asia/Shanghai')
         + ((i::bigint * 104729) % (365 * 24 * 60)) * interval '1 minute',
       30, 1, now(), now()
FROM (SELECT i, (i::bigint * 31) % 100 AS h FROM generate_series(1, :n) AS i) AS g;
SELECT setval(pg_get_serial_sequence('interviews', 'id'), :n);

INSERT INTO cancellations (interview_id, actor_type, actor_id, reason_id, state, requested_at,
                           decided_at, created_at, updated_at)
SELECT iv.id, (ARRAY['candidate', 'hr', 'system'])[1 + iv.id % 3],
       CASE WHEN iv.id % 3 = 1 THEN 2 END, 1 + iv.id % 8,
       CASE WHEN iv.status = 'cancelled' THEN 'effective' ELSE 'requested' END,
       iv.scheduled_at - (1 + iv.id % 72) * interval '1 hour',
       CASE WHEN iv.status = 'cancelled' THEN iv.scheduled_at - (1 + iv.id % 72) * interval '1 hour'
            + CASE WHEN iv.id % 5 = 0 THEN interval '2 hours' ELSE interval '0' END END,
       now(), now()
FROM interviews iv WHERE iv.status IN ('cancelled', 'cancel_pending');

INSERT INTO outbox_messages (dedupe_key, event, kind, interview_id, recipient_type,
                             recipient_id, app, channel, context, status, attempts,
                             next_attempt_at, sent_at, delivered_at, read_at, open_count,
                             created_at, updated_at)
SELECT 'bench:' || c.id || ':' || r.who, 'interview.cancelled', 'interview_cancelled',
       c.interview_id, r.who, CASE WHEN r.who = 'candidate' THEN c.interview_id ELSE 2 END,
       'mp', (ARRAY['subscribe', 'oa_template', 'sms'])[1 + (c.id + r.k) % 3], '{}',
       s.status, 1, c.at,
       CASE WHEN s.status NOT IN ('queued', 'unreachable')
                 AND NOT (s.status = 'failed' AND c.id % 2 = 0)
            THEN c.at + ((c.id * 17) % 5400) * interval '1 second' END,
       CASE WHEN s.status IN ('delivered', 'read')
            THEN c.at + ((c.id * 17) % 5400 + 5) * interval '1 second' END,
       CASE WHEN s.status = 'read'
            THEN c.at + ((c.id * 17) % 5400 + (c.id * 7) % 7200) * interval '1 second' END,
       0, c.at, c.at
FROM (SELECT id, interview_id, coalesce(decided_at, requested_at) AS at FROM cancellations
      WHERE state = 'effective') AS c
CROSS JOIN (VALUES ('candidate', 0), ('hr_user', 1)) AS r(who, k)
CROSS JOIN LATERAL (SELECT CASE WHEN m < 2 THEN 'failed' WHEN m < 3 THEN 'unreachable'
                                WHEN m < 4 THEN 'queued' WHEN m < 9 THEN 'sent'
                                WHEN m < 16 THEN 'delivered' ELSE 'read' END AS status
                    FROM (SELECT ((c.id + r.k) * 13) % 20 AS m) AS mm) AS s;
"""


def database_url() -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + DB_NAME


def prepare() -> None:
    """Create, migrate and fill the database unless it already holds the data."""
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :d"),
                             {"d": DB_NAME})
        if exists and os.environ.get("BENCH_REPORTS_REBUILD") == "1":
            conn.execute(text(f'DROP DATABASE "{DB_NAME}" WITH (FORCE)'))
            exists = None
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    admin.dispose()
    engine = create_engine(database_url())
    with engine.connect() as conn:
        has_schema = conn.scalar(text("SELECT to_regclass('interviews') IS NOT NULL"))
        count = conn.scalar(text("SELECT count(*) FROM interviews")) if has_schema else None
    engine.dispose()
    if count:
        if count != N:
            raise SystemExit(f"{DB_NAME} holds {count} interviews, not {N}: "
                             "set BENCH_REPORTS_REBUILD=1")
        print(f"reusing {DB_NAME} ({N:,} interviews)")
        _upgrade()    # a migration added since the data was built (indexes) applies
        return
    started = time.perf_counter()
    _upgrade()
    engine = create_engine(database_url(), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("SET synchronous_commit = off"))
        for statement in [s for s in SEED_SQL.split(";\n") if s.strip()]:
            conn.execute(text(statement), {"n": N, "positions": POSITIONS,
                                           "departments": DEPARTMENTS})
        conn.execute(text("VACUUM ANALYZE"))
        counts = {t: conn.scalar(text(f"SELECT count(*) FROM {t}"))
                  for t in ("interviews", "cancellations", "outbox_messages")}
    engine.dispose()
    print(f"built {DB_NAME} in {time.perf_counter() - started:.0f} s: {counts}")


def _upgrade() -> None:
    from flask_migrate import upgrade

    from app import create_app

    with create_app().app_context():
        upgrade()


def timed(fn, rounds: int = ROUNDS) -> tuple[float, float]:
    """p50 and p95 in ms of `rounds` calls after one warm-up call."""
    from app.extensions import db

    fn()
    db.session.rollback()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
        db.session.rollback()
    samples.sort()
    p95 = samples[min(len(samples) - 1, max(0, round(0.95 * len(samples) + 0.5) - 1))]
    return statistics.median(samples), p95


def _record(case: str, p50: float, p95: float, baseline: tuple[float, float],
            target_ms: int, period: str = "30 days") -> None:
    from bench.results import record

    record("list_and_reports", f"{case}, p95", p95, "ms",
           baseline=baseline[1], baseline_label=f"bare indexed count, {period}, p95",
           target=f"<= {target_ms} ms", met=p95 <= target_ms, note=f"p50 {p50:.0f} ms")


def main() -> int:
    os.environ.update(APP_ENV="development", DATABASE_URL=database_url(), REDIS_URL=REDIS_URL,
                      EMBEDDED_WORKER="0", REDIS_KEY_PREFIX="aiicbench:reports:")
    prepare()
    from sqlalchemy import select

    from app import create_app
    from app.extensions import db
    from app.models import ActorType, HrUser, InterviewStatus
    from app.queries.interviews.console import Filters, list_interviews
    from app.services.reports import figures
    from app.services.users.actor import Actor

    app = create_app()
    failed = []
    with app.app_context():
        admin = Actor.hr(db.session.scalars(select(HrUser).where(HrUser.username == "admin")).one())
        manager = Actor.hr(db.session.scalars(
            select(HrUser).where(HrUser.username == "manager")).one())
        db.session.rollback()
        baselines = {}
        for label, period in (("30 days", PERIOD_30), ("365 days", PERIOD_365)):
            f = figures.report_filters(*(d.isoformat() for d in period))

            def baseline(f=f):
                db.session.execute(text("SELECT count(*) FROM interviews WHERE scheduled_at "
                                        ">= :a AND scheduled_at < :b"),
                                   {"a": f.start, "b": f.end}).scalar()

            baselines[label] = timed(baseline)
            print(f"baseline: bare indexed count of one table ({label}): "
                  f"p50 {baselines[label][0]:.1f} ms, p95 {baselines[label][1]:.1f} ms")
        base95 = baselines["30 days"][1]
        week = Filters(date_from=date(2026, 6, 1), date_to=date(2026, 6, 7))
        cases = [
            ("list: no filter, page 1", admin, Filters()),
            ("list: no filter, page 1 (manager, 2 of 20 departments)", manager, Filters()),
            ("list: status 已取消", admin, Filters(status=InterviewStatus.CANCELLED)),
            ("list: one week", admin, week),
            ("list: one department", admin, Filters(department="部门07")),
            ("list: number prefix AI-B-00012", admin, Filters(q="AI-B-00012")),
            ("list: candidate name 候选人123456", admin, Filters(q="候选人123456")),
            ("list: candidate name (manager)", manager, Filters(q="候选人123456")),
            ("list: cancelled by the company (initiator)", admin,
             Filters(initiator=ActorType.HR)),
            ("list: position title 岗位01 (50,000 matches)", admin, Filters(q="岗位01")),
            ("list: candidate name 候选人1 (111,112 matches)", admin, Filters(q="候选人1")),
        ]
        print(f"\n{'case':58} {'p50 ms':>8} {'p95 ms':>8} {'x base':>8}  target")
        for name, actor, filters in cases:
            p50, p95 = timed(lambda a=actor, f=filters: list_interviews(actor=a, filters=f))
            ok = p95 <= LIST_TARGET_MS
            failed += [] if ok else [name]
            print(f"{name:58} {p50:8.1f} {p95:8.1f} {p95 / base95:8.1f}  "
                  f"<= {LIST_TARGET_MS} ms: {'met' if ok else 'MISSED'}")
            _record(name, p50, p95, baselines["30 days"], LIST_TARGET_MS)
        p50, p95 = timed(lambda: list_interviews(actor=admin, filters=Filters(), page=50))
        ok = p95 <= LIST_TARGET_MS
        failed += [] if ok else ["list: page 50"]
        print(f"{'list: no filter, page 50':58} {p50:8.1f} {p95:8.1f} {p95 / base95:8.1f}  "
              f"<= {LIST_TARGET_MS} ms: {'met' if ok else 'MISSED'}")
        _record("list: no filter, page 50", p50, p95, baselines["30 days"], LIST_TARGET_MS)
        for label, period in (("30 days", PERIOD_30), ("365 days", PERIOD_365)):
            f = figures.report_filters(*(d.isoformat() for d in period))
            for who, actor in (("admin", admin), ("manager", manager)):
                for report in (figures.cancellation_report, figures.position_report,
                               figures.notification_report):
                    name = f"{report.__name__} {label} ({who})"
                    p50, p95 = timed(lambda r=report, a=actor, f=f: r(a, f))
                    ok = p95 <= REPORT_TARGET_MS
                    failed += [] if ok else [name]
                    print(f"{name:58} {p50:8.1f} {p95:8.1f} "
                          f"{p95 / baselines[label][1]:8.1f}  "
                          f"<= {REPORT_TARGET_MS} ms: {'met' if ok else 'MISSED'}")
                    _record(name, p50, p95, baselines[label], REPORT_TARGET_MS, label)
    if os.environ.get("BENCH_REPORTS_DROP") == "1":
        admin_engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        admin_engine.dispose()
    print("\nall targets met" if not failed else f"\ntargets missed: {', '.join(failed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
