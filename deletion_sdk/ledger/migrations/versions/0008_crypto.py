"""Crypto-shredding: per-subject wrapped data keys, their tombstones, sealed examples, ingested datasets.

Revision ID: 0008_crypto
Revises: 0007_inputs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

_TS = sa.DateTime(timezone=True)

revision = "0008_crypto"
down_revision = "0007_inputs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subject_data_keys",
        sa.Column("subject_ref", sa.String(length=64), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("key_digest", sa.String(length=64), nullable=False),
        sa.Column("master_key_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_ref"],
            ["subjects.subject_ref"],
            name=op.f("fk_subject_data_keys_subject_ref_subjects"),
        ),
        sa.PrimaryKeyConstraint("subject_ref", name=op.f("pk_subject_data_keys")),
        sa.UniqueConstraint("key_digest", name=op.f("uq_subject_data_keys_key_digest")),
    )
    op.create_table(
        "shredded_keys",
        sa.Column("subject_ref", sa.String(length=64), nullable=False),
        sa.Column("key_digest", sa.String(length=64), nullable=False),
        sa.Column("destroyed_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_ref"], ["subjects.subject_ref"], name=op.f("fk_shredded_keys_subject_ref_subjects")
        ),
        sa.PrimaryKeyConstraint("subject_ref", name=op.f("pk_shredded_keys")),
    )
    op.create_table(
        "sealed_examples",
        sa.Column("file_name", sa.String(length=64), nullable=False),
        sa.Column("subject_ref", sa.String(length=64), nullable=False),
        sa.Column("example_id", sa.String(), nullable=False),
        sa.Column("content_digest", sa.String(length=64), nullable=False),
        sa.Column("key_digest", sa.String(length=64), nullable=False),
        sa.Column("sealed_sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_ref"], ["subjects.subject_ref"], name=op.f("fk_sealed_examples_subject_ref_subjects")
        ),
        sa.PrimaryKeyConstraint("file_name", name=op.f("pk_sealed_examples")),
    )
    op.create_index(op.f("ix_sealed_examples_subject_ref"), "sealed_examples", ["subject_ref"], unique=False)
    op.create_index(
        op.f("ix_sealed_examples_content_digest"), "sealed_examples", ["content_digest"], unique=False
    )
    op.create_table(
        "ingested_datasets",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("n_sealed", sa.Integer(), nullable=False),
        sa.Column("n_skipped", sa.Integer(), nullable=False),
        sa.Column("master_key_id", sa.String(length=16), nullable=False),
        sa.Column("ingested_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_ingested_datasets_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dataset_id", name=op.f("pk_ingested_datasets")),
    )


def downgrade() -> None:
    op.drop_table("ingested_datasets")
    op.drop_index(op.f("ix_sealed_examples_content_digest"), table_name="sealed_examples")
    op.drop_index(op.f("ix_sealed_examples_subject_ref"), table_name="sealed_examples")
    op.drop_table("sealed_examples")
    op.drop_table("shredded_keys")
    op.drop_table("subject_data_keys")
