"""the send path's hardening: no schema change

A revision reserved for it while several parts were built at once, kept so the chain
stays continuous (databases already stamped 0013 and later). Nothing was needed: the new
outbox status `skipped` is a value of a non-native enum (a VARCHAR without a CHECK),
each accepted send is recorded in the existing columns, worker heartbeats live in Redis,
and the request ids on rows came with 0015.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 14:00:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
