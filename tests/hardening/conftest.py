"""Production environments for the hardening tests: a complete, valid one that tests
break one key at a time (the checks of config/checks.py name what is wrong)."""
from __future__ import annotations

import os

import pytest
from cryptography.fernet import Fernet

from config.settings import SANDBOX_DEFAULTS, BaseConfig

TEMPLATE_KEYS = ("WECHAT_TPL_INTERVIEW_CANCELLED", "WECHAT_TPL_CANCEL_REQUEST",
                 "WECHAT_TPL_INTERVIEW_CHANGED", "WECHAT_TPL_CONFIRM_REMINDER",
                 "WECHAT_TPL_SLOT_OFFER", "WECHAT_OA_TPL_HR_ALERT")


def valid_production_env(database_url: str, redis_url: str = "redis://127.0.0.1:6379/0",
                         **overrides) -> dict:
    """Every variable a production start needs, valid; `overrides` replace (None removes)."""
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": "prod-secret-key-" + "x" * 32,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DATA_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        **{key: SANDBOX_DEFAULTS[key] for key in SANDBOX_DEFAULTS if key.startswith("WECHAT_")},
        "PUBLIC_BASE_URL": "https://hr.example.com",
        "METRICS_TOKEN": "metrics-token-0123456789",
        "SMS_PROVIDER": "disabled",
        **{key: f"prod-{getattr(BaseConfig, key)}" for key in TEMPLATE_KEYS},
    }
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@pytest.fixture
def production_environ(monkeypatch, tmp_path):
    """production_environ(**overrides): the process environment set to a valid production
    one (with the overrides), every other setting of ours removed."""
    def apply(**overrides):
        from config.checks import SMTP_ONLY_WITH_HOST

        for key in list(os.environ):
            if key.startswith(("WECHAT_", "TENCENT_", "SMTP_", "SMS_", "METRICS_")) \
                    or key in SMTP_ONLY_WITH_HOST or key in ("PUBLIC_BASE_URL", "TESTING"):
                monkeypatch.delenv(key, raising=False)
        env = valid_production_env(f"sqlite:///{tmp_path / 'prod.db'}", **overrides)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        for key, value in overrides.items():
            if value is None:
                monkeypatch.delenv(key, raising=False)
        return env
    return apply
