"""opened messages by creation time: the time-to-open percentiles of a report period
read only the opened messages (issue 9, reports on a year of notifications)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 18:15:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_outbox_messages_opened_created_at', 'outbox_messages', ['created_at'],
                    postgresql_where=sa.text('read_at IS NOT NULL'),
                    sqlite_where=sa.text('read_at IS NOT NULL'))


def downgrade():
    op.drop_index('ix_outbox_messages_opened_created_at', table_name='outbox_messages')
