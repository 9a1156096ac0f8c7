"""What each bisect found (ends, verdicts, change points, classifications,
compare links), as its JSON report, by case: the service shows it.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bisect_results",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_name", sa.String(400), nullable=False),
        sa.Column("artifact", sa.String(100), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
    )
    op.create_index("ix_bisect_results_case_name", "bisect_results", ["case_name"])


def downgrade() -> None:
    op.drop_index("ix_bisect_results_case_name", table_name="bisect_results")
    op.drop_table("bisect_results")
