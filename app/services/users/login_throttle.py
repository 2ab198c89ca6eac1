"""Console login throttling in Redis (shared by every web process).

Per username: CONSOLE_LOGIN_MAX_FAILURES failed logins within CONSOLE_LOGIN_LOCK_MINUTES
lock that username for CONSOLE_LOGIN_LOCK_MINUTES; while locked even the right password
is refused. Per client address: CONSOLE_LOGIN_IP_MAX_FAILURES failures (a higher budget:
one office shares a NAT address) lock the address the same way, which stops one source
from trying a few passwords on each of many usernames.

Counting by the username typed, not by the user found, keeps a lock from telling whether
a username exists: an unknown one locks after the same failures with the same message.

An attempt is counted before its password is checked, in the same script that checks the
locks, and given back when the password was right. Counting only after a failure would
let a burst of parallel requests all pass the lock check before the first failure is
counted: as many guesses as requests in flight. Attempts refused because of a lock are
not counted (they check no password), so a lock ends when its time is up.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from app.extensions import redis_store

# KEYS[1], KEYS[2]: attempt counter and lock of the username; KEYS[3], KEYS[4]: of the
# address. ARGV: username limit, address limit, window and lock seconds.
# Returns 0 when either is locked (nothing counted); else counts the attempt on both, a
# counter reaching its limit becomes a lock for later attempts, and returns
# 1 + 2 * (this attempt locked the username) + 4 * (this attempt locked the address).
_BEGIN_ATTEMPT = """
if redis.call('EXISTS', KEYS[2], KEYS[4]) > 0 then return 0 end
local result = 1
for i, limit in ipairs({tonumber(ARGV[1]), tonumber(ARGV[2])}) do
  local counter, lock = KEYS[2 * i - 1], KEYS[2 * i]
  local n = redis.call('INCR', counter)
  if n == 1 then redis.call('EXPIRE', counter, ARGV[3]) end
  if n >= limit then
    redis.call('SET', lock, n, 'EX', ARGV[3])
    redis.call('DEL', counter)
    result = result + 2 * i
  end
end
return result
"""

# The password was right. KEYS as above; ARGV[1], ARGV[2]: 1 if this attempt set the
# username's or the address's lock. The username starts again with its whole budget; the
# address gets this attempt back (its budget counts failures only).
_SUCCEEDED = """
redis.call('DEL', KEYS[1])
if ARGV[1] == '1' then redis.call('DEL', KEYS[2]) end
if ARGV[2] == '1' then
  redis.call('DEL', KEYS[4])
else
  local n = tonumber(redis.call('GET', KEYS[3]) or '0')
  if n > 0 then redis.call('DECR', KEYS[3]) end
end
return 0
"""


@dataclass(frozen=True)
class Attempt:
    """A counted login attempt."""
    username: str
    ip: str
    locked_username: bool  # this attempt used up the username's budget
    locked_ip: bool        # this attempt used up the address's budget

    @property
    def locked(self) -> bool:
        return self.locked_username or self.locked_ip


def normalized(username: str) -> str:
    """Usernames differing only in case or surrounding blanks share one budget."""
    return username.strip().casefold()


def _keys(username: str, ip: str) -> list[str]:
    return [_account_counter_key(username), account_lock_key(username),
            _address_counter_key(ip), address_lock_key(ip)]


def _address_counter_key(ip: str) -> str:
    return redis_store.key("console-login", "attempts", "ip", ip)


def address_lock_key(ip: str) -> str:
    return redis_store.key("console-login", "lock", "ip", ip)


def _account_counter_key(username: str) -> str:
    return redis_store.key("console-login", "attempts", "user", normalized(username))


def account_lock_key(username: str) -> str:
    return redis_store.key("console-login", "lock", "user", normalized(username))


def lock_minutes() -> int:
    return int(current_app.config["CONSOLE_LOGIN_LOCK_MINUTES"])


def begin_attempt(username: str, ip: str) -> Attempt | None:
    """Count a login attempt before its password is checked; None when the username or
    the address is locked (refuse it without checking the password)."""
    config = current_app.config
    result = int(redis_store.script(_BEGIN_ATTEMPT)(
        keys=_keys(username, ip),
        args=[int(config["CONSOLE_LOGIN_MAX_FAILURES"]),
              int(config["CONSOLE_LOGIN_IP_MAX_FAILURES"]), lock_minutes() * 60]))
    if result == 0:
        return None
    return Attempt(username, ip, bool(result & 2), bool(result & 4))


def succeeded(attempt: Attempt) -> None:
    """The attempt's password was right: it does not count as a failure."""
    redis_store.script(_SUCCEEDED)(
        keys=_keys(attempt.username, attempt.ip),
        args=[int(attempt.locked_username), int(attempt.locked_ip)])


def clear_account(username: str) -> bool:
    """Lift a username's lock and failures; returns whether it was locked."""
    pipe = redis_store.client.pipeline(transaction=True)
    pipe.delete(account_lock_key(username))
    pipe.delete(_account_counter_key(username))
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


def clear_address(ip: str) -> bool:
    """Lift a client address's lock and failures; returns whether it was locked."""
    pipe = redis_store.client.pipeline(transaction=True)
    pipe.delete(address_lock_key(ip))
    pipe.delete(_address_counter_key(ip))
    return bool(pipe.execute()[0])


def locked_addresses() -> dict[str, int]:
    """Every locked client address with the seconds left on its lock (there are few: a
    lock lasts CONSOLE_LOGIN_LOCK_MINUTES, so a scan over the lock keys stays small)."""
    prefix = address_lock_key("")
    # Glob characters in the prefix (a deployment's own) are matched literally.
    pattern = "".join(f"[{c}]" if c in "*?[]\\" else c for c in prefix) + "*"
    keys = [k.decode() if isinstance(k, bytes) else k
            for k in redis_store.client.scan_iter(match=pattern, count=500)]
    if not keys:
        return {}
    pipe = redis_store.client.pipeline(transaction=False)
    for key in keys:
        pipe.ttl(key)
    return {key[len(prefix):]: ttl for key, ttl in zip(keys, pipe.execute(), strict=True)
            if ttl is not None and ttl > 0}
