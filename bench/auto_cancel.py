"""Auto-cancel of 10,000 overdue interviews in one run of the job vs hand-written bulk SQL
doing the same writes, on PostgreSQL + Redis.

Data: one position (a recruiter and a hiring manager on it), 10,000 candidates with one
interview each, 待确认, due in three days, confirmation deadline an hour ago. Built once and
kept as a template database: every measured side runs on a fresh copy of it (CREATE
DATABASE ... TEMPLATE), in alternating rounds (baseline, ours, baseline, ours, ...).

- ours: `system.auto_cancel_unconfirmed(now)` (the job `auto_cancel_unconfirmed`): the
  cancellation core, set-based: chunks of 1,000 rows locked and read as facts, decided by
  policy.decide_cancel, written by write.apply_chunk (one transaction per chunk).
- baseline: the same rows (interviews, cancellations, audit entries, one outbox row per
  candidate and per staff member with its JSON context and unique dedupe key / open
  token) as the data-modifying CTEs of one statement per chunk of 1,000, one transaction
  per chunk, as one would write by hand.
- reference: the bare bulk UPDATE of the same interviews (one statement, nothing else
  written): how far the whole job is from flipping a status.
- After every side the rows written are counted and must be equal (asserted; the bare
  UPDATE only its interviews).

BENCH_AUTO_CANCEL_INTERVIEWS, BENCH_AUTO_CANCEL_ROUNDS change the run.
Prints seconds of each side and ours/baseline (median of the rounds; target <= 2).
"""
from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, insert, text

from bench.batch_cancel import fresh_copy, pg_url
from bench.cancel_endpoint import PG_ADMIN, REDIS_URL, ROOT

N = int(os.environ.get("BENCH_AUTO_CANCEL_INTERVIEWS", "10000"))
ROUNDS = int(os.environ.get("BENCH_AUTO_CANCEL_ROUNDS", "3"))
CHUNK = 1000
DEPARTMENT = "技术部"


def seed(app) -> dict:
    from flask_migrate import upgrade

    from app.cli.demo import seed_demo
    from app.core.timeutil import utcnow
    from app.extensions import db
    from app.models import Candidate, HrUser, Interview, InterviewStatus, Position, Role
    from app.services.cancellation import system

    with app.app_context():
        upgrade()
        seed_demo(candidates=0)
        system.unconfirmed_reason()    # the job's reason, as its first run creates it
        users = []
        for username, name, role in (("bench-recruiter", "招聘专员甲", Role.RECRUITING_SPECIALIST),
                                     ("bench-hiring", "用人经理乙", Role.INTERVIEWER)):
            user = HrUser(username=username, display_name=name, role=role, active=True)
            user.set_password("bench-pass-2024")
            user.departments = [DEPARTMENT]
            db.session.add(user)
            users.append(user)
        db.session.flush()
        position = Position(title="后端开发工程师", department=DEPARTMENT, level="P5",
                            recruiter_id=users[0].id, hiring_manager_id=users[1].id)
        db.session.add(position)
        db.session.flush()
        now = utcnow()
        cands = db.session.scalars(insert(Candidate).returning(Candidate.id), [
            dict(name=f"候选人{i:05d}") for i in range(N)]).all()
        db.session.execute(insert(Interview), [
            dict(public_id=f"iv_auto{c}", number=f"AI-AUTO-{i:05d}", candidate_id=c,
                 position_id=position.id, status=InterviewStatus.SCHEDULED,
                 scheduled_at=now + timedelta(days=3, minutes=30 * (i % 16)),
                 duration_minutes=30, join_url=f"https://interview.example.com/room/a{i}",
                 confirm_by=now - timedelta(hours=1), version=1,
                 created_at=now - timedelta(days=2), updated_at=now - timedelta(days=2))
            for i, c in enumerate(cands)])
        db.session.commit()
        out = {"position": position.id}
        db.engine.dispose()
    return out


COUNTS = {
    "interviews cancelled": "SELECT count(*) FROM interviews WHERE status = 'cancelled' "
                            "AND version = 2 AND cancelled_at IS NOT NULL",
    "cancellations": "SELECT count(*) FROM cancellations WHERE actor_type = 'system' "
                     "AND actor_rule = 'auto_cancel_unconfirmed'",
    "audit entries": "SELECT count(*) FROM audit_entries WHERE action = 'interview.cancelled'",
    "outbox (candidates)": "SELECT count(*) FROM outbox_messages "
                           "WHERE recipient_type = 'candidate'",
    "outbox (staff)": "SELECT count(*) FROM outbox_messages WHERE recipient_type = 'hr_user'",
    "outbox open tokens": "SELECT count(DISTINCT open_token) FROM outbox_messages",
}
EXPECTED = {"interviews cancelled": N, "cancellations": N, "audit entries": N,
            "outbox (candidates)": N, "outbox (staff)": 2 * N, "outbox open tokens": 3 * N}


