"""Webhooks to the company's ATS / ERP / OA: events, endpoints, sending."""
from app.services.webhooks.events import *  # noqa: F401,F403
