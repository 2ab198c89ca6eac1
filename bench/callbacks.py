"""Encrypted delivery callbacks vs /healthz, both on the same gunicorn server, PostgreSQL +
Redis.

Each callback is what WeChat sends for a template message's delivery: a
TEMPLATESENDJOBFINISH event encrypted and signed with wechatpy's WeChatCrypto (safe mode,
the default with an EncodingAESKey), for a different outbox row each time, so every
request takes the whole path: timestamp window, msg_signature, bounded body read, AES
decryption, XML checks, Redis dedupe, the row's update and commit. The baseline is the
same server's /healthz (the process answers: the framework's own cost per request).
wrk drives 16 connections; the two are measured in alternating rounds so that drift on
the machine falls on both. The requests are encrypted just before the measured rounds
(their timestamps must be inside the 5-minute window).

Prints requests/s of both, the ratio callbacks / healthz (median of the rounds; target
>= 0.3, and >= 300 callbacks/s), p99 latency, CPU per request per program, and how many
outbox rows the callbacks moved to delivered.
"""
from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

from bench.cancel_endpoint import (
    PG_ADMIN,
    ROOT,
    _summary,
    cpu_by_program,
    cpu_per_request,
    drop_redis_namespace,
    env_for,
    free_port,
    gunicorn,
    stop,
    wrk,
)

CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
# Short alternating rounds: on a shared machine the load moves within seconds, and the
# median of many pairs is steadier than a few long ones.
DURATION = int(os.environ.get("BENCH_SECONDS", "3"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "9"))
ROUND_ROWS = int(os.environ.get("BENCH_CALLBACK_ROWS", "8000"))
WARMUP_ROWS = 6000
ROWS = WARMUP_ROWS + ROUNDS * ROUND_ROWS
MSGID_BASE = 7_000_000_000_000

WRK_SCRIPT = """
-- Every line is "METHOD path body" (body "-": none); wrk threads take interleaved lines,
-- so no two requests carry the same event.
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
    local method, path, body = line:match("([^ ]+) ([^ ]+) ([^ ]+)")
    reqs[#reqs + 1] = {method, path, body}
  end
  step = tonumber(args[2])
  i = tid
end
function request()
  local r = reqs[(i % #reqs) + 1]
  i = i + step
  if r[3] == "-" then return wrk.format(r[1], r[2]) end
  return wrk.format(r[1], r[2], {["Content-Type"] = "text/xml"}, r[3])
end
function done(summary, latency, requests)
  local path = os.getenv("WRK_HISTOGRAM")
  if not path then return end
  local f = io.open(path, "w")
  for i = 1, 1000 do
    f:write(latency:percentile(i / 10), "\\n")
  end
  f:close()
end"""


def prepare(env: dict) -> None:
    """Migrate and insert ROWS sent OA template messages, one msgid and follower each."""
    import subprocess

    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    code = f"""
from sqlalchemy import insert
from wsgi import app
from app.extensions import db
from app.models import OutboxMessage, OutboxStatus
from app.core.timeutil import utcnow
with app.app_context():
    now = utcnow()
    rows = [dict(dedupe_key=f"bench-cb:{{i}}", event="interview.cancelled",
                 kind="staff_interview_cancelled", recipient_type="hr_user", recipient_id=1,
                 app="oa", channel="oa_template", touser=f"oa-bench-{{i}}",
                 template_id="oa-tpl-hr-alert", status=OutboxStatus.SENT,
                 msgid=str({MSGID_BASE} + i), next_attempt_at=now, sent_at=now, context={{}})
            for i in range({ROWS})]
    for start in range(0, len(rows), 5000):
        db.session.execute(insert(OutboxMessage), rows[start:start + 5000])
    db.session.commit()
"""
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                   capture_output=True, text=True)


def callback_lines(first: int, count: int) -> str:
    """Encrypted TEMPLATESENDJOBFINISH pushes for rows first .. first+count-1."""
    import xmltodict
    from wechatpy.crypto import WeChatCrypto
    from wechatpy.utils import WeChatSigner

    from config.settings import SANDBOX_DEFAULTS

    token, key = SANDBOX_DEFAULTS["WECHAT_OA_TOKEN"], SANDBOX_DEFAULTS["WECHAT_OA_AES_KEY"]
    crypto = WeChatCrypto(token, key, SANDBOX_DEFAULTS["WECHAT_OA_APPID"])
    timestamp = str(int(time.time()))
    out = []
    for i in range(first, first + count):
        openid = f"oa-bench-{i}"
        plaintext = ("<xml><ToUserName><![CDATA[gh_bench]]></ToUserName>"
                     f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
                     f"<CreateTime>{timestamp}</CreateTime>"
                     "<MsgType><![CDATA[event]]></MsgType>"
                     "<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event>"
                     f"<MsgID>{MSGID_BASE + i}</MsgID><Status><![CDATA[success]]></Status></xml>")
        nonce = str(secrets.randbelow(10**10))
        envelope = xmltodict.parse(crypto.encrypt_message(plaintext, nonce, timestamp))["xml"]
        signer = WeChatSigner()
        signer.add_data(token, timestamp, nonce)
        query = urlencode({"signature": signer.signature, "timestamp": timestamp,
                           "nonce": nonce, "openid": openid, "encrypt_type": "aes",
                           "msg_signature": envelope["MsgSignature"]})
        body = ("<xml><ToUserName><![CDATA[gh_bench]]></ToUserName>"
                f"<Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>")
        out.append(f"POST /wechat/oa/callback?{query} {body}\n")
    return "".join(out)


