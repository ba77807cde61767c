"""Alembic environment: migrations run on the connection heliograph hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from heliograph.model import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    # A plugin's tables are tracked in a version table of their own.
    version_table = config.attributes.get("version_table", "alembic_version")
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            version_table=version_table,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        context.configure(
            connection=conn,
            target_metadata=target_metadata,
            render_as_batch=True,
            version_table=version_table,
        )
        with context.begin_transaction():
            context.run_migrations()


run()