def count_rows(url: str) -> dict:
    import psycopg

    with psycopg.connect(url) as conn:
        return {name: conn.execute(sql).fetchone()[0] for name, sql in COUNTS.items()}


def run_ours(app) -> float:
    from app.core.timeutil import utcnow
    from app.extensions import db
    from app.services.cancellation import system

    with app.app_context():
        started = time.perf_counter()
        done = system.auto_cancel_unconfirmed(utcnow())
        elapsed = time.perf_counter() - started
        assert done == N, done
        db.session.remove()
        db.engine.dispose()
    return elapsed


ISO = """to_char(%s AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS"+08:00"')"""
CHUNK_SQL = f"""
WITH due AS (
    SELECT i.id FROM interviews i JOIN positions p ON p.id = i.position_id
    WHERE i.status = 'scheduled' AND i.scheduled_at > %(now)s AND i.confirm_by < %(now)s
    ORDER BY i.scheduled_at, i.id LIMIT {CHUNK} FOR UPDATE OF i
), iv AS (
    UPDATE interviews SET status = 'cancelled', version = version + 1,
           cancelled_at = %(now)s, updated_at = %(now)s
    WHERE id IN (SELECT id FROM due)
    RETURNING id, public_id, number, candidate_id, position_id, scheduled_at
), c AS (
    INSERT INTO cancellations (interview_id, actor_type, actor_id, actor_rule, reason_id,
                               note, state, requested_at, decided_at, created_at, updated_at)
    SELECT id, 'system', NULL, 'auto_cancel_unconfirmed', %(reason_id)s, NULL, 'effective',
           %(now)s, %(now)s, %(now)s, %(now)s
    FROM iv ORDER BY id
    RETURNING id, interview_id
), x AS (
    SELECT c.id AS cid, 'interview.cancelled:' || c.id AS event, iv.*,
           cand.name AS candidate_name, p.title, p.department, p.recruiter_id,
           p.hiring_manager_id, {ISO % "iv.scheduled_at"} AS scheduled_iso
    FROM c JOIN iv ON iv.id = c.interview_id
         JOIN candidates cand ON cand.id = iv.candidate_id
         JOIN positions p ON p.id = iv.position_id
), audit AS (
    INSERT INTO audit_entries (at, actor_type, actor_id, action, object_type, object_id,
                               data)
    SELECT %(now)s, 'system', NULL, 'interview.cancelled', 'interview', x.id,
           json_build_object('reason', 'unconfirmed_timeout', 'note', NULL,
                             'cancellation_id', x.cid, 'number', x.number,
                             'before', json_build_object('status', 'scheduled'),
                             'after', json_build_object('status', 'cancelled'),
                             'rule', 'auto_cancel_unconfirmed')
    FROM x
), messages AS (
    INSERT INTO outbox_messages (dedupe_key, event, kind, interview_id, recipient_type,
                                 recipient_id, context, status, attempts, next_attempt_at,
                                 open_token, open_count, created_at, updated_at)
    SELECT x.event || ':' || r.rtype || ':' || r.rid || ':' || r.kind, x.event, r.kind, x.id,
           r.rtype, r.rid,
           json_build_object('interview_number', x.number,
                             'interview_public_id', x.public_id,
                             'candidate_name', x.candidate_name, 'position_title', x.title,
                             'department', x.department, 'scheduled_at', x.scheduled_iso,
                             'reason_label', %(reason_label)s::text, 'note', '',
                             'actor_type', 'system', 'hr_contact', %(hr_contact)s::text,
                             'reschedule_days', 3),
           'queued', 0, %(now)s, replace(gen_random_uuid()::text, '-', ''), 0,
           %(now)s, %(now)s
    FROM x CROSS JOIN LATERAL (VALUES
        ('candidate', x.candidate_id, 'candidate_cancelled_by_company'),
        ('hr_user', x.recruiter_id, 'staff_interview_cancelled'),
        ('hr_user', x.hiring_manager_id, 'staff_interview_cancelled')) r(rtype, rid, kind)
    WHERE r.rid IS NOT NULL
    ON CONFLICT (dedupe_key) DO NOTHING
)
SELECT count(*) FROM iv"""


