"""Console: HR user administration (admins): roles, login locks, disabling."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from app.console import bp
from app.console.forms import UserActionForm
from app.console.views import permission_required
from app.core.errors import Conflict, Forbidden, NotFound
from app.services.users import accounts


@bp.get("/users")
@permission_required("users")
def users():
    """HR users with their role and state; 解锁 for locked logins, 停用 for others."""
    try:
        rows = accounts.list_users(actor_id=current_user.id)
    except Forbidden:
        abort(403)
    return render_template("console/users.html", rows=rows, action_form=UserActionForm())


@bp.post("/users/<int:user_id>/unlock")
@permission_required("users")
def unlock_user(user_id: int):
    """Lift a login lock before it runs out."""
    if not UserActionForm().validate_on_submit():
        abort(400)
    try:
        was_locked = accounts.unlock_login(user_id, actor_id=current_user.id)
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)
    flash("已解锁，该用户可以重新登录" if was_locked else "该用户的登录未被锁定",
          "success" if was_locked else "info")
    return redirect(url_for("console.users"))


@bp.post("/users/<int:user_id>/disable")
@permission_required("users")
def disable_user(user_id: int):
    """Disable a user: no more logins, and their open sessions end now."""
    if not UserActionForm().validate_on_submit():
        abort(400)
    try:
        revoked = accounts.disable_user(user_id, actor_id=current_user.id)
    except Forbidden:
        abort(403)
    except NotFound:
        abort(404)
    except Conflict as exc:
        flash(exc.message, "error")
    else:
        flash(f"已停用该用户，其 {revoked} 个登录会话已失效", "success")
    return redirect(url_for("console.users"))
