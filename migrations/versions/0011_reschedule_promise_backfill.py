"""rescheduling promises, waiting lists and slot offers (issue 11 §4-5)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 14:00:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
