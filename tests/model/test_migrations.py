from __future__ import annotations

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


def test_models_match_the_migrations(db: sa.Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with db.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), model.Base.metadata)
    assert diff == []
