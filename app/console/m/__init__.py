"""Mobile console: phone-sized HR pages opened from the Official Account (/console/m/).

A blueprint nested in the console's, so the console's hooks hold here unchanged: its
session and user loader, 修改密码 first (auth.password_change_first), the security
headers and CSP (no inline script), CSRF on every form. Sign-in is WeChat's web OAuth
(app.console.m.auth); the pages (app.console.m.pages) call the same queries and services,
with the same Actor, as the desktop pages.
"""
from flask import Blueprint

bp = Blueprint("mobile", __name__, static_folder="static")

from app.console.m import auth, pages  # noqa: E402,F401
