"""Public H5 page that SMS and e-mail links open: records the read, shows the message."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from app.core.errors import AppError
from app.services.notifications.read import record_open_by_link
from templates_msg import render_plain

bp = Blueprint("landing", __name__, template_folder="templates")


@bp.get("/m/open")
def open_message():
    token = request.args.get("t", "")
    if not token or len(token) > 64:
        return render_template("landing/open.html", message=None), 404
    try:
        row = record_open_by_link(token)
    except AppError:
        return render_template("landing/open.html", message=None), 404
    plain = render_plain(row.kind, row.context)
    response = render_template("landing/open.html", message=plain)
    return response, 200, {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask every origin for an icon: the console's, not a 404."""
    from flask import current_app, send_from_directory

    return send_from_directory(current_app.root_path + "/console/static", "favicon.svg",
                               mimetype="image/svg+xml", max_age=86400)
