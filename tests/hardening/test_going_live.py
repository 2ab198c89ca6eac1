"""Going live as a new IT engineer would, following the README (issue 12, section 6):
production fails fast before it serves, refuses an enabled channel without its settings,
checks its WeChat keys, public URL and template ids, documents every setting it reads,
tells whether a worker is alive, and the README stands on its own."""
from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from config import ConfigError, DevelopmentConfig, ProductionConfig
from tests.hardening.conftest import TEMPLATE_KEYS, valid_production_env

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"


# --- failing fast under gunicorn ----------------------------------------------------------

def _gunicorn(env: dict, tmp_path) -> tuple[subprocess.CompletedProcess, float]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("WECHAT_", "TENCENT_", "SMTP_", "SMS_", "METRICS_"))
             and k not in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DATA_ENCRYPTION_KEY",
                           "PUBLIC_BASE_URL", "APP_ENV", "TESTING")}
    started = time.monotonic()
    proc = subprocess.run([str(GUNICORN), "--preload", "-w", "2", "-b", "127.0.0.1:0",
                           "--graceful-timeout", "1", "wsgi:app"], cwd=ROOT,
                          env={**clean, **env}, capture_output=True, text=True, timeout=60)
    return proc, time.monotonic() - started


@pytest.mark.slow  # a gunicorn master of its own
@pytest.mark.parametrize("drop, named", [("SECRET_KEY", "SECRET_KEY"),
                                         ("METRICS_TOKEN", "METRICS_TOKEN")])
def test_gunicorn_with_preload_exits_at_once_when_a_key_is_missing(tmp_path, drop, named):
    env = valid_production_env(f"sqlite:///{tmp_path / 'prod.db'}", **{drop: None})
    proc, seconds = _gunicorn(env, tmp_path)
    assert proc.returncode != 0, proc.stderr[-2000:]
    assert named in proc.stderr
    assert seconds < 30  # the master never listened: no crash-looping workers


def test_the_readme_documents_the_preload_command():
    commands = [line for line in README.splitlines()
                if "gunicorn " in line and "wsgi:app" in line and not line.startswith("|")]
    assert commands and all("--preload" in line for line in commands), commands


# --- channels without their settings ---------------------------------------------------------

@pytest.mark.parametrize("config_class", [DevelopmentConfig, ProductionConfig])
def test_sms_tencent_without_its_keys_refuses_to_start(production_environ, monkeypatch,
                                                       config_class):
    production_environ(SMS_PROVIDER="tencent")
    if config_class is DevelopmentConfig:
        monkeypatch.setenv("APP_ENV", "development")
    with pytest.raises(ConfigError, match="TENCENT_SECRET_ID"):
        config_class().validate()


def test_sms_tencent_needs_a_template_for_every_candidate_message(production_environ):
    production_environ(SMS_PROVIDER="tencent", TENCENT_SECRET_ID="AKIDx", TENCENT_SECRET_KEY="k",
                       TENCENT_SMS_SDK_APP_ID="1400000000", TENCENT_SMS_SIGN_NAME="某某公司",
                       TENCENT_SMS_TEMPLATES='{"candidate_cancel_confirmed": "1001"}')
    with pytest.raises(ConfigError, match="candidate_cancel_requested"):
        ProductionConfig().validate()


def test_sms_tencent_with_everything_starts(production_environ):
    from templates_msg.catalogue import MESSAGE_KINDS

    templates = {k: str(1000 + i) for i, (k, kind) in enumerate(sorted(MESSAGE_KINDS.items()))
                 if kind.audience == "candidate"}
    import json

    production_environ(SMS_PROVIDER="tencent", TENCENT_SECRET_ID="AKIDx", TENCENT_SECRET_KEY="k",
                       TENCENT_SMS_SDK_APP_ID="1400000000", TENCENT_SMS_SIGN_NAME="某某公司",
                       TENCENT_SMS_TEMPLATES=json.dumps(templates))
    ProductionConfig().validate()


def test_the_sms_sandbox_is_refused_in_production(production_environ):
    production_environ(SMS_PROVIDER="sandbox")
    with pytest.raises(ConfigError, match="sandbox"):
        ProductionConfig().validate()


