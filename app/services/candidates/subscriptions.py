"""Subscription credits: one accepted one-time subscription allows exactly one message.

Two sources report the same tap on the wx.requestSubscribeMessage popup: the mini
program (POST /api/mp/v1/subscriptions -> `record_results`) and WeChat's push
subscribe_msg_popup_event (`record_popup_events`). WeChat's semantics per result:
- popup accept: one more credit for that template;
- popup reject: no credit this time; credits from earlier accepts stay valid;
- ban (the platform banned the template): no credit can be used: credits 0;
- subscribe_msg_change_event (the user switched the template in the mini program's
  settings): reject turns it off, so earlier credits can no longer be used (credits 0);
  accept turns it on again but grants nothing (only a popup accept does).

Trap: one tap arrives twice, once from each source, in either order and without an id
linking them. An accept is counted once: each source leaves an unpaired mark in Redis
for a few minutes, and an accept from the other source that finds one consumes it
instead of granting a second credit (atomic Lua). Two real taps within that time from
one source still count twice; a lost report of one source costs nothing.
"""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db, redis_store
from app.models import Subscription

RESULTS = ("accept", "reject", "ban")
SOURCES = ("api", "event")
PAIR_SECONDS = 300

# KEYS[1]: the other source's unpaired accepts, KEYS[2]: this source's; ARGV[1]: ttl.
# Returns 1 when this accept is a new tap (grant), 0 when it pairs with the other report.
_PAIR_LUA = """
local waiting = tonumber(redis.call('GET', KEYS[1]) or '0')
if waiting > 0 then
  redis.call('DECR', KEYS[1])
  return 0
end
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1
"""


def _new_tap(openid: str, template_id: str, source: str) -> bool:
    other = "event" if source == "api" else "api"
    keys = [redis_store.key("subscription-tap", s, openid, template_id) for s in (other, source)]
    return bool(redis_store.script(_PAIR_LUA)(keys=keys, args=[PAIR_SECONDS]))


def _locked(openid: str, template_id: str) -> Subscription:
    sub = db.session.scalars(select(Subscription).where(
        Subscription.openid == openid, Subscription.template_id == template_id)
        .with_for_update()).first()
    if sub is None:
        sub = Subscription(openid=openid, template_id=template_id, credits=0)
        db.session.add(sub)
    return sub


def _record(openid: str, results: dict[str, str], source: str) -> int:
    granted = 0
    try:
        for template_id, result in results.items():
            sub = _locked(openid, template_id)
            sub.last_result = result
            if result == "accept":
                if _new_tap(openid, template_id, source):
                    sub.credits = (sub.credits or 0) + 1
                    granted += 1
            elif result == "ban":
                sub.credits = 0
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return granted


def record_results(openid: str, results: dict[str, str]) -> int:
    """The mini program's report of one tap per template; returns the credits granted."""
    return _record(openid, results, "api")


def record_popup_events(openid: str, results: dict[str, str]) -> int:
    """subscribe_msg_popup_event: accept / reject per template (WeChat's report of the
    same tap); returns the credits granted."""
    return _record(openid, {t: r for t, r in results.items() if r in ("accept", "reject")},
                   "event")


def record_setting_changes(openid: str, results: dict[str, str]) -> int:
    """subscribe_msg_change_event: the user switched templates on (accept) or off
    (reject) in the settings; off makes earlier credits unusable. Returns rows changed."""
    changed = 0
    try:
        for template_id, result in results.items():
            if result not in ("accept", "reject"):
                continue
            sub = _locked(openid, template_id)
            sub.last_result = result
            if result == "reject":
                sub.credits = 0
            changed += 1
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return changed
