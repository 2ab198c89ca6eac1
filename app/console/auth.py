"""Console sign-in: login and logout."""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.console import bp
from app.console.forms import LoginForm
from app.extensions import db
from app.models import HrUser

log = logging.getLogger(__name__)
LOGIN_ERROR = "用户名或密码错误"
# Checked when the username is unknown, so both failures take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def safe_next(target: str | None) -> str | None:
    """Return target if it is a path on this site, else None (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with username and password; go to a local `next` or the list."""
    next_url = safe_next(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("console.interviews"))
    form = LoginForm()
    form.next.data = next_url or ""  # never echo an unsafe target back into the page
    error = None
    if form.validate_on_submit():
        user = db.session.scalar(
            select(HrUser).where(HrUser.username == form.username.data.strip()))
        if user is None:
            check_password_hash(_DUMMY_HASH, form.password.data)
            error = LOGIN_ERROR
        elif not user.check_password(form.password.data):
            error = LOGIN_ERROR
        elif not user.active:
            error = "该账号已停用，请联系系统管理员"
        else:
            login_user(user)
            log.info("console login user_id=%s", user.id)
            return redirect(next_url or url_for("console.interviews"))
        log.warning("console login refused username=%r", form.username.data[:64])
    return render_template("console/login.html", form=form, error=error)


@bp.post("/logout")
def logout():
    """Log out (POST with CSRF token only) and return to the login page."""
    # CSRFProtect has already checked the token of the 退出 form.
    if current_user.is_authenticated:
        log.info("console logout user_id=%s", current_user.id)
        logout_user()
    flash("您已退出登录", "info")
    return redirect(url_for("console.login"))
