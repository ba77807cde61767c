"""The datastore on SQLite: rows written with ``executemany``, full text in an
FTS5 table beside each table (when the SQLite build has FTS5; else a search
matches words with ``LIKE``).

pysqlite's own transaction handling skips DDL, so the engine takes it over:
CREATE/ALTER/DROP roll back with the rest of the call, writers take the write
lock up front and readers begin deferred (in WAL mode they never wait).
"""

from __future__ import annotations

import typing as t

import sqlalchemy as sa
from sqlalchemy import event

from heliograph.ext.datastore import types as ty
from heliograph.ext.datastore.backend.base import READ_ONLY, Backend, Run, Table, hashed_name


def make_engine(url: sa.URL) -> sa.Engine:
    """An engine on the SQLite file ``url`` that runs DDL inside transactions."""
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


def _on_connect(dbapi_connection: t.Any, _record: t.Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _on_begin(connection: sa.Connection) -> None:
    # Writers take the write lock up front (no deadlock upgrading a read lock);
    # readers (READ_ONLY) begin deferred, so in WAL mode they never wait.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class SqliteBackend(Backend):
    """The datastore tables of a SQLite file."""

    dialect = "sqlite"
    PLACEHOLDER = "?"
    ID_COLUMN = "_id INTEGER PRIMARY KEY"
    FULL_TEXT_COLUMN = "_full_text INTEGER"

    def _has_full_text(self, conn: sa.Connection) -> bool:
        options = {row[0] for row in conn.exec_driver_sql("PRAGMA compile_options")}
        return "ENABLE_FTS5" in options

    def _create_full_text(self, conn: sa.Connection, resource_id: str) -> None:
        if self.fts:
            conn.exec_driver_sql(
                f"CREATE VIRTUAL TABLE {ty.quote(hashed_name(resource_id, 'fts'))} "
                "USING fts5(content, tokenize='porter unicode61')"
            )

    def _drop_full_text(self, conn: sa.Connection, resource_id: str) -> None:
        if self.fts:
            conn.exec_driver_sql(
                f"DROP TABLE IF EXISTS {ty.quote(hashed_name(resource_id, 'fts'))}"
            )

    def _delete_full_text(
        self, conn: sa.Connection, resource_id: str, where: str, params: dict[str, t.Any]
    ) -> None:
        if self.fts:
            q = ty.quote
            conn.execute(
                sa.text(
                    f"DELETE FROM {q(hashed_name(resource_id, 'fts'))} WHERE rowid IN "
                    f"(SELECT _id FROM {q(resource_id)} {where})"
                ),
                params,
            )

    def _refresh_full_text(self, conn: sa.Connection, table: Table) -> None:
        q = ty.quote
        target = q(table.resource_id)
        fts = q(hashed_name(table.resource_id, "fts"))
        text = (
            " || ' ' || ".join(f"COALESCE(CAST({q(f['id'])} AS TEXT), '')" for f in table.fields)
            or "''"
        )
        conn.exec_driver_sql(
            f"DELETE FROM {fts} WHERE rowid IN (SELECT _id FROM {target} WHERE _full_text IS NULL)"
        )
        conn.exec_driver_sql(
            f"INSERT INTO {fts} (rowid, content) SELECT _id, {text} FROM {target} "
            "WHERE _full_text IS NULL"
        )
        conn.exec_driver_sql(f"UPDATE {target} SET _full_text = 1 WHERE _full_text IS NULL")

    def _match_full_text(
        self,
        resource_id: str,
        words: list[str],
        source: str,
        where: str,
        params: dict[str, t.Any],
    ) -> tuple[str, str, str]:
        quote = ty.quote
        fts = quote(hashed_name(resource_id, "fts"))
        params["fts"] = " ".join(f'"{w}"' for w in words)
        source += (
            f" JOIN (SELECT rowid AS _fts_id, -bm25({fts}) AS _rank FROM {fts} "
            f"WHERE {fts} MATCH :fts) AS _hits "
            f"ON _hits._fts_id = {quote(resource_id)}._id"
        )
        return source, where, "_rank"

    def _write_run(self, conn: sa.Connection, table: Table, run: Run, method: str) -> None:
        if not run.rows:
            return
        sql, order = self._row_sql(table, run, method)
        rows = run.rows if method != "update" else [order(row) for row in run.rows]
        raw = conn.connection.driver_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            cursor.executemany(sql, rows)
            matched = cursor.rowcount
        finally:
            cursor.close()
        if method == "update" and matched != len(rows):
            self._key_not_found(conn, table, run)

    def _native_types(self, conn: sa.Connection, resource_id: str) -> dict[str, str]:
        rows = conn.exec_driver_sql(f"PRAGMA table_info({ty.quote(resource_id)})")
        return {str(row[1]): str(row[2]).lower() for row in rows}
