"""Erasure of derived artifacts: source tombstones, artifact inventory, model retirement.

Adds ``datasets.store`` (default ``local``: rows written before keep their meaning), the ``retired`` model
status (the CHECK constraint is recreated; every earlier status stays valid), and the tables of
:mod:`deletion_sdk.ledger.erasure_tables`.

Revision ID: 0004_erasure
Revises: 0003_jobs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_erasure"
down_revision = "0003_jobs"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)
_OLD_STATUSES = "status IN ('candidate', 'deployed', 'rejected', 'superseded')"
_NEW_STATUSES = "status IN ('candidate', 'deployed', 'rejected', 'retired', 'superseded')"


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("store", sa.String(length=64), nullable=False, server_default="local"))
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_constraint(op.f("ck_model_versions_status"), type_="check")
        batch.create_check_constraint(op.f("ck_model_versions_status"), _NEW_STATUSES)
    op.create_table(
        "tombstones",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("example_id", sa.String(), nullable=False),
        sa.Column("content_digest", sa.String(length=64), nullable=False),
        sa.Column("erased_at", _TS, nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_tombstones_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dataset_id", "example_id", name=op.f("pk_tombstones")),
    )
    op.create_index("ix_tombstones_content_digest", "tombstones", ["content_digest"], unique=False)
    op.create_index("ix_tombstones_example_id", "tombstones", ["example_id"], unique=False)
    op.create_table(
        "erased_artifacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("erased_at", _TS, nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erased_artifacts")),
        sa.UniqueConstraint("kind", "digest", name=op.f("uq_erased_artifacts_kind_digest")),
    )
    op.create_index("ix_erased_artifacts_job_id", "erased_artifacts", ["job_id"], unique=False)
    op.create_table(
        "model_retirements",
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("retired_at", _TS, nullable=False),
        sa.Column("erase_weights_at", _TS, nullable=False),
        sa.Column("weights_erased_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_model_retirements_model_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("model_version_id", name=op.f("pk_model_retirements")),
    )


def downgrade() -> None:
    op.drop_table("model_retirements")
    op.drop_index("ix_erased_artifacts_job_id", table_name="erased_artifacts")
    op.drop_table("erased_artifacts")
    op.drop_index("ix_tombstones_example_id", table_name="tombstones")
    op.drop_index("ix_tombstones_content_digest", table_name="tombstones")
    op.drop_table("tombstones")
    op.execute("UPDATE model_versions SET status = 'superseded' WHERE status = 'retired'")
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_constraint(op.f("ck_model_versions_status"), type_="check")
        batch.create_check_constraint(op.f("ck_model_versions_status"), _OLD_STATUSES)
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("store")
