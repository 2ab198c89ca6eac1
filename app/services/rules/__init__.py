"""The company's rules and its working-day calendar."""
from app.services.rules.store import *  # noqa: F401,F403
