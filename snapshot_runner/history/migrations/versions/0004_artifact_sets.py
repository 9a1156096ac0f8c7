"""Results by artifact set: one row per run × case pointing at a shared,
content-addressed set of (key → artifact), instead of one row per run × case ×
key. A year of nightlies where ~2% of artifacts change per run shrinks from
~120 bytes per artifact result to ~40 per case result.

Revision ID: 0004
Revises: 0003
"""

import hashlib
from itertools import groupby

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _digest(pairs: list[tuple[str, str]]) -> str:
    # Frozen copy of store.set_digest at this revision.
    return hashlib.sha256("".join(f"{key}\t{sha}\n" for key, sha in sorted(pairs)).encode()).hexdigest()


def upgrade() -> None:
    op.create_table(
        "artifact_sets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
    )
    op.create_table(
        "artifact_set_members",
        sa.Column("set_id", sa.Integer(), sa.ForeignKey("artifact_sets.id"), primary_key=True),
        sa.Column("key_id", sa.Integer(), sa.ForeignKey("artifact_keys.id"), primary_key=True),
        sa.Column("artifact_id", sa.Integer(), sa.ForeignKey("artifacts.id"), nullable=False),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("case_outcomes") as batch:
        batch.add_column(sa.Column("artifact_set_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_case_outcomes_artifact_set_id_artifact_sets", "artifact_sets", ["artifact_set_id"], ["id"])
        batch.create_index("ix_case_outcomes_case_run", ["case_id", "run_id"])

    bind = op.get_bind()
    meta = sa.MetaData()
    results = sa.Table("artifact_results", meta, autoload_with=bind)
    artifacts = sa.Table("artifacts", meta, autoload_with=bind)
    keys = sa.Table("artifact_keys", meta, autoload_with=bind)
    sets = sa.Table("artifact_sets", meta, autoload_with=bind)
    members = sa.Table("artifact_set_members", meta, autoload_with=bind)
    outcomes = sa.Table("case_outcomes", meta, autoload_with=bind)
    rows = bind.execute(
        sa.select(results.c.run_id, results.c.case_id, keys.c.name, artifacts.c.sha256, results.c.key_id, results.c.artifact_id)
        .join(keys, keys.c.id == results.c.key_id)
        .join(artifacts, artifacts.c.id == results.c.artifact_id)
        .order_by(results.c.run_id, results.c.case_id)
    ).all()
    set_ids: dict[str, int] = {}
    for (run_id, case_id), group in groupby(rows, key=lambda r: (r[0], r[1])):
        group = list(group)
        digest = _digest([(r[2], r[3]) for r in group])
        if digest not in set_ids:
            set_ids[digest] = bind.execute(sets.insert().values(sha256=digest)).inserted_primary_key[0]
            bind.execute(members.insert(), [{"set_id": set_ids[digest], "key_id": r[4], "artifact_id": r[5]} for r in group])
        bind.execute(
            outcomes.update()
            .where(outcomes.c.run_id == run_id, outcomes.c.case_id == case_id)
            .values(artifact_set_id=set_ids[digest])
        )
    op.drop_index("ix_artifact_results_case_key_run", table_name="artifact_results")
    op.drop_table("artifact_results")


def downgrade() -> None:
    op.create_table(
        "artifact_results",
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("key_id", sa.Integer(), sa.ForeignKey("artifact_keys.id"), primary_key=True),
        sa.Column("artifact_id", sa.Integer(), sa.ForeignKey("artifacts.id"), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_artifact_results_case_key_run", "artifact_results", ["case_id", "key_id", "run_id"])
    op.execute(
        "INSERT INTO artifact_results (run_id, case_id, key_id, artifact_id) "
        "SELECT o.run_id, o.case_id, m.key_id, m.artifact_id FROM case_outcomes o "
        "JOIN artifact_set_members m ON m.set_id = o.artifact_set_id"
    )
    with op.batch_alter_table("case_outcomes") as batch:
        batch.drop_index("ix_case_outcomes_case_run")
        batch.drop_constraint("fk_case_outcomes_artifact_set_id_artifact_sets", type_="foreignkey")
        batch.drop_column("artifact_set_id")
    op.drop_table("artifact_set_members")
    op.drop_table("artifact_sets")
