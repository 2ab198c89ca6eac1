"""Liveness and readiness probes."""
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
    return jsonify(status="ok" if ok else "unavailable", checks=checks), (200 if ok else 503)


def _check_db():
    db.session.execute(text("SELECT 1"))
    db.session.rollback()


def _check_redis():
    redis_store.client.ping()
