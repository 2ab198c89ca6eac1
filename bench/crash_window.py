"""The crash window, measured: a real `flask worker` process sends subscribe messages to
the WeChat sandbox (over HTTP, each send answered after BENCH_CRASH_LATENCY_MS) and is
killed with SIGKILL at a random moment while its sends are in flight; a second worker
then sends what the dead one left `sending` once the lease ran out. 20 rounds.

Counted per message, over all rounds, from what the sandbox received (a subscribe
message carries no client_msg_id, so WeChat would not drop a repeat):
- lost: a queued message the candidate never received, or a row that did not end sent
  (target 0, always);
- duplicated: a message the candidate received twice. The sandbox, like WeChat, accepts
  a send whose sender died while the request was on its way (it cannot know), so every
  send in flight at the kill, from the moment its request left until its record was
  committed, may come back as a duplicate: that is the residual window, bounded by the
  number of sends in flight (WORKER_CONCURRENCY) and their round trip. A send already
  committed is never repeated;
- the window itself: from the sandbox's accept to our committed `sent` (p50 / p99), in
  the same run beside the send's round trip (the sandbox's latency) as baseline.

PostgreSQL + Redis; the sandbox runs under gunicorn. tests/jobs/test_crash_window.py runs
the same rounds (fewer) against the test suite's live server.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import datetime

import requests
from sqlalchemy import create_engine, func, insert, select, text

from bench.cancel_endpoint import PG_ADMIN, REDIS_URL, ROOT, free_port, gunicorn, stop

ROUNDS = int(os.environ.get("BENCH_CRASH_ROUNDS", "20"))
PER_ROUND = int(os.environ.get("BENCH_CRASH_MESSAGES", "200"))
LATENCY_MS = int(os.environ.get("BENCH_CRASH_LATENCY_MS", "30"))
LEASE_SECONDS = 2
KILL_SPREAD_SECONDS = 0.4   # the kill lands uniformly within this time after sends began
OPEN = ("queued", "sending", "retrying")


def worker_env(database_url: str, redis_url: str, redis_prefix: str, base_url: str) -> dict:
    """The environment of a `flask worker` process against this database and sandbox."""
    return dict(os.environ, APP_ENV="development", DATABASE_URL=database_url,
                REDIS_URL=redis_url, REDIS_KEY_PREFIX=redis_prefix,
                WECHAT_API_BASE=base_url + "/_sandbox/wechat", PUBLIC_BASE_URL=base_url,
                EMBEDDED_WORKER="0", SCHEDULER_ENABLED="0", WORKER_SWEEP_SECONDS="0.2",
                WORKER_LEASE_SECONDS=str(LEASE_SECONDS), SANDBOX_AUTO_PUSH="0")


def start_worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=_die_with_parent)


def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def stop_worker(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def queue_round(app, sandbox_url: str, candidates: list[dict], tag: str, n: int) -> None:
    """n subscribe messages to these candidates, each with a credit on our side and two
    in the sandbox (a repeat after a crash is accepted, as it would be by a user who
    allowed the template twice)."""
    from app.core.timeutil import utcnow
    from app.extensions import db
    from app.models import OutboxMessage, OutboxStatus, Subscription

    with app.app_context():
        tpl = app.config["WECHAT_TPL_INTERVIEW_CANCELLED"]
        per: Counter = Counter(candidates[i % len(candidates)]["openid"] for i in range(n))
        for openid, count in per.items():
            for left in range(2 * count, 0, -1000):
                requests.post(f"{sandbox_url}/_sandbox/wechat/subscriptions",
                              json={"openid": openid, "template_id": tpl,
                                    "count": min(left, 1000)}, timeout=10).raise_for_status()
            sub = db.session.scalars(select(Subscription).where(
                Subscription.openid == openid, Subscription.template_id == tpl)).first()
            if sub is None:
                db.session.add(Subscription(openid=openid, template_id=tpl,
                                            last_result="accept", credits=count))
            else:
                sub.credits += count
        ctx = {"interview_number": "AI-2026-12-01-001", "candidate_name": "张三",
               "position_title": "Java后端开发工程师", "department": "技术部",
               "scheduled_at": "2026-12-01T10:00:00+08:00", "reason_label": "时间冲突",
               "note": ""}
        now = utcnow()
        db.session.execute(insert(OutboxMessage), [
            dict(dedupe_key=f"{tag}:{i}", event=tag, kind="candidate_cancel_confirmed",
                 recipient_type="candidate",
                 recipient_id=candidates[i % len(candidates)]["id"], context=ctx,
                 status=OutboxStatus.QUEUED, attempts=0, next_attempt_at=now,
                 open_token=f"{tag}-{i:05d}", open_count=0) for i in range(n)])
        db.session.commit()
        db.session.remove()


def _statuses(app, tag: str) -> Counter:
    from app.extensions import db
    from app.models import OutboxMessage

    with app.app_context():
        rows = db.session.execute(select(OutboxMessage.status, func.count())
                                  .where(OutboxMessage.event == tag)
                                  .group_by(OutboxMessage.status)).all()
        db.session.remove()
    return Counter({status.value: count for status, count in rows})


def _wait(predicate, timeout: float, what: str, step: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise RuntimeError(f"timed out waiting for {what}")


def run_rounds(app, env: dict, sandbox_url: str, candidates: list[dict], rounds: int,
               per_round: int, rng: random.Random, log=print) -> dict:
    """Kill a worker mid-send `rounds` times; returns the counts (see the docstring)."""
    requests.post(f"{sandbox_url}/_sandbox/wechat/faults",
                  json={"api": "subscribe_send", "latency_ms": LATENCY_MS},
                  timeout=60).raise_for_status()  # the first call waits for the server
    in_flight_at_kill = []
    tags = []
    for r in range(rounds):
        tag = f"crash{r}-{uuid.uuid4().hex[:6]}"
        tags.append(tag)
        queue_round(app, sandbox_url, candidates, tag, per_round)
        victim = start_worker(env)
        try:
            _wait(lambda tag=tag: _statuses(app, tag)["sent"] > 0, 60, "the first send")
            time.sleep(rng.uniform(0, KILL_SPREAD_SECONDS))
        finally:
            stop_worker(victim, signal.SIGKILL)
        at_kill = _statuses(app, tag)
        in_flight_at_kill.append(at_kill["sending"])
        rescuer = start_worker(env)
        try:
            _wait(lambda tag=tag: not any(_statuses(app, tag)[s] for s in OPEN), 120,
                  "the rescuer to finish the round", step=0.1)
        finally:
            stop_worker(rescuer)
        log(f"  round {r + 1:2d}: killed with {at_kill['sent']:3d} sent, "
            f"{at_kill['sending']:3d} in flight", flush=True)
    requests.delete(f"{sandbox_url}/_sandbox/wechat/faults", timeout=5)
    return _count(app, sandbox_url, tags, in_flight_at_kill)


def _count(app, sandbox_url: str, tags: list[str], in_flight: list[int]) -> dict:
    from app.extensions import db
    from app.models import OutboxMessage, OutboxStatus

    messages = requests.get(f"{sandbox_url}/_sandbox/wechat/messages",
                            timeout=60).json()["items"]
    received: dict[str, list[datetime]] = {}
    for m in messages:
        token = (m.get("page") or "").partition("t=")[2]
        if token:
            received.setdefault(token, []).append(datetime.fromisoformat(m["at"]))
    with app.app_context():
        rows = db.session.execute(select(OutboxMessage.open_token, OutboxMessage.status,
                                         OutboxMessage.sent_at)
                                  .where(OutboxMessage.event.in_(tags))).all()
        db.session.remove()
    done = (OutboxStatus.SENT, OutboxStatus.DELIVERED, OutboxStatus.READ)
    lost = sum(1 for token, status, _ in rows if not received.get(token) or status not in done)
    duplicated = sum(1 for token, _, _ in rows if len(received.get(token, ())) > 1)
    windows = sorted((sent_at - min(received[token])).total_seconds() * 1000
                     for token, _, sent_at in rows
                     if sent_at is not None and len(received.get(token, ())) == 1)
    return {"messages": len(rows), "rounds": len(tags), "lost": lost,
            "duplicated": duplicated, "in_flight_at_kill": sum(in_flight),
            "window_p50_ms": _quantile(windows, 0.5), "window_p99_ms": _quantile(windows, 0.99)}


def _quantile(values: list[float], q: float) -> float | None:
    return values[min(len(values) - 1, int(len(values) * q))] if values else None


def main() -> int:
    db_name = f"aiic_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{db_name}"'))
    db_url = PG_ADMIN.rsplit("/", 1)[0] + "/" + db_name
    prefix = f"aiicbench:{uuid.uuid4().hex[:8]}:"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = worker_env(db_url, REDIS_URL, prefix, base)
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
        os.environ["BENCH_GUNICORN_THREADS"] = "16"
        server = gunicorn("wsgi:app", port, dict(env, DB_POOL_SIZE="4", DB_MAX_OVERFLOW="4"))
        rng = random.Random(int(os.environ.get("BENCH_SEED", "12")))
        result = run_rounds(app, env, base, summary["candidates"], ROUNDS, PER_ROUND, rng)
    finally:
        if server is not None:
            stop(server)
        with app.app_context():
            from app.extensions import db, redis_store

            redis_store.clear_namespace()
            db.engine.dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
    print(f"crash window: {result['rounds']} rounds of {PER_ROUND} subscribe messages, a "
          f"worker killed (SIGKILL) mid-send each round, PostgreSQL + Redis, sandbox "
          f"answering after {LATENCY_MS} ms")
    print(f"  lost:        {result['lost']} of {result['messages']} (target 0)")
    print(f"  duplicated:  {result['duplicated']} of {result['in_flight_at_kill']} rows "
          f"sending (in flight or buffered) at the kills "
          f"({result['duplicated'] / max(result['rounds'], 1):.2f} per kill)")
    print(f"  accept -> sent stamped (its commit follows in one round trip): "
          f"p50 {result['window_p50_ms']:.1f} ms, p99 "
          f"{result['window_p99_ms']:.1f} ms, beside the send's round trip "
          f"{LATENCY_MS} ms (baseline): "
          f"{result['window_p99_ms'] / LATENCY_MS:.2f}x at p99")
    from bench.results import record

    record("crash_window", f"messages lost, {result['rounds']} kills mid-send",
           result["lost"], "messages", target="0", met=result["lost"] == 0,
           note=f"of {result['messages']}")
    record("crash_window", "messages repeated after a kill", result["duplicated"],
           "messages", baseline=result["in_flight_at_kill"],
           baseline_label="sends in flight at the kills",
           target="<= sends in flight", met=result["duplicated"] <= result["in_flight_at_kill"])
    return 0 if result["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
