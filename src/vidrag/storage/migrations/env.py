"""Alembic environment: runs on the connection handed over by vidrag.storage.db.migrate."""

from __future__ import annotations

from alembic import context

from vidrag.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through vidrag.storage.db.migrate
    raise RuntimeError("run migrations through vidrag.storage.db.migrate (or `vidrag migrate`)")

context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
