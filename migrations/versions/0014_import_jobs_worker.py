"""import jobs committed by the worker: claim, lease and progress (issue 9)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 14:15:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_jobs') as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('rows_done', sa.Integer(), nullable=False,
                                      server_default='0'))


def downgrade():
    with op.batch_alter_table('import_jobs') as batch_op:
        batch_op.drop_column('rows_done')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('claimed_by')
