"""Which channel reaches a recipient, in the product's order.

Candidates: mini-program subscribe message (only with an accepted subscription for that
template) -> Official Account template message (when they follow it: linked by unionid)
-> SMS (phone on file) -> e-mail. HR users, interviewers and hiring managers: OA template
message when bound, else e-mail. A channel paused by WeChat's daily quota (45009) is
skipped until the next day.

Routing reads its facts for a whole batch of rows in a few queries (`Directory`), so the
dispatcher does not query per row.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from app.extensions import db, redis_store
from app.models import Candidate, HrUser, OutboxMessage, Subscription, WechatAccount, WechatApp
from app.services.rules.templates import effective_ids as effective_template_ids
from templates_msg import MessageKind, get_kind

CHANNELS = ("subscribe", "oa_template", "sms", "email")


@dataclass(frozen=True)
class Route:
    channel: str          # subscribe / oa_template / sms / email
    app: str | None       # mp / oa for WeChat channels
    address: str          # openid, phone number or e-mail address


@dataclass
class Directory:
    """Everything routing needs to know about a batch's recipients."""

    accounts: dict[tuple[str, int], list[WechatAccount]] = field(default_factory=dict)
    oa_by_unionid: dict[str, list[WechatAccount]] = field(default_factory=dict)
    credits: dict[tuple[str, str], int] = field(default_factory=dict)
    candidates: dict[int, Candidate] = field(default_factory=dict)
    users: dict[int, HrUser] = field(default_factory=dict)
    paused: frozenset[str] = frozenset()
    template_ids: dict[str, str] | None = None   # in force (settings over config), lazily

    @classmethod
    def load(cls, rows: list[OutboxMessage]) -> Directory:
        d = cls()
        cand_ids = {r.recipient_id for r in rows if r.recipient_type == "candidate"}
        user_ids = {r.recipient_id for r in rows if r.recipient_type != "candidate"}
        if cand_ids:
            for acc in db.session.scalars(select(WechatAccount).where(
                    WechatAccount.candidate_id.in_(cand_ids))):
                d.accounts.setdefault(("candidate", acc.candidate_id), []).append(acc)
            d.candidates = {c.id: c for c in db.session.scalars(
                select(Candidate).where(Candidate.id.in_(cand_ids)))}
            openids = {a.openid for accs in d.accounts.values() for a in accs
                       if a.app == WechatApp.MINI_PROGRAM}
            if openids:
                d.credits = {(s.openid, s.template_id): s.credits for s in db.session.scalars(
                    select(Subscription).where(Subscription.openid.in_(openids)))}
            unionids = {a.unionid for accs in d.accounts.values() for a in accs if a.unionid}
            if unionids:
                for acc in db.session.scalars(select(WechatAccount).where(
                        WechatAccount.app == WechatApp.OFFICIAL_ACCOUNT,
                        WechatAccount.followed.is_(True),
                        WechatAccount.unionid.in_(unionids))):
                    d.oa_by_unionid.setdefault(acc.unionid, []).append(acc)
        if user_ids:
            for acc in db.session.scalars(select(WechatAccount).where(
                    WechatAccount.hr_user_id.in_(user_ids))):
                d.accounts.setdefault(("hr_user", acc.hr_user_id), []).append(acc)
            d.users = {u.id: u for u in db.session.scalars(
                select(HrUser).where(HrUser.id.in_(user_ids)))}
        flags = redis_store.client.mget([_pause_key(c) for c in CHANNELS])
        d.paused = frozenset(c for c, flag in zip(CHANNELS, flags, strict=True) if flag)
        return d

    def routes(self, row: OutboxMessage, kind: MessageKind):
        if row.recipient_type == "candidate":
            return self._candidate_routes(row, kind)
        return self._staff_routes(row)

    def _candidate_routes(self, row: OutboxMessage, kind: MessageKind):
        accounts = self.accounts.get(("candidate", row.recipient_id), [])
        if kind.mp_template_key:
            if self.template_ids is None:
                self.template_ids = effective_template_ids()
            template_id = self.template_ids.get(kind.mp_template_key) \
                or current_app.config[kind.mp_template_key]
            for acc in accounts:
                if (acc.app == WechatApp.MINI_PROGRAM
                        and self.credits.get((acc.openid, template_id), 0) > 0):
                    yield Route("subscribe", "mp", acc.openid)
        if kind.oa_template_key:
            seen = set()
            oa = [a for a in accounts if a.app == WechatApp.OFFICIAL_ACCOUNT and a.followed]
            for acc in accounts:
                oa += self.oa_by_unionid.get(acc.unionid, []) if acc.unionid else []
            for acc in oa:
                if acc.openid not in seen:
                    seen.add(acc.openid)
                    yield Route("oa_template", "oa", acc.openid)
        candidate = self.candidates.get(row.recipient_id)
        if candidate is not None and candidate.phone_encrypted:
            yield Route("sms", None, candidate.phone)
        if candidate is not None and candidate.email:
            yield Route("email", None, candidate.email)

    def _staff_routes(self, row: OutboxMessage):
        for acc in self.accounts.get(("hr_user", row.recipient_id), []):
            if acc.app == WechatApp.OFFICIAL_ACCOUNT and acc.followed:
                yield Route("oa_template", "oa", acc.openid)
        user = self.users.get(row.recipient_id)
        if user is not None and user.active and user.email:
            yield Route("email", None, user.email)


def resolve(row: OutboxMessage, excluded: set[str], directory: Directory | None = None
            ) -> Route | None:
    """The first channel that can reach this row's recipient, skipping `excluded`."""
    directory = directory or Directory.load([row])
    for route in directory.routes(row, get_kind(row.kind)):
        if route.channel not in excluded and route.channel not in directory.paused:
            return route
    return None


def _pause_key(channel: str) -> str:
    return redis_store.key("channel-paused", channel)


def channel_paused(channel: str) -> bool:
    return bool(redis_store.client.exists(_pause_key(channel)))


def pause_channel(channel: str, until: datetime) -> None:
    """Stop using a channel until `until` (WeChat's daily quota resets at midnight)."""
    from app.core.timeutil import utcnow

    seconds = max(int((until - utcnow()).total_seconds()), 60)
    redis_store.client.set(_pause_key(channel), until.isoformat(), ex=seconds)