def wait_ready(port: int, timeout: float = 120) -> None:
    """gunicorn opens its port before the workers have built the app: wait until /healthz
    answers quickly several times in a row (every worker booted)."""
    import requests

    deadline, fast = time.time() + timeout, 0
    while time.time() < deadline and fast < 20:
        started = time.time()
        try:
            ok = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).ok
        except requests.RequestException:
            ok = False
        fast = fast + 1 if ok and time.time() - started < 0.2 else 0
        if not ok:
            time.sleep(0.5)


def delivered_rows(db_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    with engine.connect() as c:
        n = c.execute(text("SELECT count(*) FROM outbox_messages "
                           "WHERE status = 'delivered' AND dedupe_key LIKE 'bench-cb:%'")).scalar()
    engine.dispose()
    return int(n)


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
    proc = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            script = workdir / "requests.lua"
            script.write_text(WRK_SCRIPT)
            health_file = workdir / "healthz.txt"
            health_file.write_text("GET /healthz -\n")
            print(f"preparing {ROWS} sent OA template messages on PostgreSQL ({db_name}) ...",
                  flush=True)
            prepare(env)
            port = free_port()
            proc = gunicorn("wsgi:app", port, env)
            wait_ready(port)
            warm = workdir / "warm.txt"
            warm.write_text(callback_lines(0, WARMUP_ROWS))
            # long enough for every worker thread's connection to have prepared the
            # statements (psycopg does after a few runs) and Redis/PostgreSQL to be warm
            wrk(port, script, health_file, 3)
            wrk(port, script, warm, 8)
            bench_db = create_engine(db_url, isolation_level="AUTOCOMMIT")
            with bench_db.connect() as c:
                c.execute(text("VACUUM ANALYZE"))
                c.execute(text("CHECKPOINT"))
            bench_db.dispose()
            already = delivered_rows(db_url)
            round_files = []
            for r in range(ROUNDS):
                path = workdir / f"callbacks-{r}.txt"
                path.write_text(callback_lines(WARMUP_ROWS + r * ROUND_ROWS, ROUND_ROWS))
                round_files.append(path)
            bases, callbacks = [], []
            for round_file in round_files:
                for requests_file, results in ((health_file, bases), (round_file, callbacks)):
                    before = cpu_by_program()
                    result = wrk(port, script, requests_file, DURATION)
                    result["cpu"] = cpu_per_request(before, cpu_by_program(),
                                                    result["requests"])
                    results.append(result)
            moved = delivered_rows(db_url) - already
    finally:
        if proc is not None:
            stop(proc)
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        drop_redis_namespace(env["REDIS_KEY_PREFIX"])
    ratios = sorted(c["rps"] / b["rps"] for b, c in zip(bases, callbacks, strict=True))
    ratio = ratios[len(ratios) // 2]
    base, cb = _summary(bases), _summary(callbacks)
    print(f"connections: {CONNECTIONS}, {ROUNDS} rounds of {DURATION}s per endpoint, one "
          f"gunicorn server (-w {os.environ.get('BENCH_GUNICORN_WORKERS', '4')}), "
          "PostgreSQL + Redis, OA callback in safe mode (AES)")
    for label, result in (("baseline (/healthz)", base),
                          ("encrypted delivery callbacks", cb)):
        print(f"{label + ':':32}{result['rps']:8.1f} req/s  p99 {result['p99_ms']:6.1f} ms "
              f"({result['requests']} requests, {result['non2xx']} non-2xx)")
    for label, result in (("healthz", base), ("callback", cb)):
        print(f"CPU ms per request, {label:8}: " + ", ".join(
            f"{name} {ms:.2f}" for name, ms in result["cpu"].items())
            + f"; total {sum(result['cpu'].values()):.2f}")
    print(f"outbox rows moved to delivered by the measured callbacks: {moved} "
          f"of {cb['requests']} requests")
    print("req/s per round (healthz / callbacks): " + ", ".join(
        f"{b['rps']:.0f} / {c['rps']:.0f}" for b, c in zip(bases, callbacks, strict=True)))
    print("ratio per round (sorted): " + ", ".join(f"{r:.2f}" for r in ratios))
    print(f"ratio callbacks/healthz: {ratio:.2f} (median of rounds; target >= 0.3); "
          f"callbacks {cb['rps']:.1f}/s (target >= 300/s)")
    from bench.results import record

    met = ratio >= 0.3 and cb["rps"] >= 300
    record("callbacks", "encrypted delivery callbacks under gunicorn, 16 connections",
           cb["rps"], "req/s", baseline=base["rps"], baseline_label="/healthz, same server",
           target="ratio >= 0.3 and >= 300/s", met=met,
           note=f"median ratio of rounds {ratio:.2f}")
    if any(c["requests"] > ROUND_ROWS for c in callbacks):
        print("warning: a round sent more requests than it had rows; the repeats were "
              "answered as WeChat retries (dedupe)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
