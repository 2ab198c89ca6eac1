"""Application factory."""
from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.extensions import csrf, db, login_manager, migrate, redis_store
from config import BaseConfig, config_for_env


def create_app(config: BaseConfig | None = None) -> Flask:
    """Build the app from a config object (default: the one APP_ENV names)."""
    config = config if config is not None else config_for_env()
    config.validate()
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_object(config)
    _engine_options(app)
    app.config["CONFIG_OBJECT"] = config
    app.json.ensure_ascii = False
    app.json.sort_keys = False  # responses keep the order the serializers give

    from app.core.sessions import ConsoleSessionInterface

    app.session_interface = ConsoleSessionInterface()

    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    from app.core import hardening  # request guards, proxy, log redaction (issue 12)

    hardening.install(app)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from app.core import json_logs, request_context  # observability (issue 12 §7)

    request_context.register(app)  # X-Request-Id on every response
    json_logs.install(app)  # LOG_FORMAT=json: one JSON object per line
    return app


def _engine_options(app: Flask) -> None:
    """A connection pool sized for the worker's concurrent sends (not for SQLite files)."""
    uri = app.config.get("SQLALCHEMY_DATABASE_URI") or ""
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    # JSON columns keep Chinese as UTF-8, not \uXXXX escapes: half the bytes (outbox
    # contexts, audit data) and readable in the database.
    options.setdefault("json_serializer", _json_dumps)
    if not uri.startswith("sqlite"):
        options.setdefault("pool_size", app.config.get("DB_POOL_SIZE", 10))
        options.setdefault("max_overflow", app.config.get("DB_MAX_OVERFLOW", 30))
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _json_dumps(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    if not (app.config.get("SQLALCHEMY_DATABASE_URI") or "").startswith("sqlite"):
        from app.core.pool import ping_idle_connections

        with app.app_context():
            ping_idle_connections(db.engine, app.config.get("DB_PING_AFTER_IDLE_SECONDS", 10))
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True,
                      compare_type=True)
    redis_store.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "console.login"
    login_manager.login_message = "请先登录"

    from flask import session

    from app.services.users import console_sessions, signin

    @login_manager.user_loader
    def load_user(user_id: str):
        # The signed cookie names the user; the server-side record says whether that
        # session still stands (not logged out, revoked, idle or too old).
        user = signin.session_user(session.get(console_sessions.SESSION_FIELD), int(user_id))
        if user is None:
            session.clear()  # a dead session: drop what it carried (user id, CSRF token)
        return user


def register_blueprints(app: Flask) -> None:
    from app.console import bp as console_bp
    from app.health import bp as health_bp
    from app.integration_api import bp as integration_api_bp
    from app.landing import bp as landing_bp
    from app.metrics import bp as metrics_bp
    from miniprogram_api import bp as mp_api_bp
    from wechat_handlers import bp as wechat_handlers_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(landing_bp)
    app.register_blueprint(metrics_bp)
    app.register_blueprint(mp_api_bp, url_prefix="/api/mp/v1")
    csrf.exempt(mp_api_bp)  # bearer-token API, no cookies
    app.register_blueprint(integration_api_bp, url_prefix="/api/integration/v1")
    csrf.exempt(integration_api_bp)  # API keys, no cookies
    app.register_blueprint(wechat_handlers_bp, url_prefix="/wechat")
    csrf.exempt(wechat_handlers_bp)  # WeChat signs its callbacks instead
    app.register_blueprint(console_bp, url_prefix="/console")

    if app.config.get("SANDBOX_ENABLED"):
        from app.wechat.sandbox import bp as sandbox_bp

        app.register_blueprint(sandbox_bp, url_prefix="/_sandbox/wechat")
        csrf.exempt(sandbox_bp)
        from app.channels.sms.sandbox.emulator import bp as sms_sandbox_bp

        app.register_blueprint(sms_sandbox_bp, url_prefix="/_sandbox/sms")
        csrf.exempt(sms_sandbox_bp)

    @app.get("/")
    def index():
        from flask import redirect, url_for

        return redirect(url_for("console.interviews"))


def register_errorhandlers(app: Flask) -> None:
    from app.core import outages
    from app.core.errors import register

    register(app)
    outages.register(app)  # Redis or PostgreSQL unreachable: 503 with Retry-After


def register_commands(app: Flask) -> None:
    from app.cli import register

    register(app)


def _migrations_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "migrations"


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite: WAL so the embedded worker thread and web threads can write concurrently."""
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
