"""Liveness and readiness probes.

/healthz: the process answers. /readyz: the database and Redis answer (503 otherwise), and
how many workers beat within the last minute (app.jobs.heartbeat), which does not decide
the status: a web process can serve while the worker restarts.
"""
from __future__ import annotations

import time

from flask import Blueprint, jsonify
from sqlalchemy import text

from app.extensions import db, redis_store

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    checks = {}
    ok = True
    for name, probe in (("database", _check_db), ("redis", _check_redis)):
        started = time.perf_counter()
        try:
            probe()
            checks[name] = {"ok": True}
        except Exception as exc:  # report any failure; readiness must not raise
            ok = False
            checks[name] = {"ok": False, "error": type(exc).__name__}
        checks[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    checks["database"]["backend"] = db.engine.dialect.name
    checks["redis"]["backend"] = "embedded" if redis_store.embedded else "redis"
    checks["workers"] = _workers() if checks["redis"]["ok"] else {"ok": False, "alive": None}
    return jsonify(status="ok" if ok else "unavailable", checks=checks), (200 if ok else 503)


def _workers() -> dict:
    """Workers heard from within a minute (app.jobs.heartbeat). Informative: a web
    process serves without a worker, so no worker does not make it unready; the monitor
    alerts on `alive == 0` (or on aiic_workers_alive in /metrics)."""
    from app.jobs.heartbeat import alive_workers

    try:
        workers = alive_workers()
    except Exception as exc:  # readiness must not raise
        return {"ok": False, "alive": None, "error": type(exc).__name__}
    return {"ok": bool(workers), "alive": len(workers), "last_beats": workers}


def _check_db():
    db.session.execute(text("SELECT 1"))
    db.session.rollback()


def _check_redis():
    redis_store.client.ping()
