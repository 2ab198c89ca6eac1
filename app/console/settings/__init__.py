"""Console: settings (admins), one module per area; hub.py is the index page."""
from app.console.settings import hub  # noqa: F401
