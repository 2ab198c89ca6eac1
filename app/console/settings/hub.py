"""The settings index: one card per area this user may open."""
from __future__ import annotations

from flask import abort, render_template
from flask_login import current_user, login_required

from app.console import bp


@bp.get("/settings")
@login_required
def settings():
    """The settings areas this user may open."""
    if not (current_user.can("settings") or current_user.can("users")):
        abort(403)
    return render_template("console/settings/index.html")
