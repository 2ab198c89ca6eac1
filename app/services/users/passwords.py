"""HR console password rules (one place: the console, the CLI and self-service all call
check()) and the temporary passwords an admin hands out."""
from __future__ import annotations

import secrets

from app.core.errors import ValidationFailed

MIN_LENGTH = 10
MAX_LENGTH = 128
# No 0/o, 1/l/i: a temporary password is read aloud or copied by hand.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


class WeakPassword(ValidationFailed):
    code = "weak_password"


def check(password: str | None, *, username: str | None = None,
          field: str = "password") -> str:
    """The password, if it meets the rules: 10 to 128 characters, letters and digits
    both, not containing the username; else ValidationFailed with a Chinese message."""
    password = password or ""
    details = {"field": field}
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"密码至少{MIN_LENGTH}位", code="password_too_short",
                           details=details)
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"密码不能超过{MAX_LENGTH}位", code="password_too_long",
                           details=details)
    if not (any(c.isalpha() for c in password) and any(c.isdigit() for c in password)):
        raise WeakPassword("密码需同时包含字母和数字", code="password_too_simple",
                           details=details)
    name = (username or "").strip().casefold()
    if len(name) >= 3 and name in password.casefold():
        raise WeakPassword("密码不能包含用户名", code="password_contains_username",
                           details=details)
    return password


def generate() -> str:
    """A temporary password (shown once to the admin): three groups of four, e.g.
    `k7pm-x3qa-9hcw`; it always meets check()."""
    while True:
        groups = ["".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(3)]
        password = "-".join(groups)
        if any(c.isdigit() for c in password) and any(c.isalpha() for c in password):
            return password
