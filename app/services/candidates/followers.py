"""Official Account followers: subscribe / unsubscribe events -> `WechatAccount.followed`
of the OA openid, which channel routing reads (routing.Directory: an OA template message
goes only to a followed OA account; a candidate's OA account is found by unionid).

Traps:
- WeChat's subscribe event carries the openid only, never the unionid. The unionid comes
  from /cgi-bin/user/info (a WeChat API call: too slow for the 5 s callback), so
  `record_follow` stores the follow at once and `fill_unionids` (a job) asks WeChat for
  the followers still without one, in batches of 100 (user/info/batchget).
- Events can arrive out of order (a retried subscribe after the unsubscribe): an event
  older than the last one applied to that openid is ignored (CreateTime kept in Redis).
- An unfollow keeps the row and its links (HR binding, candidate): following again
  restores routing without binding anew.
"""
from __future__ import annotations

import logging

from sqlalchemy import select

from app.extensions import db, redis_store
from app.models import WechatAccount, WechatApp

log = logging.getLogger(__name__)

EVENT_TIME_TTL = 30 * 86400
BATCH = 100  # user/info/batchget takes at most 100 openids


def _event_time_key(openid: str) -> str:
    return redis_store.key("oa-follow-at", openid)


def record_follow(openid: str, *, followed: bool, event_time: int,
                  unionid: str | None = None) -> bool:
    """A follow (subscribe) or unfollow (unsubscribe) of the Official Account; False when
    a newer event was already applied."""
    try:
        account = db.session.scalars(select(WechatAccount).where(
            WechatAccount.app == WechatApp.OFFICIAL_ACCOUNT, WechatAccount.openid == openid)
            .with_for_update()).first()
        last = redis_store.client.get(_event_time_key(openid))
        if account is not None and last is not None and int(last) > event_time:
            db.session.rollback()
            return False
        if account is None:
            account = WechatAccount(app=WechatApp.OFFICIAL_ACCOUNT, openid=openid)
            db.session.add(account)
        account.followed = followed
        if unionid:
            account.unionid = unionid
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    redis_store.client.set(_event_time_key(openid), str(event_time), ex=EVENT_TIME_TTL)
    if followed:
        forget_unionid_asked(openid)
    return True


def is_following(openid: str) -> bool:
    """Whether this OA openid follows the account (as far as the events told us)."""
    return bool(db.session.scalar(select(WechatAccount.followed).where(
        WechatAccount.app == WechatApp.OFFICIAL_ACCOUNT, WechatAccount.openid == openid)))


def fill_unionids(fetch, limit: int = 500) -> int:
    """Ask WeChat for the unionid of followers that have none; returns accounts filled.

    `fetch(openids) -> {openid: unionid or None}` is one user/info/batchget call (at most
    100 openids). Accounts WeChat answers without a unionid (no Open Platform binding)
    are asked again on the next run only after their next follow event."""
    filled = 0
    openids = list(db.session.scalars(select(WechatAccount.openid).where(
        WechatAccount.app == WechatApp.OFFICIAL_ACCOUNT, WechatAccount.followed.is_(True),
        WechatAccount.unionid.is_(None)).order_by(WechatAccount.id).limit(limit)))
    db.session.rollback()
    asked = redis_store.key("oa-unionid-asked")
    openids = [o for o in openids if not redis_store.client.sismember(asked, o)]
    for start in range(0, len(openids), BATCH):
        chunk = openids[start:start + BATCH]
        found = fetch(chunk)
        try:
            for account in db.session.scalars(select(WechatAccount).where(
                    WechatAccount.app == WechatApp.OFFICIAL_ACCOUNT,
                    WechatAccount.openid.in_(chunk), WechatAccount.unionid.is_(None))):
                unionid = found.get(account.openid)
                if unionid:
                    account.unionid = unionid
                    filled += 1
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        missing = [o for o in chunk if not found.get(o)]
        if missing:
            redis_store.client.sadd(asked, *missing)
            redis_store.client.expire(asked, EVENT_TIME_TTL)
    return filled


def fill_unionids_from_wechat() -> int:
    """The job: unionids of followers without one, from WeChat's user/info/batchget."""
    from app.wechat.client import official_account_client

    client = official_account_client()

    def fetch(openids: list[str]) -> dict[str, str | None]:
        users = client.call(lambda c: c.user.get_batch(openids))
        return {u.get("openid"): u.get("unionid") for u in users or []}

    return fill_unionids(fetch)


def forget_unionid_asked(openid: str) -> None:
    """A new follow: ask WeChat for this openid's unionid again."""
    redis_store.client.srem(redis_store.key("oa-unionid-asked"), openid)
