"""Outbox dispatcher throughput: one worker against the WeChat sandbox answering each send
after 50 ms, on PostgreSQL + Redis.

Prints, in the same run: the single-threaded send rate (baseline), one worker's rate
(target >= 200 messages/s), and commit-to-sent latency p50/p99 while messages arrive at a
steady rate below capacity (target p99 < 2 s).
"""
from __future__ import annotations

import os
import sys
import threading
import time
import uuid

import requests
from sqlalchemy import create_engine, func, insert, select, text

from bench.cancel_endpoint import PG_ADMIN, REDIS_URL, ROOT, free_port, gunicorn, stop

LATENCY_MS = int(os.environ.get("BENCH_LATENCY_MS", "50"))
BASELINE_MESSAGES = int(os.environ.get("BENCH_BASELINE_MESSAGES", "100"))
THROUGHPUT_MESSAGES = int(os.environ.get("BENCH_MESSAGES", "3000"))
STEADY_RATE = int(os.environ.get("BENCH_STEADY_RATE", "100"))      # messages/s offered
STEADY_SECONDS = int(os.environ.get("BENCH_STEADY_SECONDS", "10"))


def main() -> int:
    db_name = f"aiic_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{db_name}"'))
    db_url = PG_ADMIN.rsplit("/", 1)[0] + "/" + db_name
    prefix = f"aiicbench:{uuid.uuid4().hex[:8]}:"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, APP_ENV="development", DATABASE_URL=db_url, REDIS_URL=REDIS_URL,
               REDIS_KEY_PREFIX=prefix, EMBEDDED_WORKER="0", PUBLIC_BASE_URL=base,
               WECHAT_API_BASE=base + "/_sandbox/wechat")
    os.environ.update({k: env[k] for k in ("APP_ENV", "DATABASE_URL", "REDIS_URL",
                                           "REDIS_KEY_PREFIX", "EMBEDDED_WORKER",
                                           "PUBLIC_BASE_URL", "WECHAT_API_BASE")})
    sys.path.insert(0, str(ROOT))
    from flask_migrate import upgrade

    from app import create_app

    app = create_app()
    server = None
    try:
        with app.app_context():
            upgrade()
            from app.cli.demo import seed_demo

            summary = seed_demo(candidates=4)
        # gthread: the sandbox must answer many 50 ms sends at once, like WeChat does;
        # small pools keep 4 processes x threads under PostgreSQL's connection limit
        os.environ["BENCH_GUNICORN_THREADS"] = "16"
        # delivery pushes are WeChat's work, not the dispatcher's: off, so the sandbox
        # takes as little of this 2-core machine as it can
        server = gunicorn("wsgi:app", port, dict(env, DB_POOL_SIZE="4", DB_MAX_OVERFLOW="4",
                                                 SANDBOX_AUTO_PUSH="0"))
        s = requests.Session()
        for u in summary["hr_users"].values():
            s.post(f"{base}/_sandbox/wechat/followers",
                   json={"openid": f"sandbox-hr-{u['username']}"}).raise_for_status()
        s.post(f"{base}/_sandbox/wechat/faults",
               json={"api": "template_send", "latency_ms": LATENCY_MS}).raise_for_status()
        hr_ids = [u["id"] for u in summary["hr_users"].values()]

        single = run_drain(app, hr_ids, BASELINE_MESSAGES, concurrency=1)
        worker = run_drain(app, hr_ids, THROUGHPUT_MESSAGES,
                           concurrency=app.config["WORKER_CONCURRENCY"])
        p50, p99, offered = run_steady(app, hr_ids)
    finally:
        if server is not None:
            stop(server)
        with app.app_context():
            from app.extensions import db, redis_store

            redis_store.clear_namespace()
            db.engine.dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
    print(f"sandbox latency {LATENCY_MS} ms per send, PostgreSQL + Redis, one worker "
          f"(concurrency {app.config['WORKER_CONCURRENCY']})")
    print(f"single-threaded send rate (baseline): {single:7.1f} messages/s "
          f"({BASELINE_MESSAGES} messages)")
    print(f"one worker:                           {worker:7.1f} messages/s "
          f"({THROUGHPUT_MESSAGES} messages)  = {worker / single:.1f}x baseline "
          f"(target >= 200 messages/s)")
    print(f"steady load {offered:.0f} messages/s for {STEADY_SECONDS}s: commit-to-sent "
          f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms (target p99 < 2000 ms)")
    return 0


def _queue(app, hr_ids, n, tag):
    from app.core.timeutil import utcnow
    from app.extensions import db
    from app.models import OutboxMessage, OutboxStatus

    ctx = {"interview_number": "AI-2026-12-01-001", "candidate_name": "张三",
           "position_title": "Java后端开发工程师", "department": "技术部",
           "scheduled_at": "2026-12-01T10:00:00+08:00", "reason_label": "时间冲突", "note": ""}
    now = utcnow()
    with app.app_context():
        db.session.execute(insert(OutboxMessage), [
            dict(dedupe_key=f"{tag}:{i}", event=f"{tag}:{i}", kind="staff_candidate_cancelled",
                 recipient_type="hr_user", recipient_id=hr_ids[i % len(hr_ids)], context=ctx,
                 status=OutboxStatus.QUEUED, attempts=0, next_attempt_at=now,
                 open_token=f"{tag}-{i}", open_count=0) for i in range(n)])
        db.session.commit()


def run_drain(app, hr_ids, n, concurrency) -> float:
    from app.jobs.worker import Worker

    _queue(app, hr_ids, n, f"drain{concurrency}")
    app.config["WORKER_CONCURRENCY"], saved = concurrency, app.config["WORKER_CONCURRENCY"]
    worker = Worker(app)
    app.config["WORKER_CONCURRENCY"] = saved
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    started = time.perf_counter()
    cpu = time.process_time()
    thread.start()
    _wait_sent(app, prefix=f"drain{concurrency}:", n=n)
    elapsed = time.perf_counter() - started
    print(f"  (concurrency {concurrency}: this process used "
          f"{(time.process_time() - cpu) * 1000 / n:.1f} ms CPU per message)", flush=True)
    worker.stop()
    thread.join(30)
    return n / elapsed


def run_steady(app, hr_ids):
    from app.extensions import db
    from app.jobs.worker import Worker
    from app.models import OutboxMessage
    from app.services.notifications.outbox import wake_dispatcher

    worker = Worker(app)
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    total = STEADY_RATE * STEADY_SECONDS
    interval = 1.0 / STEADY_RATE
    started = time.perf_counter()
    for i in range(total):
        _queue(app, hr_ids, 1, f"steady{i}")
        wake_dispatcher_in(app, wake_dispatcher)
        delay = started + (i + 1) * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    offered = total / (time.perf_counter() - started)
    _wait_sent(app, prefix="steady", n=total)
    worker.stop()
    thread.join(30)
    with app.app_context():
        rows = db.session.execute(select(OutboxMessage.created_at, OutboxMessage.sent_at).where(
            OutboxMessage.dedupe_key.like("steady%"))).all()
    lat = sorted((sent - created).total_seconds() for created, sent in rows)
    return lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))], offered


def wake_dispatcher_in(app, wake):
    with app.app_context():
        wake()


def _wait_sent(app, prefix, n, timeout=300):
    from app.extensions import db
    from app.models import OutboxMessage

    deadline = time.time() + timeout
    while time.time() < deadline:
        with app.app_context():
            done = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.dedupe_key.like(prefix + "%"),
                OutboxMessage.sent_at.is_not(None)))  # sent (or already delivered)
            db.session.remove()
        if done >= n:
            return
        time.sleep(0.05)
    raise RuntimeError(f"only {done}/{n} messages sent before the timeout")


if __name__ == "__main__":
    sys.exit(main())
