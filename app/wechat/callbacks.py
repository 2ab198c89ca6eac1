"""The callback protocol both sides share: our receiver (wechat_handlers) and the sandbox
that pushes as WeChat does (app.wechat.sandbox.push).

Per app (oa, mp) a configured encryption mode, as in WeChat's server configuration:
- safe: the body is `<xml><ToUserName/><Encrypt/></xml>`, the query carries
  `encrypt_type=aes` and `msg_signature` (sha1 over token, timestamp, nonce AND the
  ciphertext). Only that signature counts: plaintext bodies are refused.
- compatible: WeChat sends the encrypted form (with the plaintext fields beside it); a
  plaintext body is accepted only with the plain `signature` and a fresh timestamp.
- plain: plaintext bodies with `signature` only.

Traps:
- The plain `signature` is sha1(token, timestamp, nonce): it covers NO body. Anyone who
  saw one callback URL (logs, proxies) can replay it with any body, which is why safe
  mode refuses plaintext and every mode refuses timestamps outside the window.
- Unset mode means "safe when the app's EncodingAESKey is set, else plain": the sandbox
  and the app read the same function, so `make run` agrees with itself. A sandbox pushing
  to another instance (SANDBOX_PUSH_BASE_URL) needs that instance configured alike.
"""
from __future__ import annotations

from collections.abc import Mapping

from wechatpy.crypto import WeChatCrypto

MODES = ("safe", "compatible", "plain")
APPS = ("oa", "mp")
# app -> config keys of (token, EncodingAESKey, appid, encryption mode)
CREDENTIALS = {
    "oa": ("WECHAT_OA_TOKEN", "WECHAT_OA_AES_KEY", "WECHAT_OA_APPID", "WECHAT_OA_ENCRYPT_MODE"),
    "mp": ("WECHAT_MP_TOKEN", "WECHAT_MP_AES_KEY", "WECHAT_MP_APPID", "WECHAT_MP_ENCRYPT_MODE"),
}
CALLBACK_PATHS = {"oa": "/wechat/oa/callback", "mp": "/wechat/mp/callback"}


def encrypt_mode(cfg: Mapping, app: str) -> str:
    """The app's callback encryption mode (safe / compatible / plain)."""
    _, aes_key, _, mode_key = CREDENTIALS[app]
    mode = cfg.get(mode_key)
    if mode:
        return str(mode).strip().lower()
    return "safe" if cfg.get(aes_key) else "plain"


def mode_problems(cfg: Mapping) -> list[str]:
    """Configuration errors of the callback modes (for config validation)."""
    problems = []
    for app in APPS:
        _, aes_key, _, mode_key = CREDENTIALS[app]
        mode = encrypt_mode(cfg, app)
        if mode not in MODES:
            problems.append(f"{mode_key} must be one of {', '.join(MODES)}, got {mode!r}")
        elif mode != "plain" and not cfg.get(aes_key):
            problems.append(f"{mode_key}={mode} needs {aes_key}")
    return problems


def token(cfg: Mapping, app: str) -> str:
    return cfg[CREDENTIALS[app][0]]


def crypto(cfg: Mapping, app: str) -> WeChatCrypto:
    token_key, aes_key, appid_key, _ = CREDENTIALS[app]
    return WeChatCrypto(cfg[token_key], cfg[aes_key], cfg[appid_key])
