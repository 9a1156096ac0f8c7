"""History: the database of recorded runs (SQLAlchemy models, the store, recording, Alembic migrations)."""