@pytest.mark.parametrize("given, message", [
    ({"SMTP_USER": "hr@example.com", "SMTP_PASSWORD": "pw"}, "SMTP_HOST"),
    ({"SMTP_HOST": "smtp.example.com", "SMTP_USER": "hr@example.com"}, "SMTP_PASSWORD"),
    ({"SMTP_HOST": "smtp.example.com", "SMTP_SSL": "1", "SMTP_STARTTLS": "1"}, "SMTP_SSL"),
    ({"SMTP_HOST": "smtp.example.com", "MAIL_FROM": "nobody"}, "MAIL_FROM"),
])
def test_e_mail_settings_without_what_they_need_refuse_to_start(production_environ, given,
                                                                message):
    production_environ(**given)
    with pytest.raises(ConfigError, match=message):
        ProductionConfig().validate()


# --- production checks at start ----------------------------------------------------------------

@pytest.mark.parametrize("key", ["WECHAT_MP_AES_KEY", "WECHAT_OA_AES_KEY"])
@pytest.mark.parametrize("value", ["too-short", "a" * 44, "!" * 43])
def test_an_encoding_aes_key_must_be_43_characters_of_base64(production_environ, key, value):
    production_environ(**{key: value})
    with pytest.raises(ConfigError, match=key + ".*43"):
        ProductionConfig().validate()


@pytest.mark.parametrize("url", [None, "http://127.0.0.1:5000", "http://hr.example.com",
                                 "https://localhost", "hr.example.com"])
def test_public_base_url_must_be_set_to_the_public_https_address(production_environ, url):
    production_environ(PUBLIC_BASE_URL=url)
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL"):
        ProductionConfig().validate()


@pytest.mark.parametrize("key", TEMPLATE_KEYS)
def test_every_template_id_a_message_kind_uses_must_be_set(production_environ, key):
    production_environ(**{key: None})
    with pytest.raises(ConfigError, match=key):
        ProductionConfig().validate()


def test_a_complete_production_environment_starts(production_environ):
    production_environ()
    ProductionConfig().validate()


# --- every setting documented --------------------------------------------------------------------

class _RecordingEnviron(dict):
    """os.environ that remembers every name asked for."""

    def __init__(self, base):
        super().__init__(base)
        self.asked: set[str] = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.asked.add(key)
        return super().__contains__(key)


def _documented() -> set[str]:
    names = set()
    for line in README.splitlines():
        if line.startswith("|"):
            first = line.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", first))
    return names


def test_every_setting_the_config_reads_is_in_the_readme(monkeypatch):
    from config import settings

    recording = _RecordingEnviron({})
    monkeypatch.setattr(os, "environ", recording)
    for config_class in settings.CONFIGS.values():
        config_class()
    settings.config_for_env()
    missing = sorted(recording.asked - _documented())
    assert not missing, f"settings read but not in the README's tables: {missing}"


# --- a worker's heartbeat ----------------------------------------------------------------------

def test_readyz_and_metrics_tell_whether_a_worker_is_alive(app, client):
    from app.extensions import redis_store
    from app.jobs import heartbeat

    body = client.get("/readyz").get_json()
    assert body["checks"]["workers"] == {"ok": False, "alive": 0, "last_beats": {}}
    assert body["status"] == "ok"  # the web process serves without a worker
    with app.app_context():
        heartbeat.beat("host-a:4242")
        key = redis_store.key("worker", "heartbeat", "host-a:4242")
        assert 0 < redis_store.client.ttl(key) <= 60
    workers = client.get("/readyz").get_json()["checks"]["workers"]
    assert workers["ok"] and workers["alive"] == 1 and "host-a:4242" in workers["last_beats"]
    assert b"aiic_workers_alive 1.0" in client.get("/metrics").data
    with app.app_context():
        redis_store.client.delete(key)  # what the expiry does a minute after a kill -9
        assert heartbeat.alive_workers() == {}


# --- the README stands on its own ---------------------------------------------------------

def test_the_readme_links_only_to_files_inside_the_repository():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    code_refs = re.findall(r"`(\.\./[^`]+|/work/[^`]+)`", README)
    assert not code_refs, code_refs
    for link in links:
        if link.startswith(("http://", "https://", "mailto:")):
            continue
        assert not link.startswith(("/", "..")), link
        assert (ROOT / link).exists(), f"README links to {link}, not in the repository"
    assert "docs/WECHAT.md" in README and (ROOT / "docs" / "WECHAT.md").exists()


@pytest.mark.parametrize("heading", ["TLS and the reverse proxy", "Connection budget"])
def test_the_readme_explains_tls_and_the_connection_budget(heading):
    assert re.search(rf"^#+ {heading}", README, re.M), heading
