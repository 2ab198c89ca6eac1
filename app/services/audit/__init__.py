"""The audit log: entries written inside the caller's transaction."""
from app.services.audit.record import *  # noqa: F401,F403
