"""The confirmation deadline an invitation gives (rule confirm_window_hours)."""
from __future__ import annotations

from datetime import datetime, timedelta

from app.services.rules.store import Rules, get_rules


def confirm_by_for(scheduled_at: datetime, invited_at: datetime,
                   rules: Rules | None = None) -> datetime:
    """The candidate must confirm N hours (confirm_window_hours) before the interview
    starts; when the invitation comes later than that, they get half of the time left, so
    a deadline is never already past when it is given."""
    rules = rules or get_rules()
    deadline = scheduled_at - timedelta(hours=rules.confirm_window_hours)
    if deadline <= invited_at:
        deadline = invited_at + (scheduled_at - invited_at) / 2
    return deadline


def reminder_at(confirm_by: datetime, rules: Rules | None = None) -> datetime:
    """When the confirmation reminder is due: reminder_lead_hours before the deadline."""
    rules = rules or get_rules()
    return confirm_by - timedelta(hours=rules.reminder_lead_hours)
