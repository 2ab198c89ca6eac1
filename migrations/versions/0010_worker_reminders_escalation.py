"""worker, reminders, escalation and settling (issue 11 §1-3)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 14:00:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
