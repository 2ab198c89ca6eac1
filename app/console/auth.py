"""Console sign-in: login, logout and changing one's own password.

A login starts from an empty Flask session: whatever a cookie carried before (a CSRF
token, anything planted by someone else) does not survive into the logged-in session.
The session id in the cookie points at a server-side record (app.services.users.
console_sessions), so logout and revocation end every copy of the cookie.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app.console import bp
from app.console.forms import ChangePasswordForm, LoginForm
from app.core.errors import Forbidden, ValidationFailed
from app.services.users import accounts, console_sessions, signin


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
        try:
            signed_in = signin.sign_in(form.username.data, form.password.data,
                                       ip=request.remote_addr or "unknown")
        except signin.SignInRefused as exc:
            error = exc.message
        else:
            _start_session(signed_in.user, signed_in.session_id)
            if signed_in.must_change_password:
                return redirect(url_for("console.change_password", next=next_url))
            return redirect(next_url or url_for("console.interviews"))
    return render_template("console/login.html", form=form, error=error)


# What a user who must choose a new password may still open (the page itself, leaving).
PASSWORD_CHANGE_ENDPOINTS = frozenset({"console.change_password", "console.logout",
                                       "console.login", "console.static"})


@bp.before_request
def password_change_first():
    """A user whose password an admin reset goes to 修改密码 before anything else."""
    if request.endpoint in PASSWORD_CHANGE_ENDPOINTS or not current_user.is_authenticated:
        return None
    if signin.password_change_pending(current_user):
        return redirect(url_for("console.change_password",
                                next=safe_next(request.full_path.rstrip("?"))
                                if request.method == "GET" else None))
    return None


@bp.post("/logout")
def logout():
    """Log out (POST with CSRF token only) and return to the login page."""
    # CSRFProtect has already checked the token of the 退出 form.
    if current_user.is_authenticated:
        signin.sign_out(session.get(console_sessions.SESSION_FIELD), current_user.id,
                        ip=request.remote_addr)
        logout_user()
    session.clear()
    flash("您已退出登录", "info")
    return redirect(url_for("console.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password; the user's sessions elsewhere end."""
    form = ChangePasswordForm()
    forced = signin.password_change_pending(current_user)
    if form.validate_on_submit():
        try:
            changed = accounts.change_password(
                current_user.id, current_password=form.current_password.data,
                new_password=form.new_password.data, ip=request.remote_addr)
        except Forbidden:
            abort(403)
        except ValidationFailed as exc:
            field = {"current_password": form.current_password}.get(
                exc.details.get("field"), form.new_password)
            field.errors = [*field.errors, exc.message]
        else:
            _start_session(current_user._get_current_object(), changed.session_id)
            flash("密码已修改，您在其他设备上的登录已全部退出", "success")
            return redirect(safe_next(request.args.get("next")) or url_for("console.interviews"))
    return render_template("console/change_password.html", form=form, forced=forced)


def _start_session(user, session_id: str) -> None:
    # A new session from nothing: no pre-login state (CSRF token included) carries over.
    session.clear()
    login_user(user)
    session[console_sessions.SESSION_FIELD] = session_id
