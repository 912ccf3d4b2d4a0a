"""Batch jobs, the requests each job claimed, and issued certificates.

Revision ID: 0003_jobs
Revises: 0002_audit
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

_TS = sa.DateTime(timezone=True)

revision = "0003_jobs"
down_revision = "0002_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("model_name", sa.String(), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(), nullable=False),
        sa.Column("lease_expires_at", _TS, nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.CheckConstraint("status IN ('completed', 'failed', 'running')", name=op.f("ck_jobs_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_model_name_status", "jobs", ["model_name", "status"], unique=False)
    op.create_table(
        "job_requests",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_requests_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["deletion_requests.id"],
            name=op.f("fk_job_requests_request_id_deletion_requests"),
        ),
        sa.PrimaryKeyConstraint("job_id", "request_id", name=op.f("pk_job_requests")),
    )
    op.create_index(op.f("ix_job_requests_request_id"), "job_requests", ["request_id"], unique=False)
    op.create_table(
        "certificates",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("audit_index", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_certificates_job_id_jobs")),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_certificates_model_version_id_model_versions"),
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_certificates")),
    )


def downgrade() -> None:
    op.drop_table("certificates")
    op.drop_index(op.f("ix_job_requests_request_id"), table_name="job_requests")
    op.drop_table("job_requests")
    op.drop_index("ix_jobs_model_name_status", table_name="jobs")
    op.drop_table("jobs")
