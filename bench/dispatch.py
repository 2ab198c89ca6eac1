"""Outbox dispatcher cost: the worker's CPU per message against a bare keep-alive POST of
the same payload to the same sandbox, in the same run (target ratio <= 2).

PostgreSQL + Redis; the WeChat sandbox under gunicorn answers each Official Account
template send after BENCH_LATENCY_MS. Alternating rounds (bare, worker, bare, worker...):
- bare: a process of its own POSTs the very payloads the worker would send (built by
  transmit.wechat_request) with requests.Session, keep-alive, one session per thread,
  WORKER_CONCURRENCY threads: its CPU over the sends;
- worker: a real `flask worker` process (dispatcher only) drains the same number of
  queued rows: its process CPU (every thread) from the moment the rows are queued until
  the last is recorded. The bench's own polling runs in this process and is not counted.
Each round also reads the sandbox's CPU (its gunicorn processes) per message: it does
about as much work per send as the worker, and on a 2-core machine caps messages/s.
Then commit-to-sent latency p50/p99 while messages arrive at a steady rate.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
from sqlalchemy import create_engine, func, insert, select, text

from bench.cancel_endpoint import CLK_TCK, PG_ADMIN, REDIS_URL, ROOT, free_port, gunicorn, stop
from bench.crash_window import start_worker, stop_worker, worker_env

LATENCY_MS = int(os.environ.get("BENCH_LATENCY_MS", "50"))
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))
STEADY_RATE = int(os.environ.get("BENCH_STEADY_RATE", "100"))      # messages/s offered
STEADY_SECONDS = int(os.environ.get("BENCH_STEADY_SECONDS", "5"))
KIND = "staff_candidate_cancelled"
CONTEXT = {"interview_number": "AI-2026-12-01-001", "candidate_name": "张三",
           "position_title": "Java后端开发工程师", "department": "技术部",
           "scheduled_at": "2026-12-01T10:00:00+08:00", "reason_label": "时间冲突", "note": ""}


# --- CPU of processes -------------------------------------------------------------------

def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, every thread) a live process has used."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK if fields else 0.0


def group_cpu(pgid: int) -> float:
    """CPU seconds of every live process of a process group (gunicorn and its workers)."""
    total = 0.0
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat(int(name))
            if fields and int(fields[2]) == pgid:
                total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


# --- the bare client (runs in a process of its own) ------------------------------------

def bare_main(spec_path: str) -> int:
    """POST every payload of the spec file; print {"cpu": seconds, "elapsed": seconds}."""
    spec = json.loads(Path(spec_path).read_text())
    url, payloads, threads = spec["url"], spec["payloads"], spec["threads"]
    bodies = [json.dumps(p, ensure_ascii=False).encode() for p in payloads]
    next_index = iter(range(len(bodies)))
    lock = threading.Lock()
    failures = []

    def run():
        session = requests.Session()
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            answer = session.post(url, data=bodies[i], timeout=30).json()
            if answer.get("errcode"):
                failures.append(answer)

    cpu, started = time.process_time(), time.perf_counter()
    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print(json.dumps({"cpu": time.process_time() - cpu,
                      "elapsed": time.perf_counter() - started, "failures": len(failures)}))
    return 0


def bare_round(app, base: str, followers: list[str], n: int, workdir: Path,
               sandbox_pgid: int) -> dict:
    from app.services.notifications.routing import Route
    from app.services.notifications.transmit import wechat_request

    cfg = app.config
    token = requests.post(f"{base}/_sandbox/wechat/cgi-bin/stable_token", json={
        "grant_type": "client_credential", "appid": cfg["WECHAT_OA_APPID"],
        "secret": cfg["WECHAT_OA_SECRET"]}, timeout=30).json()["access_token"]
    tag = uuid.uuid4().hex[:6]
    payloads = []
    with app.test_request_context():
        for i in range(n):
            route = Route("oa_template", "oa", followers[i % len(followers)])
            path, payload, _ = wechat_request(KIND, CONTEXT, f"bare{tag}{i}", route,
                                              row_id=i, config=cfg)
            payload["client_msg_id"] = f"bare-{tag}-{i}"  # each one a new message
            payloads.append(payload)
    spec = workdir / f"bare-{tag}.json"
    spec.write_text(json.dumps({"url": f"{base}/_sandbox/wechat/cgi-bin/{path}"
                                       f"?access_token={token}",
                                "payloads": payloads, "threads": CONCURRENCY}))
    sandbox_before = group_cpu(sandbox_pgid)
    out = subprocess.run([sys.executable, "-m", "bench.dispatch", "bare", str(spec)],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    sandbox = group_cpu(sandbox_pgid) - sandbox_before
    result = json.loads(out.strip().splitlines()[-1])
    if result["failures"]:
        raise RuntimeError(f"{result['failures']} bare sends were refused")
    return {"cpu_ms": 1000 * result["cpu"] / n, "rate": n / result["elapsed"],
            "sandbox_ms": 1000 * sandbox / n}


# --- the worker -------------------------------------------------------------------------

def _queue(app, hr_ids, n, tag):
    from app.core.timeutil import utcnow
    from app.extensions import db
    from app.models import OutboxMessage, OutboxStatus

    now = utcnow()
    with app.app_context():
        db.session.execute(insert(OutboxMessage), [
            dict(dedupe_key=f"{tag}:{i}", event=f"{tag}:{i}", kind=KIND,
                 recipient_type="hr_user", recipient_id=hr_ids[i % len(hr_ids)],
                 context=CONTEXT, status=OutboxStatus.QUEUED, attempts=0,
                 next_attempt_at=now, open_token=f"{tag}-{i}", open_count=0)
            for i in range(n)])
        db.session.commit()
        from app.services.notifications.outbox import wake_dispatcher

        wake_dispatcher()
        db.session.remove()


def _sent(app, prefix: str) -> int:
    from app.extensions import db
    from app.models import OutboxMessage

    with app.app_context():
        done = db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.dedupe_key.like(prefix + "%"), OutboxMessage.sent_at.is_not(None)))
        db.session.remove()
    return done


def _wait_sent(app, prefix: str, n: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _sent(app, prefix) >= n:
            return
        time.sleep(0.05)
    raise RuntimeError(f"only {_sent(app, prefix)}/{n} messages sent before the timeout")


def worker_round(app, worker, hr_ids, n, sandbox_pgid) -> dict:
    tag = f"w{uuid.uuid4().hex[:6]}"
    cpu, sandbox = process_cpu(worker.pid), group_cpu(sandbox_pgid)
    started = time.perf_counter()
    _queue(app, hr_ids, n, tag)
    _wait_sent(app, tag + ":", n)
    elapsed = time.perf_counter() - started
    return {"cpu_ms": 1000 * (process_cpu(worker.pid) - cpu) / n, "rate": n / elapsed,
            "sandbox_ms": 1000 * (group_cpu(sandbox_pgid) - sandbox) / n}


def steady(app, hr_ids) -> tuple[float, float, float]:
    from app.extensions import db
    from app.models import OutboxMessage

    total = STEADY_RATE * STEADY_SECONDS
    interval = 1.0 / STEADY_RATE
    started = time.perf_counter()
    for i in range(total):
        _queue(app, hr_ids, 1, f"steady{i}")
        delay = started + (i + 1) * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    offered = total / (time.perf_counter() - started)
    _wait_sent(app, "steady", total)
    with app.app_context():
        rows = db.session.execute(select(OutboxMessage.created_at, OutboxMessage.sent_at).where(
            OutboxMessage.dedupe_key.like("steady%"))).all()
        db.session.remove()
    lat = sorted((sent - created).total_seconds() for created, sent in rows)
    return lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))], offered


def main() -> int:
    db_name = f"aiic_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{db_name}"'))
    db_url = PG_ADMIN.rsplit("/", 1)[0] + "/" + db_name
    prefix = f"aiicbench:{uuid.uuid4().hex[:8]}:"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(worker_env(db_url, REDIS_URL, prefix, base),
               WORKER_CONCURRENCY=str(CONCURRENCY), WORKER_SWEEP_SECONDS="5")
    os.environ.update({k: env[k] for k in ("APP_ENV", "DATABASE_URL", "REDIS_URL",
                                           "REDIS_KEY_PREFIX", "EMBEDDED_WORKER",
                                           "PUBLIC_BASE_URL", "WECHAT_API_BASE")})
    sys.path.insert(0, str(ROOT))
    from flask_migrate import upgrade

    from app import create_app

    app = create_app()
    server = worker = None
    bare, work = [], []
    try:
        with app.app_context():
            upgrade()
            from app.cli.demo import seed_demo

            summary = seed_demo(candidates=4)
        # gthread: the sandbox answers many 50 ms sends at once, like WeChat; small pools
        # keep its processes x threads under PostgreSQL's connection limit. Delivery
        # pushes are WeChat's work, not the dispatcher's: off.
        os.environ["BENCH_GUNICORN_THREADS"] = "16"
        server = gunicorn("wsgi:app", port, dict(env, DB_POOL_SIZE="4", DB_MAX_OVERFLOW="4"))
        s = requests.Session()
        followers = [f"sandbox-hr-{u['username']}" for u in summary["hr_users"].values()]
        for openid in followers:
            s.post(f"{base}/_sandbox/wechat/followers", json={"openid": openid},
                   timeout=60).raise_for_status()
        s.post(f"{base}/_sandbox/wechat/faults",
               json={"api": "template_send", "latency_ms": LATENCY_MS}).raise_for_status()
        hr_ids = [u["id"] for u in summary["hr_users"].values()]
        worker = start_worker(env)
        time.sleep(1)
        _queue(app, hr_ids, 200, "warm")  # the worker's first sends: tokens, connections
        _wait_sent(app, "warm:", 200)
        with tempfile.TemporaryDirectory() as tmp:
            bare_round(app, base, followers, 200, Path(tmp), server.pid)  # warm
            for _ in range(ROUNDS):
                bare.append(bare_round(app, base, followers, MESSAGES, Path(tmp), server.pid))
                work.append(worker_round(app, worker, hr_ids, MESSAGES, server.pid))
                print(f"  round: bare {bare[-1]['cpu_ms']:.2f} ms CPU/message, worker "
                      f"{work[-1]['cpu_ms']:.2f} ms", flush=True)
        p50, p99, offered = steady(app, hr_ids)
    finally:
        if worker is not None:
            stop_worker(worker)
        if server is not None:
            stop(server)
        with app.app_context():
            from app.extensions import db, redis_store

            redis_store.clear_namespace()
            db.engine.dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))

    def med(rounds, key):
        return statistics.median(r[key] for r in rounds)

    bare_cpu, worker_cpu = med(bare, "cpu_ms"), med(work, "cpu_ms")
    print(f"dispatcher: {MESSAGES} OA template messages per round, {ROUNDS} rounds "
          f"(medians), concurrency {CONCURRENCY}, sandbox answering after {LATENCY_MS} ms, "
          f"PostgreSQL + Redis, {os.cpu_count()} cores")
    print(f"  bare keep-alive POST (requests.Session), baseline: {bare_cpu:5.2f} ms CPU/message"
          f"  {med(bare, 'rate'):6.0f} messages/s   sandbox {med(bare, 'sandbox_ms'):5.2f} ms"
          f" CPU/message")
    print(f"  flask worker (claim, route, send, record):       {worker_cpu:5.2f} ms CPU/message"
          f"  {med(work, 'rate'):6.0f} messages/s   sandbox {med(work, 'sandbox_ms'):5.2f} ms"
          f" CPU/message")
    print(f"  worker / bare POST: {worker_cpu / bare_cpu:.2f}x CPU per message (target <= 2); "
          f"messages/s {med(work, 'rate') / med(bare, 'rate'):.2f}x; the sandbox's share of "
          f"the worker run's CPU: "
          f"{med(work, 'sandbox_ms') / (med(work, 'sandbox_ms') + worker_cpu):.0%}")
    print(f"  steady load {offered:.0f} messages/s for {STEADY_SECONDS}s: commit-to-sent "
          f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms (target p99 < 2000 ms)")
    from bench.results import record

    ratio = worker_cpu / bare_cpu
    record("dispatch", f"worker CPU per message, concurrency {CONCURRENCY}", worker_cpu,
           "ms", baseline=bare_cpu, baseline_label="bare keep-alive requests.Session POST",
           target="ratio <= 2", met=ratio <= 2,
           note=f"sandbox {med(work, 'sandbox_ms'):.2f} ms CPU per message; "
                f"{med(work, 'rate'):.0f} messages/s")
    record("dispatch", "commit-to-sent p99 at a steady load", p99 * 1000, "ms",
           target="< 2000 ms", met=p99 < 2, note=f"{offered:.0f} messages/s offered")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "bare":
        sys.exit(bare_main(sys.argv[2]))
    sys.exit(main())
