"""The company's rules and its working-day calendar."""
from app.services.rules.confirmation import confirm_by_for  # noqa: F401,E402
from app.services.rules.store import *  # noqa: F401,F403
