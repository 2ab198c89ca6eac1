"""worker, reminders, escalation and settling (issue 11 §1-3)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 14:00:00

job_runs: each scheduled job's last run and fencing token; confirm_reminders and
request_escalations: what was queued once (app/models/jobs.py).
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'job_runs',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('fence', sa.Integer(), nullable=False),
        sa.Column('turn', sa.String(length=40), nullable=True),
        sa.Column('worker_id', sa.String(length=40), nullable=True),
        sa.Column('clock_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('result', sa.Integer(), nullable=True),
        sa.Column('error', sa.String(length=500), nullable=True),
        sa.Column('runs', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('name'))
    op.create_table(
        'confirm_reminders',
        sa.Column('interview_id', sa.Integer(), nullable=False),
        sa.Column('confirm_by', sa.DateTime(timezone=True), nullable=False),
        sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['interview_id'], ['interviews.id']),
        sa.PrimaryKeyConstraint('interview_id', 'confirm_by'))
    op.create_table(
        'request_escalations',
        sa.Column('cancellation_id', sa.Integer(), nullable=False),
        sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('managers', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['cancellation_id'], ['cancellations.id']),
        sa.PrimaryKeyConstraint('cancellation_id'))


def downgrade():
    op.drop_table('request_escalations')
    op.drop_table('confirm_reminders')
    op.drop_table('job_runs')
