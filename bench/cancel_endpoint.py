"""Cancel endpoint vs a bare one-row update, both under gunicorn on PostgreSQL + Redis.

Each cancel request cancels a different interview (the real success path: session and
rate limits, rules, state change, cancellation, audit entry, outbox rows, wake-up). wrk
drives 16 connections. Both servers are warmed up, then measured in alternating rounds
(baseline, cancel, baseline, cancel, ...) so that drift on the machine (autovacuum,
checkpoints) falls on both; each cancel round uses interviews no other round touched.
The script prints requests/s of both, the ratio (target >= 0.5, the median of the rounds)
and p99 latency over all of a server's measured requests (target <= 100 ms; wrk's latency
histograms of the rounds are merged), each round's p99, and the CPU each request cost per
program (gunicorn, postgres, redis-server).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
DURATION = int(os.environ.get("BENCH_SECONDS", "5"))      # per round and endpoint
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WORKERS = os.environ.get("BENCH_GUNICORN_WORKERS", "4")
# Database connections per web process, the same for both servers: about two per database
# core in all (the usual sizing: more connections than that only queue inside PostgreSQL).
POOL_SIZE = os.environ.get("BENCH_DB_POOL_SIZE",
                           str(max(1, 2 * (os.cpu_count() or 2) // int(WORKERS))))
THREADS = os.environ.get("BENCH_GUNICORN_THREADS", "4")
ROUND_INTERVIEWS = int(os.environ.get("BENCH_ROUND_INTERVIEWS", "7000"))
WARMUP_INTERVIEWS = 3000
INTERVIEWS = WARMUP_INTERVIEWS + ROUNDS * ROUND_INTERVIEWS

WRK_SCRIPT = """
-- Every request uses the next line of the file; wrk threads take interleaved lines so no
-- two requests ever cancel the same interview.
local reqs = {}
local i = 0
local step = 1
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  for line in io.lines(args[1]) do
    local path, auth = line:match("([^ ]+) ([^ ]+)")
    reqs[#reqs + 1] = {path, auth}
  end
  step = tonumber(args[2])
  i = tid
end
function request()
  local r = reqs[(i % #reqs) + 1]
  i = i + step
  local headers = {["Content-Type"] = "application/json"}
  if r[2] ~= "-" then headers["Authorization"] = "Bearer " .. r[2] end
  return wrk.format("POST", r[1], headers, '{"reason_code":"time_conflict"}')
end
function done(summary, latency, requests)
  -- the quantile function (every 0.1 %, microseconds), so rounds can be merged
  local path = os.getenv("WRK_HISTOGRAM")
  if not path then return end
  local f = io.open(path, "w")
  for i = 1, 1000 do
    f:write(latency:percentile(i / 10), "\\n")
  end
  f:close()
end"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"port {port} did not open")


def env_for(db_url: str) -> dict:
    env = dict(os.environ)
    env.update(APP_ENV="development", DATABASE_URL=db_url, REDIS_URL=REDIS_URL,
               REDIS_KEY_PREFIX=f"aiicbench:{uuid.uuid4().hex[:8]}:", EMBEDDED_WORKER="0",
               DB_POOL_SIZE=POOL_SIZE, DB_MAX_OVERFLOW="0",
               # one load generator on loopback stands for thousands of candidates' IPs
               RATE_LIMITS='{"cancel": {"ip": [10000000, 60]}}')
    return env


def drop_redis_namespace(prefix: str) -> None:
    """The run's sessions and counters would otherwise stay in Redis for days (and make
    every SCAN of the keyspace slower)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    batch = []
    for key in client.scan_iter(match=prefix + "*", count=1000):
        batch.append(key)
        if len(batch) == 1000:
            client.unlink(*batch)
            batch.clear()
    if batch:
        client.unlink(*batch)


def prepare(db_url: str, env: dict, workdir: Path) -> tuple[Path, Path]:
    """Migrate, seed interviews far in the future, issue one session per candidate."""
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    code = f"""
import json, sys
from datetime import timedelta
from sqlalchemy import insert, select
from wsgi import app
from app.extensions import db
from app.models import *
from app.cli.demo import seed_demo
from app.services.candidates.sessions import issue_session
from app.core.timeutil import utcnow
with app.app_context():
    seed_demo(candidates=10)
    position = db.session.scalars(select(Position).where(Position.cancel_requires_review.is_(False))).first()
    start = utcnow() + timedelta(days=30)
    n = {INTERVIEWS}
    cands = [dict(name=f"候选人{{i}}") for i in range(n)]
    ids = db.session.scalars(insert(Candidate).returning(Candidate.id), cands).all()
    db.session.execute(insert(WechatAccount), [dict(app=WechatApp.MINI_PROGRAM, openid=f"bench-{{c}}", candidate_id=c) for c in ids])
    db.session.execute(insert(Interview), [dict(public_id=f"iv_bench{{c}}", number=f"AI-BENCH-{{c}}", candidate_id=c, position_id=position.id, scheduled_at=start, duration_minutes=30, version=1) for c in ids])
    db.session.commit()
    accounts = dict(db.session.execute(select(WechatAccount.candidate_id, WechatAccount.id).where(WechatAccount.openid.like("bench-%"))).all())
    rows = db.session.execute(select(Interview.id, Interview.public_id, Interview.candidate_id).where(Interview.number.like("AI-BENCH-%"))).all()
    out = []
    for iid, pid, cid in rows:
        token, _ = issue_session(accounts[cid])
        out.append((iid, pid, token))
    json.dump(out, sys.stdout)
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True)
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    bare_file = workdir / "bare.txt"
    bare_file.write_text("".join(f"/bare/{iid} -\n" for iid, _, _ in rows))
    cancel_files = []  # warm-up, then one per round: no interview is cancelled twice
    sizes = [WARMUP_INTERVIEWS] + [ROUND_INTERVIEWS] * ROUNDS
    start = 0
    for i, size in enumerate(sizes):
        path = workdir / f"cancel-{i}.txt"
        path.write_text("".join(f"/api/mp/v1/interviews/{pid}/cancel {tok}\n"
                                for _, pid, tok in rows[start:start + size]))
        cancel_files.append(path)
        start += size
    return cancel_files, bare_file


def gunicorn(app_spec: str, port: int, env: dict) -> subprocess.Popen:
    threads = os.environ.get("BENCH_GUNICORN_THREADS", THREADS)
    cmd = [sys.executable, "-m", "gunicorn", "-w", WORKERS, "--threads", threads,
           "-b", f"127.0.0.1:{port}", "--log-level", "warning", app_spec]
    if os.environ.get("BENCH_ACCESS_LOG"):  # diagnosis only: it costs CPU per request
        cmd[-1:-1] = ["--access-logfile", os.environ["BENCH_ACCESS_LOG"]]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=open(os.environ.get("BENCH_SERVER_LOG", os.devnull), "ab"),
                            start_new_session=True,
                            preexec_fn=_die_with_parent)
    wait_port(port)
    return proc


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM if the benchmark itself is killed."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


WRK_THREADS = 2
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_by_program() -> dict[str, float]:
    """CPU seconds used so far by every process on the machine, summed per program
    (gunicorn workers, postgres backends, redis-server, wrk)."""
    totals: dict[str, float] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        seconds = (int(fields[11]) + int(fields[12])) / CLK_TCK
        if "gunicorn" in cmdline:
            name = "gunicorn"
        elif name.startswith("postgres") or "postgres:" in cmdline:
            name = "postgres"
            if os.environ.get("BENCH_PG_DETAIL"):
                title = cmdline.split("postgres:")[-1].replace("15/main:", "").split()
                name = "pg:" + (title[0] if title and not title[0].startswith("postgres") and "@" not in cmdline else "backend")
        totals[name] = totals.get(name, 0.0) + seconds
    return totals


def cpu_per_request(before: dict, after: dict, requests: int) -> dict[str, float]:
    """Milliseconds of CPU per request, per program, for the programs that did work."""
    out = {}
    names = ["gunicorn", "postgres", "redis-server", "wrk"]
    if os.environ.get("BENCH_PG_DETAIL"):
        names += sorted(n for n in after if n.startswith("pg:"))
    for name in names:
        used = after.get(name, 0.0) - before.get(name, 0.0)
        out[name] = 1000 * used / max(requests, 1)
    return out


def wrk(port: int, script: Path, requests_file: Path, seconds: int) -> dict:
    histogram_file = script.with_suffix(".histogram")
    out = subprocess.run(
        ["wrk", "-t", str(WRK_THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s",
         "--latency", "-s", str(script), f"http://127.0.0.1:{port}", "--",
         str(requests_file), str(WRK_THREADS)],
        capture_output=True, text=True, check=True,
        env=dict(os.environ, WRK_HISTOGRAM=str(histogram_file))).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    # 1000 quantiles, each standing for a thousandth of this run's requests
    histogram: dict[int, float] = {}
    for line in histogram_file.read_text().split():
        us = int(float(line))
        histogram[us] = histogram.get(us, 0.0) + total / 1000
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    factor = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p99_ms": float(p99.group(1)) * factor, "histogram": histogram,
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "requests": total}


def percentile(histogram: dict[int, float], p: float) -> int:
    """The p-th percentile of a {value: weight} histogram."""
    total = sum(histogram.values())
    rank = total * p / 100
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return max(histogram, default=0)


def _summary(rounds: list[dict]) -> dict:
    """Requests/s and p99 over all the rounds' requests, CPU per request over all."""
    requests = sum(r["requests"] for r in rounds)
    seconds = sum(r["requests"] / r["rps"] for r in rounds if r["rps"])
    cpu = {name: sum(r["cpu"][name] * r["requests"] for r in rounds) / max(requests, 1)
           for name in rounds[0]["cpu"]}
    merged: dict[int, float] = {}
    for r in rounds:
        for us, count in r["histogram"].items():
            merged[us] = merged.get(us, 0) + count
    return {"rps": requests / seconds if seconds else 0.0, "requests": requests,
            "p99_ms": percentile(merged, 99) / 1000,
            "worst_round_p99_ms": max(r["p99_ms"] for r in rounds),
            "non2xx": sum(r["non2xx"] for r in rounds), "cpu": cpu}


def main() -> int:
    if not shutil.which("wrk"):
        print("wrk is required (apt-get install wrk)", file=sys.stderr)
        return 2
    from sqlalchemy import create_engine, text

    db_name = f"aiic_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{db_name}"'))
    db_url = PG_ADMIN.rsplit("/", 1)[0] + "/" + db_name
    env = env_for(db_url)
    procs = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            script = workdir / "requests.lua"
            script.write_text(WRK_SCRIPT)
            print(f"preparing {INTERVIEWS} interviews on PostgreSQL ({db_name}) ...", flush=True)
            cancel_files, bare_file = prepare(db_url, env, workdir)
            app_port, bare_port = free_port(), free_port()
            procs.append(gunicorn("wsgi:app", app_port, env))
            bare_env = dict(env, PYTHONPATH=str(ROOT / "bench"))
            procs.append(gunicorn("baseline_app:app", bare_port, bare_env))
            wrk(bare_port, script, bare_file, 2)  # warm-up
            wrk(app_port, script, cancel_files[0], 2)
            # Do now what the bulk load would otherwise trigger during a measured round:
            # autovacuum of the loaded tables, then writing out the dirtied pages.
            bench_db = create_engine(db_url, isolation_level="AUTOCOMMIT")
            with bench_db.connect() as c:
                c.execute(text("VACUUM ANALYZE"))
                c.execute(text("CHECKPOINT"))
            bench_db.dispose()
            bases, cancels = [], []
            for round_file in cancel_files[1:]:
                for port, requests_file, results in ((bare_port, bare_file, bases),
                                                     (app_port, round_file, cancels)):
                    before = cpu_by_program()
                    result = wrk(port, script, requests_file, DURATION)
                    result["cpu"] = cpu_per_request(before, cpu_by_program(),
                                                    result["requests"])
                    results.append(result)
    finally:
        for p in procs:
            stop(p)
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        drop_redis_namespace(env["REDIS_KEY_PREFIX"])
    ratios = sorted(c["rps"] / b["rps"] for b, c in zip(bases, cancels, strict=True))
    ratio = ratios[len(ratios) // 2]
    base, cancel = _summary(bases), _summary(cancels)
    print(f"connections: {CONNECTIONS}, {ROUNDS} rounds of {DURATION}s per endpoint, "
          f"gunicorn -w {WORKERS} --threads {THREADS}, {POOL_SIZE} database connection(s) "
          f"per process, PostgreSQL + Redis")
    for label, result in (("baseline (bare one-row update)", base),
                          ("cancel endpoint", cancel)):
        print(f"{label + ':':32}{result['rps']:8.1f} req/s  p99 {result['p99_ms']:6.1f} ms "
              f"({result['requests']} requests, {result['non2xx']} non-2xx; worst round's "
              f"p99 {result['worst_round_p99_ms']:.1f} ms)")
    for label, result in (("baseline", base), ("cancel", cancel)):
        print(f"CPU ms per request, {label:8}: " + ", ".join(
            f"{name} {ms:.2f}" for name, ms in result["cpu"].items())
            + f"; total {sum(result['cpu'].values()):.2f}")
    print("ratio per round: " + ", ".join(f"{r:.2f}" for r in ratios))
    print("cancel p99 per round: " + ", ".join(f"{c['p99_ms']:.1f} ms" for c in cancels)
          + "; baseline: " + ", ".join(f"{b['p99_ms']:.1f} ms" for b in bases))
    print(f"ratio cancel/baseline: {ratio:.2f} (median of rounds; target >= 0.5); "
          f"cancel p99 {cancel['p99_ms']:.1f} ms (target <= 100 ms)")
    from bench.results import record

    record("cancel_endpoint", "POST cancel under gunicorn, 16 connections", cancel["rps"],
           "req/s", baseline=base["rps"], baseline_label="bare one-row UPDATE endpoint",
           target="ratio >= 0.5", met=ratio >= 0.5,
           note=f"median ratio of rounds {ratio:.2f}")
    record("cancel_endpoint", "cancel p99", cancel["p99_ms"], "ms",
           baseline=base["p99_ms"], baseline_label="bare endpoint p99",
           target="<= 100 ms", met=cancel["p99_ms"] <= 100)
    if any(c["requests"] > ROUND_INTERVIEWS for c in cancels):
        print("warning: a round sent more requests than it had interviews; "
              "some cancels hit already-cancelled ones")
    return 0


if __name__ == "__main__":
    sys.exit(main())
