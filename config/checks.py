"""Start-up checks beyond the required keys: an enabled channel has its settings (every
environment), and production is safe to serve (issue 12 §5-6).

They run in create_app (config.validate()), so with gunicorn's `--preload` the master
itself exits, naming every problem, before it listens: without it, the master keeps
listening while its workers crash-loop and requests hang.

Traps:
- `channel_problems` asks the SMS module itself (sms_provider_from_config) whether the
  provider can be built, so the rule of what Tencent needs lives in one place.
- Template ids default to placeholders (tpl-...) for the sandbox: in production each id
  a message kind uses must come from the environment, or WeChat answers 40037 at the
  first send, long after the deploy looked fine.
"""
from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})
AES_KEY_LENGTH = 43  # WeChat's EncodingAESKey: base64 of 32 bytes without the final "="
SMTP_ONLY_WITH_HOST = ("SMTP_PORT", "SMTP_USER", "SMTP_PASSWORD", "SMTP_CA_FILE")


def _settings(config) -> dict:
    return {key: getattr(config, key) for key in dir(config)
            if key.isupper() and not key.startswith("_")}


def sms_problems(settings: dict) -> list[str]:
    from app.channels.sms import SmsConfigError, sms_provider_from_config
    from templates_msg.catalogue import MESSAGE_KINDS

    try:
        provider = sms_provider_from_config(settings)
    except SmsConfigError as exc:
        return [str(exc)]
    templates = getattr(provider, "templates", None)
    if templates is None:  # the sandbox, or SMS_PROVIDER=disabled
        return []
    kinds = sorted(code for code, kind in MESSAGE_KINDS.items() if kind.audience == "candidate")
    uncovered = [kind for kind in kinds if not str(templates.get(kind) or "").isdigit()]
    if uncovered:
        return ["TENCENT_SMS_TEMPLATES needs an approved template id for every candidate "
                "message kind; missing: " + ", ".join(uncovered)]
    return []


def smtp_problems(settings: dict) -> list[str]:
    problems = []
    if not settings.get("SMTP_HOST"):
        given = [key for key in SMTP_ONLY_WITH_HOST if settings.get(key)]
        if given:
            problems.append("SMTP_HOST is required when " + ", ".join(given)
                            + " is set (e-mail is enabled by SMTP_HOST)")
        return problems
    if bool(settings.get("SMTP_USER")) != bool(settings.get("SMTP_PASSWORD")):
        problems.append("SMTP_USER and SMTP_PASSWORD go together")
    if _true(settings.get("SMTP_SSL")) and _true(settings.get("SMTP_STARTTLS")):
        problems.append("SMTP_SSL and SMTP_STARTTLS exclude each other")
    if "@" not in str(settings.get("MAIL_FROM") or ""):
        problems.append("MAIL_FROM must be an e-mail address when SMTP_HOST is set")
    return problems


def _true(value) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


def channel_problems(config) -> list[str]:
    """Every environment: an enabled SMS or e-mail channel has what it needs."""
    settings = _settings(config)
    return sms_problems(settings) + smtp_problems(settings)


def aes_key_problem(name: str, value: str | None) -> str | None:
    if not value:
        return None
    try:
        decoded = base64.b64decode(value + "=", validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(value) != AES_KEY_LENGTH or len(decoded) != 32:
        return (f"{name} must be the {AES_KEY_LENGTH}-character EncodingAESKey from the "
                f"WeChat admin console (got {len(value)} characters)")
    return None


def public_url_problem(url: str | None) -> str | None:
    parts = urlsplit(url or "")
    if parts.scheme != "https" or not parts.hostname or parts.hostname in LOOPBACK_HOSTS:
        return ("PUBLIC_BASE_URL must be this site's public https:// address (it goes into "
                f"SMS and e-mail links and WeChat pages), got {url!r}")
    return None


def template_problems(config) -> list[str]:
    from config.settings import BaseConfig
    from templates_msg.catalogue import MESSAGE_KINDS

    keys = sorted({key for kind in MESSAGE_KINDS.values()
                   for key in (kind.mp_template_key, kind.oa_template_key) if key})
    placeholders = [key for key in keys
                    if not getattr(config, key, None)
                    or getattr(config, key) == getattr(BaseConfig, key, None)]
    if placeholders:
        return ["template ids of the message kinds must be set (WeChat admin console): "
                + ", ".join(placeholders)]
    return []


def production_problems(config) -> list[str]:
    """Production only: what would let it start and then fail, or serve unsafely."""
    problems = []
    if not config.METRICS_TOKEN and not config.METRICS_PRIVATE_PORT:
        problems.append("METRICS_TOKEN is required (or METRICS_PRIVATE_PORT: /metrics only "
                        "on a private listener)")
    for name in ("WECHAT_MP_AES_KEY", "WECHAT_OA_AES_KEY"):
        if problem := aes_key_problem(name, getattr(config, name, None)):
            problems.append(problem)
    if problem := public_url_problem(config.PUBLIC_BASE_URL):
        problems.append(problem)
    problems.extend(template_problems(config))
    if config.SANDBOX_ENABLED:
        problems.append("the WeChat sandbox cannot be enabled in production")
    return problems
