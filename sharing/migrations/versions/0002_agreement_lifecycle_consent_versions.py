"""agreement lifecycle and amendments; consent versions, grantee scopes, hours and days

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 15:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agreement", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("amends_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("status_reason", sa.String(length=500), nullable=True))
        batch_op.add_column(
            sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("status_changed_by", sa.String(length=100), nullable=True))
        batch_op.create_foreign_key(
            "fk_agreement_amends_id_agreement", "agreement", ["amends_id"], ["id"]
        )

    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("grantee_scope", sa.String(length=24), nullable=False, server_default="party")
        )
        batch_op.add_column(sa.Column("hours_start", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("hours_end", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("days_of_week", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "timezone", sa.String(length=64), nullable=False, server_default="Asia/Jakarta"
            )
        )
        batch_op.add_column(sa.Column("lineage_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True))

    # Every existing consent starts its own lineage; public grants get their explicit scope.
    op.execute("UPDATE consent SET lineage_id = id")
    op.execute("UPDATE consent SET grantee_scope = 'public' WHERE grantee_party_id IS NULL")

    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.alter_column("lineage_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.create_index(batch_op.f("ix_consent_lineage_id"), ["lineage_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_lineage_id"))
        for column in (
            "superseded_at",
            "lineage_id",
            "timezone",
            "days_of_week",
            "hours_end",
            "hours_start",
            "grantee_scope",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("agreement", schema=None) as batch_op:
        batch_op.drop_constraint("fk_agreement_amends_id_agreement", type_="foreignkey")
        for column in (
            "status_changed_by",
            "status_changed_at",
            "status_reason",
            "amends_id",
            "version",
        ):
            batch_op.drop_column(column)
