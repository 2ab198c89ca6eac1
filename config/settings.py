"""Config classes (Development default, Testing, Production) built from the environment."""
from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = BASE_DIR / "instance"

# Keys production must receive from the environment; it has no default for any of them.
REQUIRED_PRODUCTION_KEYS = (
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "DATA_ENCRYPTION_KEY",
    "WECHAT_MP_APPID",
    "WECHAT_MP_SECRET",
    "WECHAT_MP_TOKEN",
    "WECHAT_MP_AES_KEY",
    "WECHAT_OA_APPID",
    "WECHAT_OA_SECRET",
    "WECHAT_OA_TOKEN",
    "WECHAT_OA_AES_KEY",
)

# Sandbox credentials used by Development/Testing only. Never valid against WeChat.
SANDBOX_DEFAULTS = {
    "SECRET_KEY": "dev-only-secret-key-not-for-production",
    # Fernet key (urlsafe base64 of 32 bytes); development only.
    "DATA_ENCRYPTION_KEY": "ZGV2LW9ubHktZGF0YS1lbmNyeXB0aW9uLWtleS0wMDA=",
    "WECHAT_MP_APPID": "wxsandboxmp00000001",
    "WECHAT_MP_SECRET": "sandbox-mp-secret",
    "WECHAT_MP_TOKEN": "sandboxmptoken",
    "WECHAT_MP_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "WECHAT_OA_APPID": "wxsandboxoa00000001",
    "WECHAT_OA_SECRET": "sandbox-oa-secret",
    "WECHAT_OA_TOKEN": "sandboxoatoken",
    "WECHAT_OA_AES_KEY": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg",
}


# Console session and login-throttle settings (BaseConfig): whole numbers of at least 1.
CONSOLE_SIGN_IN_KEYS = ("CONSOLE_IDLE_MINUTES", "CONSOLE_SESSION_HOURS",
                        "CONSOLE_LOGIN_MAX_FAILURES", "CONSOLE_LOGIN_IP_MAX_FAILURES",
                        "CONSOLE_LOGIN_LOCK_MINUTES")


class ConfigError(RuntimeError):
    """Raised when the configuration cannot start the application."""

    def __init__(self, missing: list[str], problems: list[str] | None = None):
        self.missing = missing
        self.problems = problems or []
        parts = []
        if missing:
            parts.append("missing required configuration: " + ", ".join(missing))
        parts.extend(self.problems)
        super().__init__("; ".join(parts))


def _env(name: str, default=None):
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def database_url(url: str | None) -> str | None:
    """PostgreSQL URLs without a driver (postgres://, postgresql://) use psycopg 3: it
    prepares the statements a connection runs repeatedly, so PostgreSQL stops planning
    the hot queries on every request."""
    if url is None:
        return None
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    return int(value) if value is not None else default


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


