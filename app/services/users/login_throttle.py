"""Console login throttling in Redis (shared by every web process).

Per username: CONSOLE_LOGIN_MAX_FAILURES failed logins within CONSOLE_LOGIN_LOCK_MINUTES
lock that username for CONSOLE_LOGIN_LOCK_MINUTES; while locked even the right password
is refused. Per client address: CONSOLE_LOGIN_IP_MAX_FAILURES failures (a higher budget:
one office shares a NAT address) lock the address the same way, which stops one source
from trying a few passwords on each of many usernames.

Counting by the username typed, not by the user found, keeps a lock from telling whether
a username exists: an unknown one locks after the same failures with the same message.
Attempts refused because of a lock are not counted (they check no password), so a lock
ends when its time is up. A successful login clears its username's failures, never its
address's (one valid account must not reset an address's budget).
"""
from __future__ import annotations

from flask import current_app

from app.extensions import redis_store

# KEYS[1], KEYS[2]: failure counter and lock of the username; KEYS[3], KEYS[4]: of the
# address. ARGV: username limit, address limit, window and lock seconds.
# Counts one failure on each; a counter reaching its limit becomes a lock.
# Returns 1 if this failure locked the username or the address, else 0.
_RECORD_FAILURE = """
local locked = 0
for i, limit in ipairs({tonumber(ARGV[1]), tonumber(ARGV[2])}) do
  local counter, lock = KEYS[2 * i - 1], KEYS[2 * i]
  local n = redis.call('INCR', counter)
  if n == 1 then redis.call('EXPIRE', counter, ARGV[3]) end
  if n >= limit then
    redis.call('SET', lock, n, 'EX', ARGV[3])
    redis.call('DEL', counter)
    locked = 1
  end
end
return locked
"""


def normalized(username: str) -> str:
    """Usernames differing only in case or surrounding blanks share one budget."""
    return username.strip().casefold()


def _keys(username: str, ip: str) -> list[str]:
    name = normalized(username)
    return [redis_store.key("console-login", "failures", "user", name),
            account_lock_key(username),
            redis_store.key("console-login", "failures", "ip", ip),
            redis_store.key("console-login", "lock", "ip", ip)]


def account_lock_key(username: str) -> str:
    return redis_store.key("console-login", "lock", "user", normalized(username))


def lock_minutes() -> int:
    return int(current_app.config["CONSOLE_LOGIN_LOCK_MINUTES"])


def is_locked(username: str, ip: str) -> bool:
    """Whether this username or this address is locked now."""
    keys = _keys(username, ip)
    return redis_store.client.exists(keys[1], keys[3]) > 0


def record_failure(username: str, ip: str) -> bool:
    """Count a failed login; returns True when it locked the username or the address."""
    config = current_app.config
    return bool(redis_store.script(_RECORD_FAILURE)(
        keys=_keys(username, ip),
        args=[int(config["CONSOLE_LOGIN_MAX_FAILURES"]),
              int(config["CONSOLE_LOGIN_IP_MAX_FAILURES"]), lock_minutes() * 60]))


def record_success(username: str) -> None:
    """A login succeeded: its username starts again with a full budget."""
    redis_store.client.delete(redis_store.key("console-login", "failures", "user",
                                              normalized(username)))


def clear_account(username: str) -> bool:
    """Lift a username's lock and failures; returns whether it was locked."""
    failures = redis_store.key("console-login", "failures", "user", normalized(username))
    pipe = redis_store.client.pipeline(transaction=True)
    pipe.delete(account_lock_key(username))
    pipe.delete(failures)
    return bool(pipe.execute()[0])


def locked_seconds(usernames: list[str]) -> dict[str, int]:
    """Seconds left on each locked username's lock (usernames not locked are left out)."""
    if not usernames:
        return {}
    pipe = redis_store.client.pipeline(transaction=False)
    for username in usernames:
        pipe.ttl(account_lock_key(username))
    return {username: ttl for username, ttl in zip(usernames, pipe.execute(), strict=True)
            if ttl is not None and ttl > 0}
