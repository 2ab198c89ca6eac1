"""HR back office (desktop and mobile pages)."""
from flask import Blueprint

bp = Blueprint("console", __name__, template_folder="templates", static_folder="static")

from app.console import (  # noqa: E402,F401
    alerts,
    approvals,
    audit,
    auth,
    batch,
    cancel,
    exports,
    feedback,
    imports,
    invitations,
    notifications,
    privacy,
    reports,
    settings,
    views,
    waitlist,
    wechat_binding,
)

# Mobile pages (/console/m/...): a nested blueprint, so the console's hooks hold there.
from app.console.m import bp as mobile_bp  # noqa: E402

bp.register_blueprint(mobile_bp, url_prefix="/m")
