"""What else made a run: the versions of the project's tracked packages (part
of the environment), and the case modules that failed to import (kept with the
run, whose status then says so).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("environments") as batch:
        batch.add_column(sa.Column("packages", sa.Text(), nullable=True))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("load_errors", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("load_errors")
    with op.batch_alter_table("environments") as batch:
        batch.drop_column("packages")
