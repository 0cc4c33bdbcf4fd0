"""index cameras by name and id for ordered listings

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 16:35:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("camera", schema=None) as batch_op:
        batch_op.create_index("ix_camera_name_id", ["name", "id"])


def downgrade() -> None:
    with op.batch_alter_table("camera", schema=None) as batch_op:
        batch_op.drop_index("ix_camera_name_id")
