"""approvals, webhooks, emergency reviews, objections, legal bases

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 15:37:41.906547
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("camera", schema=None) as batch_op:
        batch_op.create_index("ix_camera_latitude_longitude", ["latitude", "longitude"])

    op.create_table(
        "emergency_suspension",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("party_id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("restored_by", sa.String(length=100), nullable=True),
        sa.Column("restored_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreement.id"],
        ),
        sa.ForeignKeyConstraint(
            ["party_id"],
            ["party.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("emergency_suspension", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emergency_suspension_agreement_id"), ["agreement_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_emergency_suspension_party_id"), ["party_id"], unique=False
        )

    op.create_table(
        "webhook_subscription",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("party_id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret_encrypted", sa.String(), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_id"],
            ["party.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook_subscription", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_subscription_party_id"), ["party_id"], unique=False
        )

    op.create_table(
        "objection",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("consent_id", sa.Uuid(), nullable=False),
        sa.Column("owner_party_id", sa.Uuid(), nullable=False),
        sa.Column("text", sa.String(length=4000), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.String(length=4000), nullable=True),
        sa.Column("answered_by", sa.String(length=100), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["consent.id"],
        ),
        sa.ForeignKeyConstraint(
            ["owner_party_id"],
            ["party.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("objection", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_objection_consent_id"), ["consent_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_objection_owner_party_id"), ["owner_party_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_objection_status"), ["status"], unique=False)

    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscription.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_delivery_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_webhook_delivery_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_webhook_delivery_subscription_id"), ["subscription_id"], unique=False
        )

    op.create_table(
        "approval_task",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("approver_party_id", sa.Uuid(), nullable=False),
        sa.Column("camera_ids", sa.JSON(), nullable=False),
        sa.Column("consent_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=2000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["approver_party_id"],
            ["party.id"],
        ),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["consent.id"],
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["access_request.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("approval_task", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_approval_task_approver_party_id"), ["approver_party_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_approval_task_request_id"), ["request_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_approval_task_status"), ["status"], unique=False)

    op.create_table(
        "emergency_review",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("requester_party_id", sa.Uuid(), nullable=False),
        sa.Column("owner_party_id", sa.Uuid(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ratified_by", sa.String(length=100), nullable=True),
        sa.Column("ratified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unratified_flagged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=100), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closing_note", sa.String(length=2000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["agreement.id"],
        ),
        sa.ForeignKeyConstraint(
            ["owner_party_id"],
            ["party.id"],
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["access_request.id"],
        ),
        sa.ForeignKeyConstraint(
            ["requester_party_id"],
            ["party.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("emergency_review", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emergency_review_owner_party_id"), ["owner_party_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_emergency_review_request_id"), ["request_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_emergency_review_requester_party_id"),
            ["requester_party_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_emergency_review_status"), ["status"], unique=False)

    with op.batch_alter_table("access_request", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("emergency", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("incident_latitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("incident_longitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("incident_radius_m", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("token_lifetime_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("pending_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("legal_basis", sa.String(length=24), nullable=False, server_default="consent")
        )
        batch_op.add_column(sa.Column("regulation_ref", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column(
                "requires_owner_approval", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(
            sa.Column(
                "requires_supervisor_approval",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("camera", schema=None) as batch_op:
        batch_op.drop_index("ix_camera_latitude_longitude")

    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.drop_column("requires_supervisor_approval")
        batch_op.drop_column("requires_owner_approval")
        batch_op.drop_column("regulation_ref")
        batch_op.drop_column("legal_basis")

    with op.batch_alter_table("access_request", schema=None) as batch_op:
        batch_op.drop_column("decided_at")
        batch_op.drop_column("pending_until")
        batch_op.drop_column("token_lifetime_seconds")
        batch_op.drop_column("incident_radius_m")
        batch_op.drop_column("incident_longitude")
        batch_op.drop_column("incident_latitude")
        batch_op.drop_column("emergency")

    with op.batch_alter_table("emergency_review", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_review_status"))
        batch_op.drop_index(batch_op.f("ix_emergency_review_requester_party_id"))
        batch_op.drop_index(batch_op.f("ix_emergency_review_request_id"))
        batch_op.drop_index(batch_op.f("ix_emergency_review_owner_party_id"))

    op.drop_table("emergency_review")
    with op.batch_alter_table("approval_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approval_task_status"))
        batch_op.drop_index(batch_op.f("ix_approval_task_request_id"))
        batch_op.drop_index(batch_op.f("ix_approval_task_approver_party_id"))

    op.drop_table("approval_task")
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_delivery_subscription_id"))
        batch_op.drop_index(batch_op.f("ix_webhook_delivery_status"))
        batch_op.drop_index(batch_op.f("ix_webhook_delivery_next_attempt_at"))

    op.drop_table("webhook_delivery")
    with op.batch_alter_table("objection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_objection_status"))
        batch_op.drop_index(batch_op.f("ix_objection_owner_party_id"))
        batch_op.drop_index(batch_op.f("ix_objection_consent_id"))

    op.drop_table("objection")
    with op.batch_alter_table("webhook_subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_subscription_party_id"))

    op.drop_table("webhook_subscription")
    with op.batch_alter_table("emergency_suspension", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emergency_suspension_party_id"))
        batch_op.drop_index(batch_op.f("ix_emergency_suspension_agreement_id"))

    op.drop_table("emergency_suspension")
