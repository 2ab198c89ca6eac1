"""Flask CLI commands: seed-demo, create-user, worker, dev."""
from __future__ import annotations


def register(app) -> None:
    pass
