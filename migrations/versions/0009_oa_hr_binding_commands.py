"""HR binding codes, OA feedback replies, HR notifications (issue 10 §3-6)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 14:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('hr_binding_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hr_user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('scene_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_by_openid', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hr_user_id'], ['hr_users.id'], name=op.f('fk_hr_binding_codes_hr_user_id_hr_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hr_binding_codes')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_hr_binding_codes_code_hash')),
    sa.UniqueConstraint('scene_hash', name=op.f('uq_hr_binding_codes_scene_hash'))
    )
    with op.batch_alter_table('hr_binding_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hr_binding_codes_hr_user_id'), ['hr_user_id'], unique=False)

    op.create_table('feedback_sources',
    sa.Column('feedback_id', sa.Integer(), nullable=False),
    sa.Column('app', sa.String(length=8), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('msgid', sa.String(length=64), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['feedback_id'], ['feedback.id'], name=op.f('fk_feedback_sources_feedback_id_feedback'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('feedback_id', name=op.f('pk_feedback_sources'))
    )
    with op.batch_alter_table('feedback_sources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_sources_openid'), ['openid'], unique=False)

    op.create_table('feedback_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('feedback_id', sa.Integer(), nullable=False),
    sa.Column('hr_user_id', sa.Integer(), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('errcode', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['feedback_id'], ['feedback.id'], name=op.f('fk_feedback_replies_feedback_id_feedback'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['hr_user_id'], ['hr_users.id'], name=op.f('fk_feedback_replies_hr_user_id_hr_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_replies'))
    )
    with op.batch_alter_table('feedback_replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_replies_feedback_id'), ['feedback_id'], unique=False)


def downgrade():
    with op.batch_alter_table('feedback_replies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_replies_feedback_id'))
    op.drop_table('feedback_replies')
    with op.batch_alter_table('feedback_sources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_sources_openid'))
    op.drop_table('feedback_sources')
    with op.batch_alter_table('hr_binding_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hr_binding_codes_hr_user_id'))
    op.drop_table('hr_binding_codes')
