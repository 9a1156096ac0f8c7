"""Sharded runs: ``record --shard K/N --run-key KEY``. A run may carry a key
that its shards share; each shard's part and the split of the cases over the
shards are kept by key.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite cannot add a UNIQUE column): uniqueness is the index's.
    op.add_column("runs", sa.Column("run_key", sa.String(200), nullable=True))
    op.create_index("ix_runs_run_key", "runs", ["run_key"], unique=True)
    op.create_table(
        "shard_parts",
        sa.Column("run_key", sa.String(200), primary_key=True),
        sa.Column("shard", sa.Integer(), primary_key=True),
        sa.Column("shards", sa.Integer(), nullable=False),
        sa.Column("case_set_fingerprint", sa.String(64), nullable=False),
        sa.Column("cases_expected", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("environment_id", sa.Integer(), sa.ForeignKey("environments.id"), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "shard_cases",
        sa.Column("run_key", sa.String(200), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("shard", sa.Integer(), nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("shard_cases")
    op.drop_table("shard_parts")
    op.drop_index("ix_runs_run_key", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("run_key")
