"""Console: settings (admins), one module per area; hub.py is the index page."""
from app.console.settings import (  # noqa: F401
    api_keys,
    calendar,
    hub,
    reasons,
    rules,
    templates,
    users,
    webhooks,
)