def run_baseline(url: str) -> float:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        now = datetime.now(UTC)
        reason_id, reason_label = conn.execute(
            "SELECT id, label FROM cancel_reasons WHERE code = 'unconfirmed_timeout'").fetchone()
        params = {"now": now, "reason_id": reason_id, "reason_label": reason_label,
                  "hr_contact": "请联系招聘HR"}
        done = 0
        while True:
            with conn.transaction():
                n = conn.execute(CHUNK_SQL, params).fetchone()[0]
            done += n
            if n < CHUNK:
                break
    assert done == N, done
    return time.perf_counter() - started


def run_bare_update(url: str) -> float:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        now = datetime.now(UTC)
        n = conn.execute(
            "UPDATE interviews SET status = 'cancelled', version = version + 1, "
            "cancelled_at = %(now)s, updated_at = %(now)s WHERE status = 'scheduled' "
            "AND scheduled_at > %(now)s AND confirm_by < %(now)s", {"now": now}).rowcount
        conn.commit()
    assert n == N, n
    return time.perf_counter() - started


def main() -> int:
    tag = uuid.uuid4().hex[:8]
    template, run = f"aiic_bench_{tag}_t", f"aiic_bench_{tag}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{run}"'))
    run_url = PG_ADMIN.rsplit("/", 1)[0] + "/" + run
    env = dict(APP_ENV="development", DATABASE_URL=run_url, REDIS_URL=REDIS_URL,
               REDIS_KEY_PREFIX=f"aiicbench:{tag}:", EMBEDDED_WORKER="0")
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    from app import create_app

    app = create_app()
    rounds = []
    counts = {}
    try:
        print(f"preparing {N} overdue interviews on PostgreSQL ({run}) ...", flush=True)
        seed(app)
        bench_db = create_engine(run_url, isolation_level="AUTOCOMMIT")
        with bench_db.connect() as c:
            c.execute(text("VACUUM ANALYZE"))
        bench_db.dispose()
        with admin.connect() as c:
            c.execute(text(f'ALTER DATABASE "{run}" RENAME TO "{template}"'))
        url = pg_url(run)
        for i in range(ROUNDS):
            result = {}
            fresh_copy(admin, template, run)
            result["bare"] = run_bare_update(url)
            fresh_copy(admin, template, run)
            result["baseline"] = run_baseline(url)
            base_counts = count_rows(url)
            fresh_copy(admin, template, run)
            result["ours"] = run_ours(app)
            counts = count_rows(url)
            assert base_counts == counts == EXPECTED, (base_counts, counts)
            rounds.append(result)
            print(f"  round {i + 1}: ours {result['ours']:.2f} s, hand-written "
                  f"{result['baseline']:.2f} s, bare UPDATE {result['bare']:.2f} s", flush=True)
    finally:
        with app.app_context():
            from app.extensions import db, redis_store

            redis_store.clear_namespace()
            db.engine.dispose()
        with admin.connect() as c:
            for name in (run, template):
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    med = {k: statistics.median(r[k] for r in rounds) for k in ("ours", "baseline", "bare")}
    ratio = statistics.median(r["ours"] / r["baseline"] for r in rounds)
    bare_ratio = statistics.median(r["ours"] / r["bare"] for r in rounds)
    print(f"auto-cancel of {N} overdue interviews in one run, PostgreSQL + Redis, {ROUNDS} "
          "rounds (each side on a fresh copy of the same data; medians)")
    print("rows written, equal on both sides (asserted): " + ", ".join(
        f"{name} {value}" for name, value in counts.items()))
    print(f"ours (the job, through the cancellation core): {med['ours']:6.2f} s")
    print(f"hand-written bulk SQL, the same writes:        {med['baseline']:6.2f} s")
    print(f"bare bulk UPDATE of the interviews only:       {med['bare']:6.2f} s")
    print("ratio ours/hand-written per round: " + ", ".join(
        f"{r['ours'] / r['baseline']:.2f}" for r in rounds))
    print(f"ratio ours/hand-written bulk SQL: {ratio:.2f} (target <= 2)")
    print(f"ratio ours/bare UPDATE: {bare_ratio:.2f} (reference: the UPDATE writes a fifth of "
          "the rows and tells nobody)")
    from bench.results import record

    record("auto_cancel", f"auto-cancel of {N:,} overdue interviews, one run", med["ours"],
           "s", baseline=med["baseline"], baseline_label="hand-written bulk SQL",
           target="ratio <= 2", met=ratio <= 2,
           note=f"median ratio of rounds {ratio:.2f}; bare UPDATE {med['bare']:.2f} s "
                f"(ratio {bare_ratio:.1f})")
    return 0 if ratio <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
