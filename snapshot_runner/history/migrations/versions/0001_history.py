"""The history schema: environments, runs, cases, artifacts by hash, results.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "environments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
        sa.Column("torch_version", sa.String(128), nullable=False, index=True),
        sa.Column("torch_git_sha", sa.String(64), nullable=True),
        sa.Column("python", sa.String(32), nullable=False),
        sa.Column("platform", sa.String(64), nullable=False),
        sa.Column("device", sa.String(128), nullable=False),
        sa.Column("cuda", sa.String(32), nullable=True),
        sa.Column("triton", sa.String(32), nullable=True),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("label", sa.String(200), nullable=True, index=True),
        sa.Column("environment_id", sa.Integer(), sa.ForeignKey("environments.id"), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("runner_version", sa.String(32), nullable=False),
        sa.Column("case_set_fingerprint", sa.String(64), nullable=False),
        sa.Column("cases_expected", sa.Integer(), nullable=False),
        sa.Column("normalize", sa.String(16), nullable=False),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(400), nullable=False, unique=True),
    )
    op.create_table(
        "artifact_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
    )
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("text", sa.Text(), nullable=False),
    )
    op.create_table(
        "case_outcomes",
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("compile_seconds", sa.Float(), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "artifact_results",
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("key_id", sa.Integer(), sa.ForeignKey("artifact_keys.id"), primary_key=True),
        sa.Column("artifact_id", sa.Integer(), sa.ForeignKey("artifacts.id"), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_artifact_results_case_key_run", "artifact_results", ["case_id", "key_id", "run_id"])


def downgrade() -> None:
    for table in ("artifact_results", "case_outcomes", "artifacts", "artifact_keys", "cases", "runs", "environments"):
        op.drop_table(table)
