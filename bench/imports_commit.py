"""确认导入 of a file of BENCH_IMPORT_ROWS rows (default 1,000; the limit is 2,000): what
the request costs now (it only queues the job) and what the worker's chunked commit
costs, each beside the old way measured in the same run: the whole file upserted and
committed in the request, in one transaction.

Data: a SQLite file database (BENCH_IMPORT_DATABASE_URL: another, e.g. PostgreSQL)
migrated from empty, the demo's users and reasons; each side of each round imports its
own file of the same shape (new positions, candidates and interviews, ids prefixed per
side and round), checked first by the dry run (not timed). Rounds alternate the order of
the sides (BENCH_IMPORT_ROUNDS, default 3).

- old (baseline): read_rows + run_rows + commit, in one transaction (the request before);
- ours, request: queue_import (what the HTTP request does now);
- ours, worker: run_due_imports (claim, chunks of CHUNK_ROWS each with its progress).

Prints the medians and the ratios ours/old: the request's (target: a small fraction,
whatever the file's length) and the worker's (the price of committing in chunks with
progress; target <= 1.5).
"""
from __future__ import annotations

import csv
import io
import os
import statistics
import sys
import tempfile
import time

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "1000"))
ROUNDS = int(os.environ.get("BENCH_IMPORT_ROUNDS", "3"))


def _file(prefix: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["岗位编号", "岗位名称", "部门", "级别", "候选人编号", "姓名", "手机号",
                     "面试编号(外部)", "面试时间"])
    for i in range(ROWS):
        writer.writerow([f"{prefix}-P{i % 20}", f"岗位{i % 20}", "技术部", "P5",
                         f"{prefix}-C{i}", f"候选人{i}", f"135{i:08d}", f"{prefix}-I{i}",
                         f"2027-05-{1 + i % 28:02d} {9 + i % 9:02d}:{i % 6}0"])
    return buffer.getvalue().encode("utf-8")


def main() -> int:
    from config import TestingConfig

    tmp = tempfile.TemporaryDirectory()
    cfg = TestingConfig()
    cfg.SQLALCHEMY_DATABASE_URI = os.environ.get(
        "BENCH_IMPORT_DATABASE_URL", f"sqlite:///{tmp.name}/bench.db")
    from flask_migrate import upgrade
    from sqlalchemy import select

    from app import create_app
    from app.cli.demo import seed_demo
    from app.extensions import db
    from app.models import HrUser
    from app.services.integration import import_runner, imports
    from app.services.users.actor import Actor
    from bench import results

    app = create_app(cfg)
    old, request, worker = [], [], []
    with app.app_context():
        upgrade()
        seed_demo(candidates=1)
        admin = db.session.scalar(select(HrUser).where(HrUser.username == "admin"))
        actor = Actor.hr(admin)

        def checked(prefix):
            job = imports.validate_import(f"{prefix}.csv", _file(prefix), actor=actor)
            for _ in range(100):  # a long file is checked by the worker
                if job.status != "checking":
                    break
                import_runner.run_due_imports("bench-check")
                job = imports.get_job(job.public_id, actor=actor)
            assert job.status == "validated", job.errors[:3]
            return job

        def run_old(prefix):
            content = _file(prefix)
            checked(prefix + "x")  # the same dry-run load as ours (not timed)
            t0 = time.perf_counter()
            out = imports.run_rows(imports.read_rows("a.csv", content), actor)
            assert not out.errors, out.errors[:3]
            db.session.commit()
            old.append(time.perf_counter() - t0)

        def run_ours(prefix):
            job = checked(prefix)
            t0 = time.perf_counter()
            imports.queue_import(job.public_id, actor=actor)
            request.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            assert import_runner.run_due_imports("bench-worker") == 1
            worker.append(time.perf_counter() - t0)
            assert imports.get_job(job.public_id, actor=actor).status == "committed"

        for n in range(ROUNDS):
            sides = [("old", run_old), ("ours", run_ours)]
            for name, side in sides if n % 2 == 0 else sides[::-1]:
                side(f"R{n}{name}")
                print(f"round {n + 1} {name} done", flush=True)
        db.engine.dispose()
    tmp.cleanup()

    old_s, request_s, worker_s = (statistics.median(v) for v in (old, request, worker))
    print(f"\n{ROWS} rows, {ROUNDS} rounds, {cfg.SQLALCHEMY_DATABASE_URI.split(':')[0]}")
    print(f"old: commit in the request, one transaction   {old_s:8.3f} s  (baseline)")
    print(f"ours: the request (queue)                      {request_s:8.3f} s  "
          f"ratio {request_s / old_s:.4f}")
    print(f"ours: the worker (chunks of {import_runner.CHUNK_ROWS}, progress)      "
          f"{worker_s:8.3f} s  ratio {worker_s / old_s:.2f} (target <= 1.5)")
    results.record("imports_commit", f"确认导入 request, {ROWS} rows", request_s, "s",
                   baseline=old_s, baseline_label="commit in the request (before)")
    results.record("imports_commit", f"worker commit, {ROWS} rows", worker_s, "s",
                   baseline=old_s, baseline_label="one transaction", target="ratio <= 1.5",
                   met=worker_s / old_s <= 1.5)
    return 0 if worker_s / old_s <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
