"""watchdog alerts, digests and the personal-data lifecycle (issue 11 §6-7)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 14:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def _utc():
    return sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        'alerts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('dedupe_key', sa.String(length=200), nullable=False),
        sa.Column('open_key', sa.String(length=200), nullable=True),
        sa.Column('department', sa.String(length=100), nullable=True),
        sa.Column('interview_id', sa.Integer(), nullable=True),
        sa.Column('subject', sa.String(length=100), nullable=False),
        sa.Column('detail', sa.String(length=300), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('recipients', sa.JSON(), nullable=False),
        sa.Column('opened_at', _utc(), nullable=False),
        sa.Column('last_seen_at', _utc(), nullable=False),
        sa.Column('cleared_at', _utc(), nullable=True),
        sa.Column('acknowledged_at', _utc(), nullable=True),
        sa.Column('acknowledged_by', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['interview_id'], ['interviews.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('open_key'),
    )
    op.create_index('ix_alerts_kind', 'alerts', ['kind'])
    op.create_index('ix_alerts_dedupe_key', 'alerts', ['dedupe_key'])
    op.create_index('ix_alerts_department', 'alerts', ['department'])
    op.create_index('ix_alerts_interview_id', 'alerts', ['interview_id'])
    op.create_index('ix_alerts_cleared_at', 'alerts', ['cleared_at'])

    op.create_table(
        'privacy_consents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('candidate_id', sa.Integer(), nullable=False),
        sa.Column('wechat_account_id', sa.Integer(), nullable=True),
        sa.Column('notice_version', sa.String(length=32), nullable=False),
        sa.Column('accepted_at', _utc(), nullable=False),
        sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id']),
        sa.ForeignKeyConstraint(['wechat_account_id'], ['wechat_accounts.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_privacy_consents_candidate_id', 'privacy_consents', ['candidate_id'])

    op.create_table(
        'erasure_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('candidate_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.Enum('pending', 'done', name='erasurestatus',
                                    native_enum=False, length=16), nullable=False),
        sa.Column('department', sa.String(length=100), nullable=True),
        sa.Column('requested_at', _utc(), nullable=False),
        sa.Column('due_at', _utc(), nullable=False),
        sa.Column('completed_at', _utc(), nullable=True),
        sa.Column('completed_by', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_erasure_requests_candidate_id', 'erasure_requests', ['candidate_id'])
    op.create_index('ix_erasure_requests_status', 'erasure_requests', ['status'])
    op.create_index('ix_erasure_requests_due_at', 'erasure_requests', ['due_at'])

    op.create_table(
        'candidate_anonymisations',
        sa.Column('candidate_id', sa.Integer(), nullable=False),
        sa.Column('anonymised_at', _utc(), nullable=False),
        sa.Column('trigger', sa.String(length=16), nullable=False),
        sa.Column('erasure_request_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id']),
        sa.ForeignKeyConstraint(['erasure_request_id'], ['erasure_requests.id']),
        sa.PrimaryKeyConstraint('candidate_id'),
    )


def downgrade():
    op.drop_table('candidate_anonymisations')
    op.drop_index('ix_erasure_requests_due_at', table_name='erasure_requests')
    op.drop_index('ix_erasure_requests_status', table_name='erasure_requests')
    op.drop_index('ix_erasure_requests_candidate_id', table_name='erasure_requests')
    op.drop_table('erasure_requests')
    op.drop_index('ix_privacy_consents_candidate_id', table_name='privacy_consents')
    op.drop_table('privacy_consents')
    for name in ('cleared_at', 'interview_id', 'department', 'dedupe_key', 'kind'):
        op.drop_index(f'ix_alerts_{name}', table_name='alerts')
    op.drop_table('alerts')
