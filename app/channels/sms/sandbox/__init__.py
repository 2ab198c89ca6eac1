"""Tencent Cloud SMS sandbox (dev/test only): recorded state and the HTTP emulator."""
from app.channels.sms.sandbox.state import *  # noqa: F401,F403
