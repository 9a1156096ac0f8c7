"""Alembic environment: the tool passes its own connection in ``config.attributes``."""

from alembic import context
from sqlalchemy import create_engine

from snapshot_runner.history.models import Base

config = context.config
connection = config.attributes.get("connection")


def run(conn) -> None:  # type: ignore[no-untyped-def]
    # render_as_batch: SQLite can only alter tables by copying them.
    context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:  # the alembic command line
    with create_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///db/history.sqlite").connect() as conn:
        run(conn)
