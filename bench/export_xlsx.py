"""XLSX export of about 100,000 interviews: seconds and peak memory of the console's export
(GET /console/interviews/export.xlsx, logged in as an admin, the streamed body read to the
end) beside a bare export doing the same in the fewest lines (one hand-written SELECT
with the same joins through a server-side cursor into openpyxl's write-only workbook),
each in a fresh Python process whose peak RSS is measured (VmHWM of /proc/self/status).

Uses the database of bench.list_and_reports (1,000,000 interviews; built there if
missing). The period 2026-03-01 .. 2026-04-06 holds about 100,000 of them.
Target: peak RSS <= 200 MB. Prints seconds, rows, peak RSS and the ratios.
"""
from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

from bench.cancel_endpoint import REDIS_URL, ROOT, drop_redis_namespace
from bench.list_and_reports import database_url, prepare

DATE_FROM, DATE_TO = "2026-03-01", "2026-04-06"
TARGET_MB = 200
PASSWORD = "bench-export-pass-1"

BARE_SQL = """
SELECT iv.number, c.name, p.title, p.department, iv.scheduled_at, iv.status, ca.actor_type,
       r.label, ca.note, coalesce(ca.decided_at, ca.requested_at)
FROM interviews iv
JOIN candidates c ON c.id = iv.candidate_id
JOIN positions p ON p.id = iv.position_id
LEFT JOIN cancellations ca ON ca.id = (SELECT max(x.id) FROM cancellations x
                                       WHERE x.interview_id = iv.id)
LEFT JOIN cancel_reasons r ON r.id = ca.reason_id
WHERE iv.scheduled_at >= %(a)s AND iv.scheduled_at < %(b)s
ORDER BY iv.scheduled_at DESC, iv.id DESC
"""


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """Peak RSS of this process so far (VmHWM: of this program's own memory, unlike
    ru_maxrss, which a child starts with its parent's size at fork)."""
    return _status_mb("VmHWM")


def rss_now_mb() -> float:
    return _status_mb("VmRSS")


def child_ours() -> dict:
    from sqlalchemy import select

    from app import create_app
    from app.extensions import db
    from app.models import HrUser

    app = create_app()
    with app.app_context():
        admin = db.session.scalars(select(HrUser).where(HrUser.username == "admin")).one()
        admin.set_password(PASSWORD)
        db.session.commit()
    client = app.test_client()
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    login = client.post("/console/login", data={"csrf_token": token, "username": "admin",
                                                 "password": PASSWORD})
    assert login.status_code == 302, login.status_code
    before = rss_now_mb()
    started = time.perf_counter()
    response = client.get("/console/interviews/export.xlsx",
                          query_string={"date_from": DATE_FROM, "date_to": DATE_TO},
                          buffered=False)
    assert response.status_code == 200 and response.is_streamed
    size = 0
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as out:
        for chunk in response.response:
            size += len(chunk)
            out.write(chunk)
        response.close()
        out.flush()
        seconds, peak = time.perf_counter() - started, rss_mb()
        rows = _count_rows(out.name)
    return {"seconds": seconds, "bytes": size, "rows": rows, "rss_before_mb": before,
            "peak_rss_mb": peak}


def child_bare() -> dict:
    from datetime import datetime, timedelta
    from datetime import time as dtime
    from zoneinfo import ZoneInfo

    import psycopg
    from openpyxl import Workbook

    zone = ZoneInfo("Asia/Shanghai")
    a = datetime.combine(datetime.fromisoformat(DATE_FROM).date(), dtime(0), zone)
    b = datetime.combine(datetime.fromisoformat(DATE_TO).date() + timedelta(days=1),
                         dtime(0), zone)
    before = rss_now_mb()
    started = time.perf_counter()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("面试列表")
    sheet.append(["面试编号", "候选人", "岗位", "部门", "面试时间", "状态", "取消方", "取消原因",
                  "取消说明", "取消时间"])
    dsn = database_url().replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn, conn.cursor(name="bare") as cursor:
        cursor.itersize = 1000
        cursor.execute(BARE_SQL, {"a": a, "b": b})
        for row in cursor:
            sheet.append([v.astimezone(zone).replace(tzinfo=None)
                          if isinstance(v, datetime) else v for v in row])
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as out:
        workbook.save(out.name)
        seconds, peak = time.perf_counter() - started, rss_mb()
        size = os.path.getsize(out.name)
        rows = _count_rows(out.name)
    return {"seconds": seconds, "bytes": size, "rows": rows, "rss_before_mb": before,
            "peak_rss_mb": peak}


def _count_rows(path: str) -> int:
    """Data rows in the file (read back in read-only mode, streamed; after the timing)."""
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True)
    count = sum(1 for _ in workbook.active.iter_rows(values_only=True)) - 1
    workbook.close()
    return count


def run_child(kind: str, env: dict) -> dict:
    proc = subprocess.run([sys.executable, "-m", "bench.export_xlsx", "child", kind],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    os.environ.update(APP_ENV="development", DATABASE_URL=database_url(), REDIS_URL=REDIS_URL,
                      EMBEDDED_WORKER="0", REDIS_KEY_PREFIX="aiicbench:export:")
    prepare()
    env = dict(os.environ)
    try:
        results = {kind: run_child(kind, env) for kind in ("bare", "ours")}
    finally:
        drop_redis_namespace(os.environ["REDIS_KEY_PREFIX"])   # the login's session keys
    bare, ours = results["bare"], results["ours"]
    print(f"\nXLSX export, {DATE_FROM} .. {DATE_TO}:")
    for kind, r in (("bare (SQL + openpyxl)", bare), ("ours (HTTP, streamed)", ours)):
        print(f"  {kind:24} {r['rows']:>7,} rows  {r['seconds']:6.1f} s  "
              f"{r['bytes'] / 1e6:5.1f} MB file  RSS before {r['rss_before_mb']:5.0f} MB, "
              f"peak {r['peak_rss_mb']:5.0f} MB")
    assert ours["rows"] == bare["rows"], (ours["rows"], bare["rows"])
    print(f"  ratio ours / bare: {ours['seconds'] / bare['seconds']:.2f}x time, "
          f"{ours['peak_rss_mb'] / bare['peak_rss_mb']:.2f}x peak RSS")
    ok = ours["peak_rss_mb"] <= TARGET_MB
    from bench.results import record

    record("export_xlsx", f"XLSX export of {ours['rows']:,} rows over HTTP", ours["seconds"],
           "s", baseline=bare["seconds"], baseline_label="bare SQL + openpyxl")
    record("export_xlsx", "export peak RSS", ours["peak_rss_mb"], "MB",
           baseline=bare["peak_rss_mb"], baseline_label="bare export's peak",
           target=f"<= {TARGET_MB} MB", met=ok)
    print(f"  peak RSS <= {TARGET_MB} MB: {'met' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "child":
        result = child_ours() if sys.argv[2] == "ours" else child_bare()
        print(json.dumps(result))
        sys.exit(0)
    sys.exit(main())
