"""Server-side records of console sessions, so a session can be ended from the server.

The Flask session is a signed cookie: the server cannot take it back, and a copy of it
keeps working until it expires. So each login gets a random session id, carried in that
cookie, and a record in Redis (shared by every web process) that the user loader checks
on every console request: the cookie only counts while its record stands. A record holds
the user id, when the session started, when it was last used, and a stamp of the password
hash it was opened with.

A session ends when:
- its user logs out (that record is deleted);
- it was not used for CONSOLE_IDLE_MINUTES, or CONSOLE_SESSION_HOURS have passed since
  login (checked against the record, and the record's TTL goes with it);
- the user is disabled or their password changes: revoke_user() deletes every record in
  the user's index. The password stamp covers what the index cannot: a login that checked
  the old password just before the change and wrote its record just after the revoke, or a
  password changed by any other path (a script, SQL).
Only a hash of the session id is stored, as for the candidate API's tokens.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from flask import current_app

from app.core import crypto
from app.extensions import redis_store

# The Flask session field holding the session id (next to Flask-Login's _user_id).
SESSION_FIELD = "console_sid"

# KEYS[1]: the session record. ARGV: user id, now, idle seconds, max age seconds.
# Returns the password stamp when the session stands (and marks it used now), else false
# (and deletes a record that has timed out).
_CHECK_AND_TOUCH = """
local rec = redis.call('HMGET', KEYS[1], 'user_id', 'created_at', 'last_seen', 'stamp')
if not rec[1] or rec[1] ~= ARGV[1] then return false end
local now, idle, max_age = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local age = now - tonumber(rec[2])
if now - tonumber(rec[3]) > idle or age > max_age then
  redis.call('DEL', KEYS[1])
  return false
end
redis.call('HSET', KEYS[1], 'last_seen', ARGV[2])
redis.call('PEXPIRE', KEYS[1], math.max(1, math.floor(math.min(idle, max_age - age) * 1000)))
return rec[4]
"""

# KEYS[1]: a user's index of session hashes. ARGV[1]: the record key prefix, ARGV[2]: a
# hash to keep ('' for none). Deletes the other records; returns how many were open.
# One script, so a login writing its record and index entry (MULTI) is either revoked or
# not yet started.
_REVOKE_USER = """
local revoked = 0
for _, h in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if h ~= ARGV[2] then
    revoked = revoked + redis.call('DEL', ARGV[1] .. h)
    redis.call('SREM', KEYS[1], h)
  end
end
return revoked
"""

# Only a record that still exists (an HSET on an expired one would recreate it, forever).
_RESTAMP = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'stamp', ARGV[1]) end
return 0
"""


@dataclass(frozen=True)
class SessionRecord:
    user_id: int
    created_at: float
    last_seen: float


def _now() -> float:
    return time.time()


def _idle_seconds() -> int:
    return int(current_app.config["CONSOLE_IDLE_MINUTES"]) * 60


def _max_age_seconds() -> int:
    return int(current_app.config["CONSOLE_SESSION_HOURS"]) * 3600


def password_stamp(password_hash: str) -> str:
    """A short digest of the password hash: changes whenever the password does."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:16]


def _record_key(session_hash: str) -> str:
    return _record_prefix() + session_hash


def _record_prefix() -> str:
    return redis_store.key("console-session", "")


def _index_key(user_id: int) -> str:
    return redis_store.key("console-user-sessions", user_id)


def start(user_id: int, password_hash: str) -> str:
    """Open a session for this user; returns the new session id for the signed cookie."""
    session_id = crypto.new_token(32)
    session_hash = crypto.token_hash(session_id)
    now = _now()
    record = _record_key(session_hash)
    index = _index_key(user_id)
    pipe = redis_store.client.pipeline(transaction=True)
    pipe.hset(record, mapping={"user_id": user_id, "created_at": repr(now),
                               "last_seen": repr(now), "stamp": password_stamp(password_hash)})
    pipe.expire(record, min(_idle_seconds(), _max_age_seconds()))
    pipe.sadd(index, session_hash)
    # The index outlives every session in it: none lives longer than the maximum age.
    pipe.expire(index, _max_age_seconds())
    pipe.execute()
    return session_id


def check(session_id: str | None, user_id: int) -> str | None:
    """Whether this session of this user still stands; marks it used. Returns the
    password stamp it was opened with (compare it with the user's), or None."""
    if not session_id:
        return None
    stamp = redis_store.script(_CHECK_AND_TOUCH)(
        keys=[_record_key(crypto.token_hash(session_id))],
        args=[user_id, repr(_now()), _idle_seconds(), _max_age_seconds()])
    return stamp.decode() if isinstance(stamp, bytes) else stamp


def end(session_id: str | None, user_id: int) -> None:
    """End one session (logout)."""
    if not session_id:
        return
    session_hash = crypto.token_hash(session_id)
    pipe = redis_store.client.pipeline(transaction=True)
    pipe.delete(_record_key(session_hash))
    pipe.srem(_index_key(user_id), session_hash)
    pipe.execute()


def revoke_user(user_id: int, *, keep_session_id: str | None = None) -> int:
    """End every session of this user (but keep_session_id's); returns how many were
    open."""
    keep = crypto.token_hash(keep_session_id) if keep_session_id else ""
    return int(redis_store.script(_REVOKE_USER)(keys=[_index_key(user_id)],
                                                args=[_record_prefix(), keep]))


def restamp(session_id: str, password_hash: str) -> None:
    """The user changed their password in this session: it goes on with the new stamp."""
    redis_store.script(_RESTAMP)(keys=[_record_key(crypto.token_hash(session_id))],
                                 args=[password_stamp(password_hash)])


def records_of(user_id: int) -> dict[str, SessionRecord]:
    """The open sessions of a user by Redis key (administration and tests)."""
    found = {}
    for session_hash in redis_store.client.smembers(_index_key(user_id)):
        key = _record_key(session_hash.decode())
        raw = redis_store.client.hgetall(key)
        if raw:
            found[key] = SessionRecord(int(raw[b"user_id"]), float(raw[b"created_at"]),
                                       float(raw[b"last_seen"]))
    return found
