"""task lease: owner and heartbeat

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vidrag.storage.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("owner", sa.String(255)))
        batch.add_column(sa.Column("heartbeat_at", UTCDateTime()))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("owner")
