"""read indexes: list, search and reports on a million interviews

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 12:30:00

PostgreSQL gets pg_trgm (a trusted extension since PostgreSQL 13: the database owner may
create it) for the candidate-name search; SQLite gets a plain index in its place.
The same indexes are declared in app/models/read_indexes.py.
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    postgres = op.get_bind().dialect.name == 'postgresql'
    if postgres:
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    op.create_index('ix_interviews_position_id_id', 'interviews', ['position_id', 'id'])
    op.create_index('ix_interviews_number_lower', 'interviews',
                    [sa.text('lower(number) text_pattern_ops' if postgres
                             else 'lower(number)')])
    op.create_index('ix_candidates_name_trgm', 'candidates', ['name'],
                    postgresql_using='gin', postgresql_ops={'name': 'gin_trgm_ops'})
    op.create_index('ix_cancellations_effective_at', 'cancellations',
                    [sa.text('coalesce(decided_at, requested_at)')])
    op.create_index('ix_outbox_messages_created_at', 'outbox_messages', ['created_at'])


def downgrade():
    op.drop_index('ix_outbox_messages_created_at', table_name='outbox_messages')
    op.drop_index('ix_cancellations_effective_at', table_name='cancellations')
    op.drop_index('ix_candidates_name_trgm', table_name='candidates')
    op.drop_index('ix_interviews_number_lower', table_name='interviews')
    op.drop_index('ix_interviews_position_id_id', table_name='interviews')
