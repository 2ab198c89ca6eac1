"""Candidates and the WeChat identities bound to them (or to HR users)."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core import crypto
from app.core.timeutil import UTCDateTime
from app.extensions import db
from app.models._base import TimestampMixin


class Candidate(TimestampMixin, db.Model):
    __tablename__ = "candidates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    # Phone number: Fernet ciphertext at rest, plus a keyed hash for lookups.
    phone_encrypted: Mapped[str | None] = mapped_column(Text)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    external_ref: Mapped[str | None] = mapped_column(String(64), unique=True)

    interviews: Mapped[list[Interview]] = relationship(  # noqa: F821
        back_populates="candidate")
    wechat_accounts: Mapped[list[WechatAccount]] = relationship(back_populates="candidate")

    @property
    def phone(self) -> str | None:
        return crypto.decrypt(self.phone_encrypted)

    @phone.setter
    def phone(self, value: str | None) -> None:
        if value is None:
            self.phone_encrypted = None
            self.phone_hash = None
            return
        normalized = crypto.normalize_phone(value)
        self.phone_encrypted = crypto.encrypt(normalized)
        self.phone_hash = crypto.phone_lookup_hash(normalized)


class WechatApp(str, enum.Enum):
    MINI_PROGRAM = "mp"
    OFFICIAL_ACCOUNT = "oa"


class WechatAccount(TimestampMixin, db.Model):
    """One openid of one app. The same person has different openids per app (unionid links)."""

    __tablename__ = "wechat_accounts"
    __table_args__ = (UniqueConstraint("app", "openid", name="uq_wechat_accounts_app_openid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app: Mapped[WechatApp] = mapped_column(Enum(WechatApp, native_enum=False, length=8,
                                                values_callable=lambda e: [m.value for m in e]))
    openid: Mapped[str] = mapped_column(String(64))
    unionid: Mapped[str | None] = mapped_column(String(64), index=True)
    candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id"), index=True)
    hr_user_id: Mapped[int | None] = mapped_column(ForeignKey("hr_users.id"), index=True)
    # session_key from code2session, encrypted; never leaves the server.
    session_key_encrypted: Mapped[str | None] = mapped_column(Text)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    followed: Mapped[bool] = mapped_column(default=False)

    candidate: Mapped[Candidate | None] = relationship(back_populates="wechat_accounts")
