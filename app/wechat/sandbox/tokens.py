"""Access tokens of the two sandbox apps, as WeChat issues and checks them.

- /cgi-bin/token issues a new token on every call; the previous one keeps working for
  5 minutes only.
- /cgi-bin/stable_token returns the current stable token (with its remaining lifetime)
  unless force_refresh; the two kinds are independent, as on WeChat.
- Tokens last 7200 s. `expire_all()` (the `expire_tokens` fault) expires every token
  issued so far: each token carries a serial number, and tokens at or below the cutoff
  are expired.
"""
from __future__ import annotations

import secrets

from redis.exceptions import WatchError

from app.wechat.sandbox import state

TOKEN_TTL = 7200
OLD_TOKEN_GRACE = 300

OK = 0
MISSING = 41001
INVALID = 40001
EXPIRED = 42001


def _record_key(token: str) -> str:
    return state.key("token", token)


def _current_key(app_name: str, kind: str) -> str:
    return state.key("token-current", app_name, kind)


def _save(token: str, record: dict) -> None:
    ttl = max(int(record["expires"] - state.now()), 0) + state.DAY
    state.r().set(_record_key(token), state.dump(record), ex=ttl)


def _load(token: str) -> dict | None:
    return state.load(state.r().get(_record_key(token)))


def _new_token(app_name: str) -> tuple[str, dict]:
    token = "SBX_" + secrets.token_urlsafe(60)
    serial = int(state.r().incr(state.key("token-serial")))
    issued = state.now()
    record = {"app": app_name, "serial": serial, "issued": issued,
              "expires": issued + TOKEN_TTL}
    _save(token, record)
    return token, record


def _expired(record: dict) -> bool:
    cutoff = state.r().get(state.key("token-expired-upto"))
    if cutoff is not None and record["serial"] <= int(cutoff):
        return True
    return state.now() >= record["expires"]


def _shorten(token: str | None) -> None:
    """The previous token keeps working for OLD_TOKEN_GRACE seconds only."""
    if not token:
        return
    record = _load(token)
    if record is not None:
        record["expires"] = min(record["expires"], state.now() + OLD_TOKEN_GRACE)
        _save(token, record)


def _remaining(record: dict) -> int:
    return max(int(record["expires"] - state.now()), 0)


def issue(app_name: str) -> tuple[str, int]:
    """/cgi-bin/token: always a new token; the previous one ends 5 minutes from now."""
    token, record = _new_token(app_name)
    previous = state.r().getset(_current_key(app_name, "token"), token)
    _shorten(state.text(previous))
    return token, TOKEN_TTL


def stable(app_name: str, force_refresh: bool) -> tuple[str, int]:
    """/cgi-bin/stable_token: the current stable token, or a new one when forced/expired."""
    current_key = _current_key(app_name, "stable")
    if not force_refresh:
        current = state.text(state.r().get(current_key))
        record = _load(current) if current else None
        if record is not None and not _expired(record):
            return current, _remaining(record)
    token, record = _new_token(app_name)
    if force_refresh:
        previous = state.r().getset(current_key, token)
        _shorten(state.text(previous))
        return token, TOKEN_TTL
    # Not forced and the current one is missing or expired: compare-and-set, so that
    # concurrent callers in several processes all end up with the same token.
    with state.r().pipeline() as pipe:
        try:
            pipe.watch(current_key)
            current = state.text(pipe.get(current_key))
            record = _load(current) if current else None
            if record is None or _expired(record):
                pipe.multi()
                pipe.set(current_key, token)
                pipe.execute()
                return token, TOKEN_TTL
            winner = current
        except WatchError:
            winner = state.text(state.r().get(current_key))
    state.r().delete(_record_key(token))
    record = _load(winner) if winner else None
    if record is None:
        raise RuntimeError("sandbox stable token disappeared during refresh")
    return winner, _remaining(record)


def check(token: str | None, app_name: str) -> int:
    """0 when `token` is a live token of `app_name`, else WeChat's errcode."""
    if not token:
        return MISSING
    record = _load(token)
    if record is None or record["app"] != app_name:
        return INVALID
    if _expired(record):
        return EXPIRED
    return OK


def expire_all() -> int:
    """Every token issued so far becomes expired (42001). Returns the serial cutoff."""
    serial = int(state.r().get(state.key("token-serial")) or 0)
    state.r().set(state.key("token-expired-upto"), serial)
    return serial
