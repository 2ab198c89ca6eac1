"""request ids on the rows a request writes (outbox messages, webhook deliveries, audit
entries) so a cancellation can be followed into its messages (issue 12 §7)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 14:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


# Audit entries carry the request id inside their data (covered by the chain's hash), so
# the audit table is unchanged.
TABLES = ('outbox_messages', 'webhook_deliveries')


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column('request_id', sa.String(length=64), nullable=True))


def downgrade():
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column('request_id')
