from __future__ import annotations

import typing as t

import pytest
import sqlalchemy as sa

from heliograph import model
from heliograph.model import migrate


def test_migrated_database_is_at_head_and_has_every_table(db: sa.Engine) -> None:
    assert migrate.is_current(db)
    names = set(sa.inspect(db).get_table_names())
    assert set(model.Base.metadata.tables) <= names


def test_upgrading_a_current_database_changes_nothing(db: sa.Engine) -> None:
    before = migrate.current_revision(db)
    migrate.upgrade(db)
    assert migrate.current_revision(db) == before


def schema_diff(engine: sa.Engine, metadata: sa.MetaData) -> list[t.Any]:
    """What Alembic would change to make ``metadata``'s tables match the database;
    tables of other metadata (plugins' tables, their version tables) are left out."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    def ours(name: str | None, type_: str, parent: t.Any) -> bool:
        return type_ != "table" or name in metadata.tables

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": ours})
        return list(compare_metadata(context, metadata))


# SQLite cannot reflect expression indexes (lower(email)): Alembic skips them there
# and says so; PostgreSQL compares them.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_models_match_the_migrations(db: sa.Engine) -> None:
    assert schema_diff(db, model.Base.metadata) == []
