"""HR back office (desktop and mobile pages)."""
from flask import Blueprint

bp = Blueprint("console", __name__, template_folder="templates", static_folder="static")

from app.console import (  # noqa: E402,F401
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
    reports,
    settings,
    views,
)
