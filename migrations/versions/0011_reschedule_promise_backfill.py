"""rescheduling promises, waiting lists and slot offers (issue 11 §4-5)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 14:00:00

Tables of app/models/backfill.py: reschedule_promises (one per company cancel with
为候选人重新安排), waitlist_entries (HR's ordered waiting list per position),
backfill_places (a freed place held for the waiting list) and slot_offers (what a
candidate may book in the mini program).
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('backfill_places',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('position_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('held', 'filled', 'released', name='placestate', native_enum=False, length=16), nullable=False),
    sa.Column('interview_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['interview_id'], ['interviews.id'], name=op.f('fk_backfill_places_interview_id_interviews')),
    sa.ForeignKeyConstraint(['position_id'], ['positions.id'], name=op.f('fk_backfill_places_position_id_positions')),
    sa.ForeignKeyConstraint(['session_id'], ['interview_sessions.id'], name=op.f('fk_backfill_places_session_id_interview_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backfill_places'))
    )
    op.create_index(op.f('ix_backfill_places_position_id'), 'backfill_places', ['position_id'], unique=False)
    op.create_index(op.f('ix_backfill_places_session_id'), 'backfill_places', ['session_id'], unique=False)
    op.create_index(op.f('ix_backfill_places_state'), 'backfill_places', ['state'], unique=False)
    op.create_table('waitlist_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('position_id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('waiting', 'booked', 'removed', name='waitliststate', native_enum=False, length=16), nullable=False),
    sa.Column('added_by', sa.Integer(), nullable=True),
    sa.Column('booked_interview_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['added_by'], ['hr_users.id'], name=op.f('fk_waitlist_entries_added_by_hr_users')),
    sa.ForeignKeyConstraint(['booked_interview_id'], ['interviews.id'], name=op.f('fk_waitlist_entries_booked_interview_id_interviews')),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], name=op.f('fk_waitlist_entries_candidate_id_candidates')),
    sa.ForeignKeyConstraint(['position_id'], ['positions.id'], name=op.f('fk_waitlist_entries_position_id_positions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_entries')),
    sa.UniqueConstraint('position_id', 'candidate_id', name='uq_waitlist_position_candidate')
    )
    op.create_index(op.f('ix_waitlist_entries_candidate_id'), 'waitlist_entries', ['candidate_id'], unique=False)
    op.create_index('ix_waitlist_position_state_rank', 'waitlist_entries', ['position_id', 'state', 'rank'], unique=False)
    op.create_table('reschedule_promises',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cancellation_id', sa.Integer(), nullable=False),
    sa.Column('interview_id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('position_id', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.Enum('open', 'kept', 'broken', name='promisestate', native_enum=False, length=16), nullable=False),
    sa.Column('kept_by_interview_id', sa.Integer(), nullable=True),
    sa.Column('kept_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('broken_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('warned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cancellation_id'], ['cancellations.id'], name=op.f('fk_reschedule_promises_cancellation_id_cancellations')),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], name=op.f('fk_reschedule_promises_candidate_id_candidates')),
    sa.ForeignKeyConstraint(['interview_id'], ['interviews.id'], name=op.f('fk_reschedule_promises_interview_id_interviews')),
    sa.ForeignKeyConstraint(['kept_by_interview_id'], ['interviews.id'], name=op.f('fk_reschedule_promises_kept_by_interview_id_interviews')),
    sa.ForeignKeyConstraint(['position_id'], ['positions.id'], name=op.f('fk_reschedule_promises_position_id_positions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reschedule_promises')),
    sa.UniqueConstraint('cancellation_id', name=op.f('uq_reschedule_promises_cancellation_id'))
    )
    op.create_index(op.f('ix_reschedule_promises_candidate_id'), 'reschedule_promises', ['candidate_id'], unique=False)
    op.create_index(op.f('ix_reschedule_promises_due_at'), 'reschedule_promises', ['due_at'], unique=False)
    op.create_index(op.f('ix_reschedule_promises_interview_id'), 'reschedule_promises', ['interview_id'], unique=False)
    op.create_index(op.f('ix_reschedule_promises_position_id'), 'reschedule_promises', ['position_id'], unique=False)
    op.create_index(op.f('ix_reschedule_promises_state'), 'reschedule_promises', ['state'], unique=False)
    op.create_table('slot_offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.Enum('promise', 'backfill', name='offerkind', native_enum=False, length=16), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('position_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('promise_id', sa.Integer(), nullable=True),
    sa.Column('place_id', sa.Integer(), nullable=True),
    sa.Column('waitlist_entry_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.Enum('open', 'accepted', 'declined', 'expired', 'taken', name='offerstate', native_enum=False, length=16), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('interview_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['candidate_id'], ['candidates.id'], name=op.f('fk_slot_offers_candidate_id_candidates')),
    sa.ForeignKeyConstraint(['interview_id'], ['interviews.id'], name=op.f('fk_slot_offers_interview_id_interviews')),
    sa.ForeignKeyConstraint(['place_id'], ['backfill_places.id'], name=op.f('fk_slot_offers_place_id_backfill_places')),
    sa.ForeignKeyConstraint(['position_id'], ['positions.id'], name=op.f('fk_slot_offers_position_id_positions')),
    sa.ForeignKeyConstraint(['promise_id'], ['reschedule_promises.id'], name=op.f('fk_slot_offers_promise_id_reschedule_promises')),
    sa.ForeignKeyConstraint(['session_id'], ['interview_sessions.id'], name=op.f('fk_slot_offers_session_id_interview_sessions')),
    sa.ForeignKeyConstraint(['waitlist_entry_id'], ['waitlist_entries.id'], name=op.f('fk_slot_offers_waitlist_entry_id_waitlist_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_slot_offers')),
    sa.UniqueConstraint('place_id', 'candidate_id', name='uq_slot_offers_place_candidate'),
    sa.UniqueConstraint('promise_id', 'session_id', name='uq_slot_offers_promise_session'),
    sa.UniqueConstraint('public_id', name=op.f('uq_slot_offers_public_id'))
    )
    op.create_index('ix_slot_offers_candidate_state', 'slot_offers', ['candidate_id', 'state'], unique=False)
    op.create_index(op.f('ix_slot_offers_place_id'), 'slot_offers', ['place_id'], unique=False)
    op.create_index(op.f('ix_slot_offers_session_id'), 'slot_offers', ['session_id'], unique=False)
    op.create_index('ix_slot_offers_state_expires', 'slot_offers', ['state', 'expires_at'], unique=False)


def downgrade():
    op.drop_index('ix_slot_offers_state_expires', table_name='slot_offers')
    op.drop_index(op.f('ix_slot_offers_session_id'), table_name='slot_offers')
    op.drop_index(op.f('ix_slot_offers_place_id'), table_name='slot_offers')
    op.drop_index('ix_slot_offers_candidate_state', table_name='slot_offers')
    op.drop_table('slot_offers')
    op.drop_index(op.f('ix_reschedule_promises_state'), table_name='reschedule_promises')
    op.drop_index(op.f('ix_reschedule_promises_position_id'), table_name='reschedule_promises')
    op.drop_index(op.f('ix_reschedule_promises_interview_id'), table_name='reschedule_promises')
    op.drop_index(op.f('ix_reschedule_promises_due_at'), table_name='reschedule_promises')
    op.drop_index(op.f('ix_reschedule_promises_candidate_id'), table_name='reschedule_promises')
    op.drop_table('reschedule_promises')
    op.drop_index('ix_waitlist_position_state_rank', table_name='waitlist_entries')
    op.drop_index(op.f('ix_waitlist_entries_candidate_id'), table_name='waitlist_entries')
    op.drop_table('waitlist_entries')
    op.drop_index(op.f('ix_backfill_places_state'), table_name='backfill_places')
    op.drop_index(op.f('ix_backfill_places_session_id'), table_name='backfill_places')
    op.drop_index(op.f('ix_backfill_places_position_id'), table_name='backfill_places')
    op.drop_table('backfill_places')
