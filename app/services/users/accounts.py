"""HR user administration."""
from __future__ import annotations

from sqlalchemy import select

from app.core.errors import Conflict, ValidationFailed
from app.extensions import db
from app.models import HrUser, Role


def create_user(*, username: str, display_name: str, role: str, password: str,
                email: str | None = None) -> HrUser:
    """Create an HR user; usernames are unique, passwords at least 10 characters."""
    if len(password or "") < 10:
        raise ValidationFailed("密码至少10位", code="password_too_short",
                               details={"field": "password"})
    if db.session.scalars(select(HrUser).where(HrUser.username == username)).first():
        raise Conflict("用户名已存在", code="username_taken")
    user = HrUser(username=username, display_name=display_name, role=Role(role), email=email,
                  active=True)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user
