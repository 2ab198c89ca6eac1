"""Console: settings (admins), one module per area; hub.py is the index page."""
from app.console.settings import hub  # noqa: F401
from app.console.settings import users  # noqa: F401,E402
