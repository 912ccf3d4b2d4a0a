"""Initial ledger schema: subjects, datasets, examples, suppressions, model versions, requests, history.

Revision ID: 0001_initial
Revises: (none)

Timestamps are ``timestamp with time zone`` (PostgreSQL) / naive-UTC text (SQLite); the application type
``UTCDateTime`` converts. Both partial unique indexes (one open request per subject and policy; one deployed
version per model name) are supported by SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

_TS = sa.DateTime(timezone=True)
_OPEN = "status NOT IN ('cancelled', 'completed', 'denied', 'no_data')"

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("root_dir", sa.String(), nullable=True),
        sa.Column("manifest_digest", sa.String(length=64), nullable=True),
        sa.Column("examples_root", sa.String(length=64), nullable=False),
        sa.Column("n_examples", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
        sa.UniqueConstraint("name", name=op.f("uq_datasets_name")),
    )
    op.create_table(
        "subjects",
        sa.Column("subject_ref", sa.String(length=64), nullable=False),
        sa.Column("first_seen_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("subject_ref", name=op.f("pk_subjects")),
    )
    op.create_table(
        "deletion_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_ref", sa.String(length=64), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("policy_digest", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("due_at", _TS, nullable=False),
        sa.Column("extensions", sa.Integer(), nullable=False),
        sa.Column("extended_at", _TS, nullable=True),
        sa.Column("extension_reason", sa.String(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("completed_at", _TS, nullable=True),
        sa.Column("outcome_reason", sa.String(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.CheckConstraint(
            "status IN ('cancelled', 'completed', 'denied', 'failed', 'no_data', 'received', 'scheduled', "
            "'unlearning', 'verified', 'verifying')",
            name=op.f("ck_deletion_requests_status"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_ref"], ["subjects.subject_ref"], name=op.f("fk_deletion_requests_subject_ref_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deletion_requests")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_deletion_requests_idempotency_key")),
    )
    op.create_index(
        "ix_deletion_requests_status_due_at", "deletion_requests", ["status", "due_at"], unique=False
    )
    op.create_index(
        op.f("ix_deletion_requests_subject_ref"), "deletion_requests", ["subject_ref"], unique=False
    )
    op.create_index(
        "uq_deletion_requests_open_subject_policy",
        "deletion_requests",
        ["subject_ref", "policy_id"],
        unique=True,
        sqlite_where=sa.text(_OPEN),
        postgresql_where=sa.text(_OPEN),
    )
    op.create_table(
        "examples",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("example_id", sa.String(), nullable=False),
        sa.Column("subject_ref", sa.String(length=64), nullable=False),
        sa.Column("content_digest", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(), nullable=True),
        sa.Column("age", sa.Float(), nullable=False),
        sa.Column("split", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_examples_dataset_id_datasets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subject_ref"], ["subjects.subject_ref"], name=op.f("fk_examples_subject_ref_subjects")
        ),
        sa.PrimaryKeyConstraint("dataset_id", "example_id", name=op.f("pk_examples")),
    )
    op.create_index(
        "ix_examples_subject_ref_dataset_id", "examples", ["subject_ref", "dataset_id"], unique=False
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("weights_digest", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(), nullable=True),
        sa.Column("architecture", sa.String(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=True),
        sa.Column("training_root", sa.String(length=64), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint(
            "status IN ('candidate', 'deployed', 'rejected', 'superseded')",
            name=op.f("ck_model_versions_status"),
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_model_versions_dataset_id_datasets")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["model_versions.id"], name=op.f("fk_model_versions_parent_id_model_versions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_model_versions_name_version")),
    )
    op.create_index(
        "uq_model_versions_one_deployed",
        "model_versions",
        ["name"],
        unique=True,
        sqlite_where=sa.text("status = 'deployed'"),
        postgresql_where=sa.text("status = 'deployed'"),
    )
    op.create_table(
        "request_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["deletion_requests.id"],
            name=op.f("fk_request_history_request_id_deletion_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_history")),
    )
    op.create_index(op.f("ix_request_history_request_id"), "request_history", ["request_id"], unique=False)
    op.create_table(
        "suppressions",
        sa.Column("subject_ref", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("suppressed_at", _TS, nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["deletion_requests.id"],
            name=op.f("fk_suppressions_request_id_deletion_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_ref"], ["subjects.subject_ref"], name=op.f("fk_suppressions_subject_ref_subjects")
        ),
        sa.PrimaryKeyConstraint("subject_ref", name=op.f("pk_suppressions")),
    )


def downgrade() -> None:
    op.drop_table("suppressions")
    op.drop_index(op.f("ix_request_history_request_id"), table_name="request_history")
    op.drop_table("request_history")
    op.drop_index(
        "uq_model_versions_one_deployed",
        table_name="model_versions",
        sqlite_where=sa.text("status = 'deployed'"),
        postgresql_where=sa.text("status = 'deployed'"),
    )
    op.drop_table("model_versions")
    op.drop_index("ix_examples_subject_ref_dataset_id", table_name="examples")
    op.drop_table("examples")
    op.drop_index(
        "uq_deletion_requests_open_subject_policy",
        table_name="deletion_requests",
        sqlite_where=sa.text(_OPEN),
        postgresql_where=sa.text(_OPEN),
    )
    op.drop_index(op.f("ix_deletion_requests_subject_ref"), table_name="deletion_requests")
    op.drop_index("ix_deletion_requests_status_due_at", table_name="deletion_requests")
    op.drop_table("deletion_requests")
    op.drop_table("subjects")
    op.drop_table("datasets")
