"""HR back-office users and their roles."""
from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Enum, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from app.core.timeutil import UTCDateTime
from app.extensions import db
from app.models._base import TimestampMixin


class Role(str, enum.Enum):
    ADMIN = "admin"
    RECRUITING_MANAGER = "recruiting_manager"
    RECRUITING_SPECIALIST = "recruiting_specialist"
    INTERVIEWER = "interviewer"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.ADMIN: "系统管理员",
    Role.RECRUITING_MANAGER: "招聘经理",
    Role.RECRUITING_SPECIALIST: "招聘专员",
    Role.INTERVIEWER: "面试官",
}


class HrUser(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "hr_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=32,
                                            values_callable=lambda e: [m.value for m in e]))
    password_hash: Mapped[str] = mapped_column(String(256))
    email: Mapped[str | None] = mapped_column(String(254))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set when an admin resets the password: the next sign-in must choose a new one.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False,
                                                       server_default=false())
    # The Official Account openid this HR user bound (OA menu, commands, HR messages).
    wechat_openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    wechat_bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    department_links: Mapped[list[HrUserDepartment]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="HrUserDepartment.department")

    @property
    def departments(self) -> list[str]:
        """The departments whose interviews this user works on (admins: all of them)."""
        return [link.department for link in self.department_links]

    @departments.setter
    def departments(self, names) -> None:
        wanted = list(dict.fromkeys(n.strip() for n in names if n and n.strip()))
        self.department_links = [HrUserDepartment(department=n) for n in wanted]

    def set_password(self, password: str) -> None:
        from flask import current_app

        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())


PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.ADMIN: frozenset({"view", "cancel", "batch_cancel", "approve", "approve_senior",
                           "settings", "audit", "users", "rebind", "reports"}),
    Role.RECRUITING_MANAGER: frozenset({"view", "cancel", "batch_cancel", "approve",
                                        "approve_senior", "audit", "rebind", "reports"}),
    Role.RECRUITING_SPECIALIST: frozenset({"view", "cancel", "approve", "reports"}),
    Role.INTERVIEWER: frozenset({"view"}),
}


class HrUserDepartment(db.Model):
    """An HR user belongs to departments (by the name positions carry): the data scope of
    recruiting managers, specialists and interviewers."""

    __tablename__ = "hr_user_departments"

    user_id: Mapped[int] = mapped_column(ForeignKey("hr_users.id", ondelete="CASCADE"),
                                         primary_key=True)
    department: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)
