"""callbacks and events: followers, subscription credits (issue 10 §1-2)

Kept, empty, so the revision chain stays continuous. No schema change was needed: follower status lives in wechat_accounts.followed and
.unionid (read by channel routing), subscription credits in subscriptions; dedupe, event
order and the pairing of subscription reports are short-lived Redis keys.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 14:00:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