class BaseConfig:
    """Settings shared by every environment; secrets are filled by subclasses."""

    ENV_NAME = "base"
    TESTING = False
    DEBUG = False
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # Pooled connections idle longer than this are pinged before use (app.db_pool).
    DB_PING_AFTER_IDLE_SECONDS = 10.0
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    JSON_AS_ASCII = False
    TIMEZONE = "Asia/Shanghai"

    # WeChat endpoints: WeChat itself unless overridden (the sandbox in dev/test).
    WECHAT_API_BASE = "https://api.weixin.qq.com"
    WECHAT_HTTP_TIMEOUT = 5.0
    WECHAT_TOKEN_RETRIES = 1
    SANDBOX_ENABLED = False
    # Mobile console (OA web OAuth): the host of WeChat's authorize page, a fourth base
    # URL beside the API, the public site and the sandbox (development/testing: the
    # sandbox's authorize page). The state WeChat carries back lives this long.
    WECHAT_OAUTH_BASE_URL = "https://open.weixin.qq.com"
    WECHAT_OAUTH_STATE_SECONDS = 300

    # Template ids (assigned in the mini program / OA admin console).
    WECHAT_TPL_INTERVIEW_CANCELLED = "tpl-interview-cancelled"
    WECHAT_TPL_CANCEL_REQUEST = "tpl-cancel-request"
    WECHAT_TPL_INTERVIEW_CHANGED = "tpl-interview-changed"
    WECHAT_TPL_CONFIRM_REMINDER = "tpl-confirm-reminder"
    WECHAT_TPL_SLOT_OFFER = "tpl-slot-offer"
    WECHAT_OA_TPL_HR_ALERT = "oa-tpl-hr-alert"

    # Product rules (defaults; HR can change them in settings later).
    CANCEL_DEADLINE_HOURS = 2
    NOTIFY_PROMISE_MINUTES = 60
    SESSION_TOKEN_TTL = 7 * 24 * 3600

    # Console sign-in: a session ends after this long without a request, and this long
    # after login whatever happens; CONSOLE_LOGIN_MAX_FAILURES wrong passwords for one
    # username within CONSOLE_LOGIN_LOCK_MINUTES lock it for that long (an admin can
    # unlock it sooner), CONSOLE_LOGIN_IP_MAX_FAILURES from one address lock the address.
    CONSOLE_IDLE_MINUTES = 30
    CONSOLE_SESSION_HOURS = 12
    CONSOLE_LOGIN_MAX_FAILURES = 5
    CONSOLE_LOGIN_IP_MAX_FAILURES = 50
    CONSOLE_LOGIN_LOCK_MINUTES = 15

    # Worker
    WORKER_SWEEP_SECONDS = 5.0
    WORKER_BATCH_SIZE = 50
    WORKER_LEASE_SECONDS = 60
    WORKER_CONCURRENCY = 32
    EMBEDDED_WORKER = False
    # Worker scheduler and clock (issue 11 §1, app.jobs.scheduler, app.core.clock):
    # SCHEDULER_ENABLED=0 runs a dispatcher-only worker; SCHEDULER_TICK_SECONDS fires every
    # job's trigger that often (tests; the turns still follow the clock); CLOCK_SOURCE
    # "redis" makes every process read one shared simulated clock (never in production).
    SCHEDULER_ENABLED = True
    SCHEDULER_TICK_SECONDS: float | None = None
    CLOCK_SOURCE = "system"

    REDIS_KEY_PREFIX = "aiic:"

    # Backfill (issue 11 §5, app.services.backfill): an offer of a freed place holds it
    # this many hours (or until the session is too close to change); it goes to this many
    # waiting candidates at once (1: one after the other; more: the first to accept wins).
    BACKFILL_OFFER_HOURS = 12
    BACKFILL_OFFER_FANOUT = 1

    # Watchdogs and the daily digest (issue 11 §6, app.services.watchdogs). The privacy
    # rules (retention days, erasure deadline, notice version) are HR settings instead.
    WATCHDOG_WEBHOOK_FAILING_HOURS = 3      # a receiver failing this long alerts admins
    WATCHDOG_UNREACHABLE_WINDOW_HOURS = 72  # candidates nobody reached, looked back this far

    # Outages (issue 12 §3, app.core.outages): Redis or PostgreSQL unreachable answers 503
    # with this Retry-After.
    OUTAGE_RETRY_AFTER_SECONDS = 5

    # Hardening (issue 12 §1-2, §5-6; checks in config/checks.py). Request bodies are
    # capped per route family (app.core.body_limits); TRUSTED_PROXIES reverse proxies in
    # front give the client's address and scheme (app.core.proxy, 0: none); /metrics needs
    # METRICS_TOKEN, or answers only on the private listener METRICS_PRIVATE_PORT;
    # production sends HSTS for HSTS_SECONDS.
    MP_MAX_BODY_BYTES = 64 * 1024
    INTEGRATION_MAX_BODY_BYTES = 256 * 1024
    CONSOLE_MAX_BODY_BYTES = 1024 * 1024
    IMPORT_MAX_BODY_BYTES = 6 * 1024 * 1024
    TRUSTED_PROXIES = 0
    METRICS_PRIVATE_PORT: int | None = None
    HSTS_SECONDS = 0

    # Webhooks to the company's ATS/ERP/OA
    WEBHOOK_TIMEOUT = 5.0
    WEBHOOK_RETRY_WINDOW_HOURS = 24
    WEBHOOK_BACKOFF_BASE_SECONDS = 30
    WEBHOOK_BACKOFF_CAP_SECONDS = 3600
    WEBHOOK_DISABLE_AFTER = 5
    # Receivers whose host resolves to a private, loopback or link-local address are
    # refused (SSRF guard, at registration and at every send) unless this is true; on by
    # default only in development and testing (env WEBHOOK_ALLOW_PRIVATE_HOSTS).
    WEBHOOK_ALLOW_PRIVATE_HOSTS = False

    # SMS (fallback channel) and e-mail
    SMS_PROVIDER = None  # sandbox (development/testing default) / tencent / disabled
    TENCENT_SMS_ENDPOINT = "https://sms.tencentcloudapi.com"
    TENCENT_SMS_REGION = "ap-guangzhou"
    SMTP_PORT = None
    SMTP_TIMEOUT = 10
    MAIL_FROM = "AI面试通知 <noreply@example.com>"

    # WeChat callbacks (issue 10 §1-2, callback pipeline): per app encryption mode
    # WECHAT_OA_ENCRYPT_MODE / WECHAT_MP_ENCRYPT_MODE = safe / compatible / plain (unset:
    # safe when that app's EncodingAESKey is set, else plain; app.wechat.callbacks).
    # Timestamps further than the window from now are refused; WeChat's retries are
    # deduplicated for longer than the window, so a replay inside it is never handled twice.
    WECHAT_OA_ENCRYPT_MODE = None
    WECHAT_MP_ENCRYPT_MODE = None
    WECHAT_CALLBACK_TIMESTAMP_WINDOW = 300
    WECHAT_CALLBACK_DEDUPE_SECONDS = 600
    WECHAT_CALLBACK_MAX_BYTES = 256 * 1024
    # Where the sandbox pushes its events (default PUBLIC_BASE_URL): another instance's
    # base URL for staging (issue 12 §6).
    SANDBOX_PUSH_BASE_URL = None

    # HR in the Official Account (issue 10 §3-4, app.services.users.wechat_binding): a
    # binding code (and its QR scene) is valid this long; this many wrong codes from one
    # WeChat user within the lock time stop their attempts for that long.
    HR_BINDING_CODE_MINUTES = 10
    HR_BINDING_MAX_FAILURES = 5
    HR_BINDING_LOCK_MINUTES = 15

    # Observability (issue 12 §7, app.core.json_logs): log lines as one JSON object each
    # ("json", production's default) or as text ("text", elsewhere).
    LOG_FORMAT = "text"

    def __init__(self):
        self.SECRET_KEY = _env("SECRET_KEY")
        self.SQLALCHEMY_DATABASE_URI = database_url(_env("DATABASE_URL"))
        self.REDIS_URL = _env("REDIS_URL")
        self.DATA_ENCRYPTION_KEY = _env("DATA_ENCRYPTION_KEY")
        for key in REQUIRED_PRODUCTION_KEYS[4:]:
            setattr(self, key, _env(key))
        self.WECHAT_API_BASE = _env("WECHAT_API_BASE", self.WECHAT_API_BASE)
        # Mobile console (OA web OAuth)
        self.WECHAT_OAUTH_BASE_URL = _env("WECHAT_OAUTH_BASE_URL", self.WECHAT_OAUTH_BASE_URL)
        self.REDIS_KEY_PREFIX = _env("REDIS_KEY_PREFIX", self.REDIS_KEY_PREFIX)
        for key in ("BACKFILL_OFFER_HOURS", "BACKFILL_OFFER_FANOUT"):  # backfill (issue 11 §5)
            setattr(self, key, _env_int(key, getattr(self, key)))
        self.PUBLIC_BASE_URL = _env("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
        self.METRICS_TOKEN = _env("METRICS_TOKEN")
        for key in ("SMS_PROVIDER", "TENCENT_SECRET_ID", "TENCENT_SECRET_KEY",
                    "TENCENT_SMS_SDK_APP_ID", "TENCENT_SMS_SIGN_NAME", "TENCENT_SMS_TEMPLATES",
                    "TENCENT_SMS_ENDPOINT", "TENCENT_SMS_REGION", "SMTP_HOST", "SMTP_USER",
                    "SMTP_PASSWORD", "SMTP_STARTTLS", "SMTP_SSL", "SMTP_CA_FILE", "MAIL_FROM"):
            setattr(self, key, _env(key, getattr(self, key, None)))
        if _env("SMTP_PORT"):
            self.SMTP_PORT = int(_env("SMTP_PORT"))
        for key in ("WEBHOOK_DISABLE_AFTER", "WEBHOOK_RETRY_WINDOW_HOURS"):
            setattr(self, key, _env_int(key, getattr(self, key)))
        self.OUTAGE_RETRY_AFTER_SECONDS = _env_int("OUTAGE_RETRY_AFTER_SECONDS",
                                                   self.OUTAGE_RETRY_AFTER_SECONDS)
        self.WEBHOOK_ALLOW_PRIVATE_HOSTS = _env_bool("WEBHOOK_ALLOW_PRIVATE_HOSTS",
                                                     self.WEBHOOK_ALLOW_PRIVATE_HOSTS)
        self.CANCEL_DEADLINE_HOURS = _env_int("CANCEL_DEADLINE_HOURS", self.CANCEL_DEADLINE_HOURS)
        self.NOTIFY_PROMISE_MINUTES = _env_int("NOTIFY_PROMISE_MINUTES",
                                               self.NOTIFY_PROMISE_MINUTES)
        for key in CONSOLE_SIGN_IN_KEYS:
            setattr(self, key, _env_int(key, getattr(self, key)))
        self.EMBEDDED_WORKER = _env_bool("EMBEDDED_WORKER", self.EMBEDDED_WORKER)
        self.WORKER_CONCURRENCY = _env_int("WORKER_CONCURRENCY", self.WORKER_CONCURRENCY)
        self.WORKER_LEASE_SECONDS = _env_int("WORKER_LEASE_SECONDS", self.WORKER_LEASE_SECONDS)
        self.WORKER_BATCH_SIZE = _env_int("WORKER_BATCH_SIZE", self.WORKER_BATCH_SIZE)
        self.WORKER_SWEEP_SECONDS = float(_env("WORKER_SWEEP_SECONDS",
                                               self.WORKER_SWEEP_SECONDS))
        # worker scheduler and clock (issue 11 §1)
        self.SCHEDULER_ENABLED = _env_bool("SCHEDULER_ENABLED", self.SCHEDULER_ENABLED)
        if _env("SCHEDULER_TICK_SECONDS"):
            self.SCHEDULER_TICK_SECONDS = float(_env("SCHEDULER_TICK_SECONDS"))
        self.CLOCK_SOURCE = _env("CLOCK_SOURCE", self.CLOCK_SOURCE)
        self.DB_POOL_SIZE = _env_int("DB_POOL_SIZE", 10)
        self.DB_MAX_OVERFLOW = _env_int("DB_MAX_OVERFLOW", 30)
        # extra connections a report may read on at once (app.queries.reports.sql)
        self.REPORT_READERS = _env_int("REPORT_READERS", 3)
        self.DB_PING_AFTER_IDLE_SECONDS = float(_env("DB_PING_AFTER_IDLE_SECONDS",
                                                     self.DB_PING_AFTER_IDLE_SECONDS))
        self.WECHAT_HTTP_TIMEOUT = float(_env("WECHAT_HTTP_TIMEOUT", self.WECHAT_HTTP_TIMEOUT))
        # JSON, e.g. {"cancel": {"ip": [300, 60], "user": [20, 60]}} (limit, window seconds)
        import json

        self.RATE_LIMITS = {scope: {kind: tuple(v) for kind, v in kinds.items()}
                            for scope, kinds in json.loads(_env("RATE_LIMITS", "{}")).items()}
        for key in ("WECHAT_TPL_INTERVIEW_CANCELLED", "WECHAT_TPL_CANCEL_REQUEST",
                    "WECHAT_TPL_INTERVIEW_CHANGED", "WECHAT_TPL_CONFIRM_REMINDER",
                    "WECHAT_TPL_SLOT_OFFER", "WECHAT_OA_TPL_HR_ALERT"):
            setattr(self, key, _env(key, getattr(self, key)))
        # WeChat callbacks (issue 10 §1-2)
        for key in ("WECHAT_OA_ENCRYPT_MODE", "WECHAT_MP_ENCRYPT_MODE", "SANDBOX_PUSH_BASE_URL"):
            setattr(self, key, _env(key, getattr(self, key)))
        for key in ("WECHAT_CALLBACK_TIMESTAMP_WINDOW", "WECHAT_CALLBACK_DEDUPE_SECONDS",
                    "WECHAT_CALLBACK_MAX_BYTES"):
            setattr(self, key, _env_int(key, getattr(self, key)))
        # HR in the Official Account (issue 10 §3-4)
        for key in ("HR_BINDING_CODE_MINUTES", "HR_BINDING_MAX_FAILURES",
                    "HR_BINDING_LOCK_MINUTES"):
            setattr(self, key, _env_int(key, getattr(self, key)))
        # Hardening (issue 12)
        for key in ("MP_MAX_BODY_BYTES", "INTEGRATION_MAX_BODY_BYTES", "CONSOLE_MAX_BODY_BYTES",
                    "IMPORT_MAX_BODY_BYTES", "TRUSTED_PROXIES", "HSTS_SECONDS"):
            setattr(self, key, _env_int(key, getattr(self, key)))
        if _env("METRICS_PRIVATE_PORT"):
            self.METRICS_PRIVATE_PORT = int(_env("METRICS_PRIVATE_PORT"))
        # Observability (issue 12 §7)
        self.LOG_FORMAT = (_env("LOG_FORMAT") or self.LOG_FORMAT).strip().lower()

    @property
    def uses_embedded_redis(self) -> bool:
        return not self.REDIS_URL

    def validate(self) -> None:
        """Raise ConfigError if the configuration cannot run."""
        low = [key for key in CONSOLE_SIGN_IN_KEYS if getattr(self, key) < 1]
        if low:
            raise ConfigError([], [f"{key} must be at least 1" for key in low])
        # WeChat callbacks (issue 10 §1-2): a known mode per app, dedupe outlasting the window
        from app.wechat.callbacks import CREDENTIALS, mode_problems

        callback_problems = mode_problems({key: getattr(self, key, None)
                                           for keys in CREDENTIALS.values() for key in keys})
        if self.WECHAT_CALLBACK_DEDUPE_SECONDS <= self.WECHAT_CALLBACK_TIMESTAMP_WINDOW:
            callback_problems.append("WECHAT_CALLBACK_DEDUPE_SECONDS must be longer than "
                                     "WECHAT_CALLBACK_TIMESTAMP_WINDOW")
        if callback_problems:
            raise ConfigError([], callback_problems)
        if self.DATA_ENCRYPTION_KEY:
            from cryptography.fernet import Fernet

            try:
                Fernet(self.DATA_ENCRYPTION_KEY)
            except Exception:
                raise ConfigError([], ["DATA_ENCRYPTION_KEY must be a Fernet key "
                                       "(urlsafe base64 of 32 bytes)"]) from None
        from config.checks import channel_problems  # an enabled channel has its settings

        if problems := channel_problems(self):
            raise ConfigError([], problems)


class DevelopmentConfig(BaseConfig):
    """Embedded default: SQLite file, in-process store, WeChat sandbox, in-process worker."""

    ENV_NAME = "development"
    DEBUG = False
    SANDBOX_ENABLED = True
    EMBEDDED_WORKER = True
    WEBHOOK_ALLOW_PRIVATE_HOSTS = True  # receivers on this machine or the office network

    def __init__(self):
        super().__init__()
        for key, value in SANDBOX_DEFAULTS.items():
            if getattr(self, key, None) in (None, ""):
                setattr(self, key, value)
        if not self.SQLALCHEMY_DATABASE_URI:
            INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
            self.SQLALCHEMY_DATABASE_URI = f"sqlite:///{INSTANCE_DIR / 'aiic.db'}"
        if _env("WECHAT_API_BASE") is None:
            self.WECHAT_API_BASE = self.PUBLIC_BASE_URL.rstrip("/") + "/_sandbox/wechat"
        # Mobile console: unset = the sandbox's authorize page, on the sandbox that
        # WECHAT_API_BASE points at (app.wechat.oauth reads it at request time, so a test
        # moving the sandbox moves both)
        self.WECHAT_OAUTH_BASE_URL = _env("WECHAT_OAUTH_BASE_URL")
        # The sandbox pushes delivery events to our callbacks ~0.3 s after a send.
        self.SANDBOX_AUTO_PUSH = _env_bool("SANDBOX_AUTO_PUSH", not self.TESTING)


class TestingConfig(DevelopmentConfig):
    """Tests: like development, but the tests pick database, Redis and sandbox URL."""

    ENV_NAME = "testing"
    TESTING = True
    EMBEDDED_WORKER = False
    WTF_CSRF_ENABLED = True
    WECHAT_HTTP_TIMEOUT = 3.0
    # Cheap hashing keeps the suite fast; production keeps werkzeug's scrypt default.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"


class ProductionConfig(BaseConfig):
    """Production: every secret from the environment, no defaults, no sandbox."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    HSTS_SECONDS = 365 * 24 * 3600
    LOG_FORMAT = "json"  # Observability (issue 12 §7)

    def validate(self) -> None:
        missing = [key for key in REQUIRED_PRODUCTION_KEYS if not self._value(key)]
        if missing:
            raise ConfigError(missing)
        if self.CLOCK_SOURCE != "system":  # a simulated clock is for tests only
            raise ConfigError([], ["CLOCK_SOURCE must be 'system' in production"])
        super().validate()
        from config.checks import production_problems  # issue 12 §5-6: fail fast

        if problems := production_problems(self):
            raise ConfigError([], problems)

    def _value(self, key: str):
        if key == "DATABASE_URL":
            return self.SQLALCHEMY_DATABASE_URI
        return getattr(self, key, None)


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_for_env(name: str | None = None) -> BaseConfig:
    """Instantiate the config named by APP_ENV (default: development)."""
    name = (name or _env("APP_ENV", "development")).lower()
    if name not in CONFIGS:
        raise ConfigError([], [f"APP_ENV must be one of {', '.join(CONFIGS)}, got {name!r}"])
    return CONFIGS[name]()
