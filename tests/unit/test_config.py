"""Production refuses to start without its secrets, naming each missing key."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import REQUIRED_PRODUCTION_KEYS, ConfigError, DevelopmentConfig, ProductionConfig

ROOT = Path(__file__).resolve().parents[2]


def _run_wsgi(env_extra: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in REQUIRED_PRODUCTION_KEYS and k != "APP_ENV"}
    env.update({"APP_ENV": "production"}, **env_extra)
    return subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.slow  # a Python process of its own
def test_production_without_secrets_exits_nonzero_naming_every_key():
    proc = _run_wsgi({})
    assert proc.returncode != 0
    for key in REQUIRED_PRODUCTION_KEYS:
        assert key in proc.stderr, f"{key} not named in: {proc.stderr}"


@pytest.mark.slow  # a Python process of its own
def test_production_names_only_the_missing_key():
    env = {k: "x" for k in REQUIRED_PRODUCTION_KEYS}
    env["DATA_ENCRYPTION_KEY"] = "ZGV2LW9ubHktZGF0YS1lbmNyeXB0aW9uLWtleS0wMDA="
    env["DATABASE_URL"] = "sqlite://"
    env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    del env["WECHAT_OA_AES_KEY"]
    proc = _run_wsgi(env)
    assert proc.returncode != 0
    assert "WECHAT_OA_AES_KEY" in proc.stderr
    assert "WECHAT_MP_AES_KEY" not in proc.stderr


@pytest.mark.parametrize("key", REQUIRED_PRODUCTION_KEYS)
def test_each_required_key_is_checked(monkeypatch, key):
    for k in REQUIRED_PRODUCTION_KEYS:
        monkeypatch.setenv(k, "x")
    monkeypatch.setenv("DATA_ENCRYPTION_KEY", "ZGV2LW9ubHktZGF0YS1lbmNyeXB0aW9uLWtleS0wMDA=")
    monkeypatch.delenv(key)
    with pytest.raises(ConfigError) as info:
        ProductionConfig().validate()
    assert info.value.missing == [key]


def test_production_rejects_a_malformed_encryption_key(monkeypatch):
    for k in REQUIRED_PRODUCTION_KEYS:
        monkeypatch.setenv(k, "x")
    with pytest.raises(ConfigError, match="DATA_ENCRYPTION_KEY"):
        ProductionConfig().validate()


def test_development_defaults_and_honours_environment(monkeypatch):
    for k in REQUIRED_PRODUCTION_KEYS:
        monkeypatch.delenv(k, raising=False)
    cfg = DevelopmentConfig()
    cfg.validate()
    assert cfg.SQLALCHEMY_DATABASE_URI.startswith("sqlite:///")
    assert cfg.REDIS_URL is None and cfg.WECHAT_API_BASE.endswith("/_sandbox/wechat")
    monkeypatch.setenv("WECHAT_MP_APPID", "wxfromenv")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    cfg = DevelopmentConfig()
    assert cfg.WECHAT_MP_APPID == "wxfromenv"
    assert cfg.REDIS_URL == "redis://127.0.0.1:6379/3"


def test_console_sign_in_settings_default_read_the_environment_and_must_be_positive(
        monkeypatch):
    cfg = DevelopmentConfig()
    assert (cfg.CONSOLE_IDLE_MINUTES, cfg.CONSOLE_SESSION_HOURS, cfg.CONSOLE_LOGIN_MAX_FAILURES,
            cfg.CONSOLE_LOGIN_IP_MAX_FAILURES, cfg.CONSOLE_LOGIN_LOCK_MINUTES) == (30, 12, 5, 50,
                                                                                  15)
    monkeypatch.setenv("CONSOLE_IDLE_MINUTES", "10")
    assert DevelopmentConfig().CONSOLE_IDLE_MINUTES == 10
    monkeypatch.setenv("CONSOLE_SESSION_HOURS", "0")
    with pytest.raises(ConfigError, match="CONSOLE_SESSION_HOURS must be at least 1"):
        DevelopmentConfig().validate()
