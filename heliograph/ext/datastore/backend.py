"""The datastore database: one table per resource, typed columns, one transaction a call.

The database is a SQLite file of its own (``datastore.db`` in the instance
folder) unless ``heliograph.datastore.url`` names another, e.g. PostgreSQL.
A table is named after its resource id and has ``_id`` (the row number),
``_full_text`` (the full-text state, never returned) and the declared
fields. A table's fields, primary key and indexes are kept in the table
``_heliograph_datastore`` beside it, written in the same transaction.

What a caller can rely on:

- every public method runs in one transaction: when it raises, the database
  is exactly as it was before the call;
- identifiers are validated (:mod:`.types`) and quoted; values are bound;
- bad input raises ``toolkit.ValidationError`` naming the field or row, a
  missing table ``toolkit.ObjectNotFound``; a database error while writing is
  reported as ``{"records": ["row N: <message>"], "records_row": N}`` (rows
  counted from 1 in the order given).

Full text: writes only mark a row stale (``_full_text`` NULL); a search with
``q`` first indexes the stale rows (SQLite FTS5 table beside the table,
PostgreSQL ``tsvector`` column with a GIN index). Writes stay as fast as a
plain insert, and ``q`` always sees the current rows.
"""

from __future__ import annotations

import collections.abc as c
import hashlib
import json
import logging
import operator
import re
import threading
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

import heliograph.plugins.toolkit as tk
from heliograph.ext.datastore import types as ty

log = logging.getLogger(__name__)

META = "_heliograph_datastore"
READ_ONLY = "heliograph_datastore_read_only"
"""Execution option of a connection that only reads (a deferred BEGIN on SQLite)."""
URL_KEY = "heliograph.datastore.url"
LANGUAGE = "english"


# -- engines ----------------------------------------------------------------------

_engines: dict[str, sa.Engine] = {}
_backends: dict[str, Backend] = {}
_lock = threading.Lock()


def configured_url() -> str:
    """``heliograph.datastore.url``, else a SQLite file in the instance folder."""
    url = tk.config.get(URL_KEY)
    if url:
        return str(url)
    instance = Path(tk.config.get("heliograph.instance_path") or Path.cwd() / "instance")
    instance.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{instance / 'datastore.db'}"


def get_backend(url: str | None = None) -> Backend:
    """The backend for ``url`` (default: :func:`configured_url`), one per URL and process."""
    url = url or configured_url()
    with _lock:
        backend = _backends.get(url)
        if backend is None:
            backend = _backends[url] = Backend(_make_engine(url))
        return backend


def dispose_all() -> None:
    """Close every engine (tests, and the end of a command)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _backends.clear()


def _make_engine(url: str) -> sa.Engine:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(parsed, connect_args={"timeout": 30, "check_same_thread": False})
        # pysqlite's own transaction handling skips DDL; take it over so that
        # CREATE/ALTER/DROP roll back with the rest of the call.
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = sa.create_engine(parsed, pool_pre_ping=True)
    _engines[url] = engine
    return engine


def _sqlite_connect(dbapi_connection: t.Any, _record: t.Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: sa.Connection) -> None:
    # Writers take the write lock up front (no deadlock upgrading a read lock);
    # readers (READ_ONLY) begin deferred, so in WAL mode they never wait.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# -- table descriptions ------------------------------------------------------------


@dataclass
class Table:
    """What ``_heliograph_datastore`` holds about one table."""

    resource_id: str
    fields: list[dict[str, t.Any]]
    primary_key: list[str] = field(default_factory=list)
    indexes: list[list[str]] = field(default_factory=list)

    @property
    def types(self) -> dict[str, str]:
        return {f["id"]: f["type"] for f in self.fields}

    def column_types(self) -> dict[str, str]:
        """Field types, ``_id`` included."""
        return {"_id": "int", **self.types}


def _hashed(resource_id: str, suffix: str) -> str:
    return f"_hg_{hashlib.sha1(resource_id.encode()).hexdigest()[:16]}_{suffix}"


def _invalid(key: str, value: t.Any) -> t.NoReturn:
    raise tk.ValidationError({key: [f'invalid value "{value}"']})


class Backend:
    """The datastore tables of one database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        if self.dialect not in ty.SQL_TYPES:
            raise tk.ValidationError(
                {URL_KEY: [f"the datastore supports SQLite and PostgreSQL, not {self.dialect}"]}
            )
        self.sqlite = self.dialect == "sqlite"
        self.ph = "?" if self.sqlite else "%s"
        self.writers = ty.writers(self.dialect)
        self.readers = ty.readers(self.dialect)
        self.fts = True
        with engine.begin() as conn:
            conn.exec_driver_sql(
                f"CREATE TABLE IF NOT EXISTS {META} (resource_id VARCHAR(100) PRIMARY KEY, "
                "fields TEXT NOT NULL, primary_key TEXT NOT NULL, indexes TEXT NOT NULL)"
            )
            if self.sqlite:
                options = {row[0] for row in conn.exec_driver_sql("PRAGMA compile_options")}
                self.fts = "ENABLE_FTS5" in options

    def connect(self, read_only: bool = False) -> sa.Connection:
        """A connection to the datastore; ``read_only`` ones never wait for a
        writer on SQLite (deferred BEGIN, WAL)."""
        conn = self.engine.connect()
        if read_only:
            conn.execution_options(**{READ_ONLY: True})
        return conn

    # -- metadata --------------------------------------------------------------

    def table(self, conn: sa.Connection, resource_id: str) -> Table | None:
        row = conn.execute(
            sa.text(f"SELECT fields, primary_key, indexes FROM {META} WHERE resource_id = :rid"),
            {"rid": resource_id},
        ).first()
        if row is None:
            return None
        return Table(resource_id, json.loads(row[0]), json.loads(row[1]), json.loads(row[2]))

    def require(self, conn: sa.Connection, resource_id: str) -> Table:
        table = self.table(conn, resource_id) if ty.valid_resource_id(resource_id) else None
        if table is None:
            raise tk.ObjectNotFound(f'Resource "{resource_id}" was not found.')
        return table

    def _save(self, conn: sa.Connection, table: Table, new: bool) -> None:
        values = {
            "rid": table.resource_id,
            "f": json.dumps(table.fields),
            "pk": json.dumps(table.primary_key),
            "ix": json.dumps(table.indexes),
        }
        if new:
            sql = f"INSERT INTO {META} VALUES (:rid, :f, :pk, :ix)"
        else:
            sql = (
                f"UPDATE {META} SET fields = :f, primary_key = :pk, indexes = :ix "
                "WHERE resource_id = :rid"
            )
        conn.execute(sa.text(sql), values)

    # -- create ----------------------------------------------------------------

    def create(
        self,
        resource_id: str,
        fields: list[dict[str, t.Any]],
        primary_key: list[str] | None,
        indexes: list[list[str]] | None,
        records: list[dict[str, t.Any]] | None,
    ) -> Table:
        """Create the table, or add the new ``fields`` to it; set the primary key
        (replacing the old one) and add ``indexes``; insert ``records``."""
        if not ty.valid_resource_id(resource_id):
            _invalid("resource_id", resource_id)
        sql_types = ty.SQL_TYPES[self.dialect]
        q = ty.quote
        try:
            with self.engine.begin() as conn:
                table = self.table(conn, resource_id)
                new = table is None
                if table is None:
                    table = Table(resource_id, [])
                    columns = ", ".join(
                        [
                            "_id INTEGER PRIMARY KEY"
                            if self.sqlite
                            else "_id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                            "_full_text INTEGER" if self.sqlite else "_full_text TSVECTOR",
                        ]
                        + [f"{q(f['id'])} {sql_types[f['type']]}" for f in fields]
                    )
                    conn.exec_driver_sql(f"CREATE TABLE {q(resource_id)} ({columns})")
                    if self.sqlite and self.fts:
                        conn.exec_driver_sql(
                            f"CREATE VIRTUAL TABLE {q(_hashed(resource_id, 'fts'))} "
                            "USING fts5(content, tokenize='porter unicode61')"
                        )
                    elif not self.sqlite:
                        conn.exec_driver_sql(
                            f"CREATE INDEX {q(_hashed(resource_id, 'fts'))} "
                            f"ON {q(resource_id)} USING gin(_full_text)"
                        )
                    table.fields = [dict(f) for f in fields]
                else:
                    known = table.types
                    for f in fields:
                        if f["id"] in known:
                            if known[f["id"]] != f["type"]:
                                raise tk.ValidationError(
                                    {
                                        "fields": [
                                            f'field "{f["id"]}" is of type "{known[f["id"]]}" '
                                            f'and cannot be changed to "{f["type"]}"'
                                        ]
                                    }
                                )
                            continue
                        conn.exec_driver_sql(
                            f"ALTER TABLE {q(resource_id)} "
                            f"ADD COLUMN {q(f['id'])} {sql_types[f['type']]}"
                        )
                        table.fields.append(dict(f))
                    infos = {f["id"]: f.get("info") for f in fields if "info" in f}
                    for f in table.fields:
                        if f["id"] in infos:
                            f["info"] = infos[f["id"]]
                known = table.types
                for key in (primary_key or []) + [c for ix in indexes or [] for c in ix]:
                    if key not in known:
                        raise tk.ValidationError(
                            {
                                "primary_key" if key in (primary_key or []) else "indexes": [
                                    f'field "{key}" does not exist'
                                ]
                            }
                        )
                if primary_key is not None and primary_key != table.primary_key:
                    self._set_primary_key(conn, table, primary_key)
                for index in indexes or []:
                    if index not in table.indexes:
                        name = _hashed(resource_id, "ix_" + _hashed("|".join(index), "")[4:12])
                        cols = ", ".join(q(col) for col in index)
                        conn.exec_driver_sql(f"CREATE INDEX {q(name)} ON {q(resource_id)} ({cols})")
                        table.indexes.append(index)
                self._save(conn, table, new)
                if records:
                    self._write(conn, table, records, "insert")
        except tk.ValidationError:
            raise
        except _RowFailed as failed:
            # The table may not outlive the rollback, so there is nothing to replay on.
            raise tk.ValidationError({"records": [_db_message(failed.exc)]}) from None
        except sa.exc.DBAPIError as exc:
            raise tk.ValidationError({"constraints": [_db_message(exc)]}) from None
        return table

    def _set_primary_key(self, conn: sa.Connection, table: Table, primary_key: list[str]) -> None:
        q = ty.quote
        name = q(_hashed(table.resource_id, "pk"))
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
        if primary_key:
            cols = ", ".join(q(col) for col in primary_key)
            try:
                with conn.begin_nested():
                    conn.exec_driver_sql(
                        f"CREATE UNIQUE INDEX {name} ON {q(table.resource_id)} ({cols})"
                    )
            except sa.exc.IntegrityError as exc:
                raise tk.ValidationError(
                    {
                        "constraints": [
                            "Cannot insert records or create index because of uniqueness "
                            f"constraint: {_db_message(exc)}"
                        ],
                        "info": {"primary_key": primary_key},
                    }
                ) from None
        table.primary_key = list(primary_key)

    # -- writing records ---------------------------------------------------------

    def write(
        self, resource_id: str, records: list[t.Any], method: str, dry_run: bool = False
    ) -> None:
        """Insert, update or upsert ``records`` (one transaction; rolled back for
        a ``dry_run``)."""
        try:
            with self.engine.connect() as conn, conn.begin() as txn:
                table = self.require(conn, resource_id)
                self._write(conn, table, records, method)
                if dry_run:
                    txn.rollback()
        except _RowFailed as failed:
            raise failed.locate(self) from None

    def _write(self, conn: sa.Connection, table: Table, records: list[t.Any], method: str) -> None:
        runs = self._runs(table, records, method)
        for run in runs:
            try:
                self._write_run(conn, table, run, method)
            except tk.ValidationError:
                raise
            except Exception as exc:  # any driver's error: the row is found by replaying
                raise _RowFailed(table, runs, method, exc) from exc

    def _runs(self, table: Table, records: list[t.Any], method: str) -> list[_Run]:
        """Check and convert ``records``; consecutive records with the same keys
        form one run, converted column by column and written with one statement."""
        runs: list[_Run] = []
        n = len(records)
        i = 0
        while i < n:
            first = records[i]
            if not isinstance(first, dict):
                raise tk.ValidationError({"records": [f'row "{i + 1}" is not an object']})
            keys = first.keys()
            j = i + 1
            try:  # the common case, checked in C: every record has the same keys
                if all(map(keys.__eq__, map(dict.keys, records[j:] if j else records))):
                    j = n
            except TypeError:  # a record that is not a dict: found below
                pass
            while j < n:
                record = records[j]
                if record.__class__ is not dict or record.keys() != keys:
                    break
                j += 1
            columns = self._check_keys(table, first, i + 1, method)
            key = self._key_for(table, first, method)
            runs.append(self._convert(table, columns, key, records, i, j))
            i = j
        return runs

    def _convert(
        self,
        table: Table,
        columns: list[str],
        key: list[str],
        records: list[dict[str, t.Any]],
        start: int,
        stop: int,
    ) -> _Run:
        types = table.column_types()
        chunk = records[start:stop] if start or stop != len(records) else records
        converted: list[list[t.Any]] = []
        for col in columns:
            values = list(map(operator.itemgetter(col), chunk))
            fast = ty.convert_column(types[col], values, self.dialect)
            if fast is None:
                convert = self.writers[types[col]]
                try:
                    fast = list(map(convert, values))
                except ty.BadValue:
                    for number, value in enumerate(values, start=start + 1):
                        try:
                            convert(value)
                        except ty.BadValue as exc:
                            raise tk.ValidationError(
                                {
                                    "records": [f'row "{number}": field "{col}": {exc}'],
                                    "records_row": number,
                                }
                            ) from None
                    raise
            converted.append(fast)
        rows = list(zip(*converted, strict=True)) if converted else [() for _ in chunk]
        return _Run(columns, key, rows, list(range(start + 1, stop + 1)))

    def _check_keys(
        self, table: Table, record: dict[str, t.Any], number: int, method: str
    ) -> list[str]:
        types = table.types
        allowed = types if method == "insert" else table.column_types()
        unknown = [k for k in record if k not in allowed]
        if unknown:
            names = ", ".join(str(k) for k in unknown)
            if method == "insert":
                raise tk.ValidationError({"records": [f'row "{number}" has extra keys "{names}"']})
            raise tk.ValidationError({"fields": [f'fields "{names}" do not exist']})
        order = ["_id", *types]
        present = set(record)
        return [col for col in order if col in present]

    def _key_for(self, table: Table, record: dict[str, t.Any], method: str) -> list[str]:
        if method == "insert":
            return []
        if "_id" in record:
            return ["_id"]
        if not table.primary_key:
            raise tk.ValidationError({"table": ["unique key must be passed for update/upsert"]})
        missing = [k for k in table.primary_key if k not in record]
        if missing:
            raise tk.ValidationError(
                {"key": [f'fields "{", ".join(missing)}" are missing but needed as key']}
            )
        return list(table.primary_key)

    def _row_sql(self, table: Table, run: _Run, method: str) -> tuple[str, c.Callable[..., t.Any]]:
        """The statement writing one row of ``run`` and how to order its parameters."""
        q = ty.quote
        types = table.types
        ph = self.ph

        def value(col: str) -> str:
            if not self.sqlite and types.get(col) == "json":
                return f"CAST({ph} AS JSONB)"
            return ph

        target = q(table.resource_id)
        cols = ", ".join(q(col) for col in run.columns)
        values = ", ".join(value(col) for col in run.columns)
        if method == "update":
            rest = [col for col in run.columns if col not in run.key]
            sets = ", ".join([f"{q(col)} = {value(col)}" for col in rest] + ["_full_text = NULL"])
            where = " AND ".join(f"{q(col)} = {value(col)}" for col in run.key)
            positions = [run.columns.index(col) for col in rest + run.key]
            return (
                f"UPDATE {target} SET {sets} WHERE {where}",
                lambda row: [row[i] for i in positions],
            )
        sql = f"INSERT INTO {target} ({cols}) VALUES ({values})"
        if method == "upsert":
            rest = [col for col in run.columns if col not in run.key]
            sets = ", ".join(
                [f"{q(col)} = excluded.{q(col)}" for col in rest] + ["_full_text = NULL"]
            )
            keys = ", ".join(q(col) for col in run.key)
            sql += f" ON CONFLICT ({keys}) DO UPDATE SET {sets}"
        return sql, lambda row: row

    def _write_run(self, conn: sa.Connection, table: Table, run: _Run, method: str) -> None:
        if not run.rows:
            return
        if not self.sqlite:
            self._write_run_copy(conn, table, run, method)
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

    def _write_run_copy(self, conn: sa.Connection, table: Table, run: _Run, method: str) -> None:
        """PostgreSQL: binary COPY, straight into the table for an insert without
        json columns, else into a staging table merged with one INSERT (... ON
        CONFLICT for an upsert) or UPDATE ... FROM."""
        q = ty.quote
        raw = conn.connection.driver_connection
        assert raw is not None
        types = table.column_types()
        kinds = [types[col] for col in run.columns]
        cols = ", ".join(q(col) for col in run.columns)
        rows = run.rows
        target = q(table.resource_id)
        if method == "insert" and "json" not in kinds:
            with (
                raw.cursor() as cur,
                cur.copy(f"COPY {target} ({cols}) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                copy.set_types([_COPY_TYPES[kind] for kind in kinds])
                for row in rows:
                    copy.write_row(row)
            return
        if method != "insert":
            getter = operator.itemgetter(*[run.columns.index(col) for col in run.key])
            keys_of_rows = list(map(getter, rows))
            if len(set(keys_of_rows)) != len(rows):
                # the last write of a key wins, as if the rows were written one by one
                rows = list(dict(zip(keys_of_rows, rows, strict=True)).values())
        # json values arrive as JSON text: staged as text, cast when merged
        defs = ", ".join(
            f"{q(col)} {_COPY_TYPES[kind]}" for col, kind in zip(run.columns, kinds, strict=True)
        )
        values = ", ".join(
            f"CAST({q(col)} AS JSONB)" if kind == "json" else q(col)
            for col, kind in zip(run.columns, kinds, strict=True)
        )
        # One staging table per shape and session, emptied at every commit.
        stage = q("_hg_stage_" + hashlib.sha1(defs.encode()).hexdigest()[:16])
        with raw.cursor() as cur:
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ({defs}) ON COMMIT DELETE ROWS")
            cur.execute(f"DELETE FROM {stage}")  # a run before this one, same transaction
            with cur.copy(f"COPY {stage} ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types([_COPY_TYPES[kind] for kind in kinds])
                for row in rows:
                    copy.write_row(row)
            rest = [col for col in run.columns if col not in run.key]
            keys = ", ".join(q(col) for col in run.key)
            if method == "insert":
                cur.execute(f"INSERT INTO {target} ({cols}) SELECT {values} FROM {stage}")
            elif method == "upsert":
                if self._insert_if_all_new(cur, target, stage, run, cols, values):
                    return
                sets = ", ".join(
                    [f"{q(col)} = excluded.{q(col)}" for col in rest] + ["_full_text = NULL"]
                )
                cur.execute(
                    f"INSERT INTO {target} ({cols}) SELECT {values} FROM {stage} "
                    f"ON CONFLICT ({keys}) DO UPDATE SET {sets}"
                )
            else:
                sets = ", ".join(
                    [
                        f"{q(col)} = CAST(s.{q(col)} AS JSONB)"
                        if types[col] == "json"
                        else f"{q(col)} = s.{q(col)}"
                        for col in rest
                    ]
                    + ["_full_text = NULL"]
                )
                where = " AND ".join(f"t.{q(col)} = s.{q(col)}" for col in run.key)
                cur.execute(f"UPDATE {target} AS t SET {sets} FROM {stage} AS s WHERE {where}")
                if cur.rowcount != len(rows):
                    self._key_not_found(conn, table, run)

    @staticmethod
    def _insert_if_all_new(
        cur: t.Any, target: str, stage: str, run: _Run, cols: str, values: str
    ) -> bool:
        """A plain INSERT when no staged key is in the table yet (a load of new
        rows; faster than ON CONFLICT). A row another writer inserted meanwhile
        rolls the attempt back to its savepoint: the caller then upserts."""
        q = ty.quote
        match = " AND ".join(f"t.{q(col)} = s.{q(col)}" for col in run.key)
        cur.execute(f"SELECT EXISTS (SELECT 1 FROM {stage} AS s JOIN {target} AS t ON {match})")
        if cur.fetchone()[0]:
            return False
        cur.execute("SAVEPOINT hg_all_new")
        try:
            cur.execute(f"INSERT INTO {target} ({cols}) SELECT {values} FROM {stage}")
        except Exception as exc:
            if getattr(exc, "sqlstate", None) != "23505":  # unique_violation
                raise
            cur.execute("ROLLBACK TO SAVEPOINT hg_all_new")
            return False
        cur.execute("RELEASE SAVEPOINT hg_all_new")
        return True

    def _key_not_found(self, conn: sa.Connection, table: Table, run: _Run) -> t.NoReturn:
        q = ty.quote
        positions = [run.columns.index(col) for col in run.key]
        where = " AND ".join(f"{q(col)} = :k{i}" for i, col in enumerate(run.key))
        probe = sa.text(f"SELECT 1 FROM {q(table.resource_id)} WHERE {where}")
        for row in run.rows:
            values = [row[i] for i in positions]
            if conn.execute(probe, {f"k{i}": v for i, v in enumerate(values)}).first() is None:
                shown = ", ".join(str(v) for v in values)
                raise tk.ValidationError({"key": [f'key "({shown})" not found']})
        raise tk.ValidationError({"key": ["a key was not found"]})

    # -- deleting --------------------------------------------------------------

    def delete(self, resource_id: str, filters: dict[str, t.Any] | None) -> int | None:
        """Drop the table (``filters`` None) or delete the rows matching ``filters``;
        returns the number of rows deleted (None for a drop)."""
        q = ty.quote
        with self.engine.begin() as conn:
            table = self.require(conn, resource_id)
            if filters is None:
                conn.exec_driver_sql(f"DROP TABLE {q(resource_id)}")
                if self.sqlite and self.fts:
                    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {q(_hashed(resource_id, 'fts'))}")
                conn.execute(
                    sa.text(f"DELETE FROM {META} WHERE resource_id = :rid"), {"rid": resource_id}
                )
                return None
            where, params = self._where(table, filters, None)
            if self.sqlite and self.fts:
                conn.execute(
                    sa.text(
                        f"DELETE FROM {q(_hashed(resource_id, 'fts'))} WHERE rowid IN "
                        f"(SELECT _id FROM {q(resource_id)} {where})"
                    ),
                    params,
                )
            result = conn.execute(sa.text(f"DELETE FROM {q(resource_id)} {where}"), params)
            return int(result.rowcount)

    # -- searching -------------------------------------------------------------

    def _where(
        self, table: Table, filters: dict[str, t.Any] | None, q: dict[str, t.Any] | None
    ) -> tuple[str, dict[str, t.Any]]:
        types = table.column_types()
        clauses: list[str] = []
        params: dict[str, t.Any] = {}
        for n, (col, wanted) in enumerate((filters or {}).items()):
            if col not in types:
                _invalid("filters", col)
            convert = self.writers[types[col]]
            values = wanted if isinstance(wanted, list) else [wanted]
            binds = []
            for m, value in enumerate(values):
                if isinstance(value, (dict, list)) and types[col] != "json":
                    raise tk.ValidationError(
                        {"filters": [f'field "{col}": "{value}" is not a single value']}
                    )
                try:
                    converted = convert(value)
                except ty.BadValue as exc:
                    raise tk.ValidationError({"filters": [f'field "{col}": {exc}']}) from None
                name = f"f{n}_{m}"
                params[name] = converted
                binds.append(
                    f"CAST(:{name} AS JSONB)"
                    if types[col] == "json" and not self.sqlite
                    else f":{name}"
                )
            if not binds:
                clauses.append("1 = 0")
            elif len(binds) == 1 and converted is None:
                clauses.append(f"{ty.quote(col)} IS NULL")
            else:
                clauses.append(f"{ty.quote(col)} IN ({', '.join(binds)})")
        for n, (col, text) in enumerate((q or {}).items()):
            if col not in types:
                _invalid("q", col)
            if not isinstance(text, str):
                raise tk.ValidationError({"q": [f'field "{col}": the query must be text']})
            name = f"q{n}"
            params[name] = "%" + _escape_like(text.lower()) + "%"
            clauses.append(f"LOWER(CAST({ty.quote(col)} AS TEXT)) LIKE :{name} ESCAPE '\\'")
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), params

    def _refresh_full_text(self, conn: sa.Connection, table: Table) -> None:
        q = ty.quote
        target = q(table.resource_id)
        if self.sqlite:
            fts = q(_hashed(table.resource_id, "fts"))
            text = (
                " || ' ' || ".join(
                    f"COALESCE(CAST({q(f['id'])} AS TEXT), '')" for f in table.fields
                )
                or "''"
            )
            conn.exec_driver_sql(
                f"DELETE FROM {fts} WHERE rowid IN (SELECT _id FROM {target} "
                "WHERE _full_text IS NULL)"
            )
            conn.exec_driver_sql(
                f"INSERT INTO {fts} (rowid, content) SELECT _id, {text} FROM {target} "
                "WHERE _full_text IS NULL"
            )
            conn.exec_driver_sql(f"UPDATE {target} SET _full_text = 1 WHERE _full_text IS NULL")
            return
        parts = ", ".join(f"CAST({q(f['id'])} AS TEXT)" for f in table.fields) or "''"
        conn.execute(
            sa.text(
                f"UPDATE {target} SET _full_text = "
                f"to_tsvector(CAST(:lang AS regconfig), concat_ws(' ', {parts})) "
                "WHERE _full_text IS NULL"
            ),
            {"lang": LANGUAGE},
        )

    def search(
        self,
        resource_id: str,
        *,
        filters: dict[str, t.Any] | None = None,
        q: str | dict[str, t.Any] | None = None,
        fields: list[str] | None = None,
        sort: list[str] | None = None,
        limit: int = 100,
        offset: int = 0,
        include_total: bool = True,
        total_estimation_threshold: int | None = None,
        distinct: bool = False,
        records_format: str = "objects",
    ) -> dict[str, t.Any]:
        """Rows of the table as CKAN's ``datastore_search`` answers them.

        With ``total_estimation_threshold``, on PostgreSQL, the total is the
        planner's estimate of the matching rows when that estimate reaches the
        threshold (``total_was_estimated`` true): no count over a large table."""
        quote = ty.quote
        words = re.findall(r"\w+", q) if isinstance(q, str) else []
        indexing = bool(words) and self.fts  # indexes stale rows first: a write
        with self.connect(read_only=not indexing) as conn, conn.begin():
            table = self.require(conn, resource_id)
            types = table.column_types()
            where, params = self._where(table, filters, q if isinstance(q, dict) else None)
            source = quote(resource_id)
            rank: str | None = None
            if words and self.fts:
                self._refresh_full_text(conn, table)
                if self.sqlite:
                    fts = quote(_hashed(resource_id, "fts"))
                    params["fts"] = " ".join(f'"{w}"' for w in words)
                    source += (
                        f" JOIN (SELECT rowid AS _fts_id, -bm25({fts}) AS _rank FROM {fts} "
                        f"WHERE {fts} MATCH :fts) AS _hits "
                        f"ON _hits._fts_id = {quote(resource_id)}._id"
                    )
                    rank = "_rank"
                else:
                    params["fts"] = " ".join(words)
                    params["lang"] = LANGUAGE
                    query = "plainto_tsquery(CAST(:lang AS regconfig), :fts)"
                    where = (where + " AND " if where else "WHERE ") + f"_full_text @@ {query}"
                    rank = f"ts_rank(_full_text, {query})"
            elif words:  # no full-text engine: every word somewhere in the row
                text = (
                    " || ' ' || ".join(
                        f"COALESCE(LOWER(CAST({quote(f['id'])} AS TEXT)), '')" for f in table.fields
                    )
                    or "''"
                )
                for n, word in enumerate(words):
                    params[f"w{n}"] = "%" + _escape_like(word.lower()) + "%"
                    where = (where + " AND " if where else "WHERE ") + (
                        f"({text}) LIKE :w{n} ESCAPE '\\'"
                    )
            available = dict(types)
            if rank is not None:
                available["rank"] = "float"
            chosen = fields if fields is not None else [c for c in available]
            for col in chosen:
                if col not in available:
                    _invalid("fields", col)
            selected = [
                f"{rank} AS rank" if col == "rank" and rank else quote(col) for col in chosen
            ]
            order: list[str] = []
            for item in sort or []:
                col, direction = _parse_sort(item, available)
                order.append(f"{rank if col == 'rank' and rank else quote(col)} {direction}")
            if not order and not distinct:
                order = [f"{rank} DESC", "_id"] if rank else ["_id"]
            select = "SELECT DISTINCT" if distinct else "SELECT"
            sql = f"{select} {', '.join(selected) or '1'} FROM {source} {where}"
            if order:
                sql += " ORDER BY " + ", ".join(order)
            sql += " LIMIT :_limit OFFSET :_offset"
            rows = conn.execute(sa.text(sql), {**params, "_limit": limit, "_offset": offset})
            readers = [
                self.readers.get(available[col], _same) if col != "rank" else _same
                for col in chosen
            ]
            converted = [[read(v) for read, v in zip(readers, row, strict=True)] for row in rows]
            if records_format == "lists":
                records: list[t.Any] = converted
            else:
                records = [dict(zip(chosen, row, strict=True)) for row in converted]
            result: dict[str, t.Any] = {
                "fields": [_field_out(table, col, available) for col in chosen],
                "records": records,
            }
            estimate = None
            if include_total and len(records) < limit and (records or offset == 0):
                # the last page: the rows before it and on it are all there are
                result["total"] = offset + len(records)
                result["total_was_estimated"] = False
                return result
            if include_total and total_estimation_threshold is not None and not distinct:
                estimate = self._estimated_rows(conn, f"SELECT 1 FROM {source} {where}", params)
            if estimate is not None and estimate >= (total_estimation_threshold or 0):
                result["total"] = estimate
                result["total_was_estimated"] = True
            elif include_total:
                if distinct:
                    count_sql = (
                        f"SELECT COUNT(*) FROM (SELECT DISTINCT {', '.join(selected) or '1'} "
                        f"FROM {source} {where}) AS _d"
                    )
                else:
                    count_sql = f"SELECT COUNT(*) FROM {source} {where}"
                result["total"] = conn.execute(sa.text(count_sql), params).scalar_one()
                result["total_was_estimated"] = False
            return result

    def _estimated_rows(
        self, conn: sa.Connection, sql: str, params: dict[str, t.Any]
    ) -> int | None:
        """The planner's estimate of the rows ``sql`` gives (PostgreSQL), else None."""
        if self.sqlite:
            return None
        plan = conn.execute(sa.text(f"EXPLAIN (FORMAT JSON) {sql}"), params).scalar_one()
        if isinstance(plan, str):
            plan = json.loads(plan)
        try:
            return int(plan[0]["Plan"]["Plan Rows"])
        except (LookupError, TypeError, ValueError):
            return None

    # -- info and dump ---------------------------------------------------------

    def info(self, resource_id: str) -> dict[str, t.Any]:
        q = ty.quote
        with self.connect(read_only=True) as conn:
            table = self.require(conn, resource_id)
            count = conn.exec_driver_sql(f"SELECT COUNT(*) FROM {q(resource_id)}").scalar_one()
            native = self._native_types(conn, resource_id)
        indexed = {col for ix in table.indexes for col in ix} | set(table.primary_key)
        fields = []
        for f in table.fields:
            item = {"id": f["id"], "type": f["type"]}
            if "info" in f:
                item["info"] = f["info"]
            item["schema"] = {
                "native_type": native.get(f["id"], ty.SQL_TYPES[self.dialect][f["type"]]),
                "notnull": False,
                "index_name": _hashed(resource_id, "pk") if f["id"] in table.primary_key else None,
                "is_index": f["id"] in indexed,
                "uniquekey": f["id"] in table.primary_key,
            }
            fields.append(item)
        return {
            "meta": {
                "id": resource_id,
                "count": count,
                "table_type": "BASE TABLE",
                "aliases": [],
                "primary_key": list(table.primary_key),
                "indexes": [list(ix) for ix in table.indexes],
            },
            "fields": fields,
        }

    def _native_types(self, conn: sa.Connection, resource_id: str) -> dict[str, str]:
        if self.sqlite:
            rows = conn.exec_driver_sql(f"PRAGMA table_info({ty.quote(resource_id)})")
            return {str(row[1]): str(row[2]).lower() for row in rows}
        rows = conn.execute(
            sa.text(
                "SELECT column_name, udt_name FROM information_schema.columns "
                "WHERE table_name = :t AND table_schema = current_schema()"
            ),
            {"t": resource_id},
        )
        return {str(row[0]): str(row[1]) for row in rows}

    def dump(self, resource_id: str, batch: int = 5000) -> c.Iterator[list[t.Any]]:
        """The header (field ids), then every row in ``_id`` order, JSON-ready."""
        q = ty.quote
        with self.connect(read_only=True) as conn:
            table = self.require(conn, resource_id)
            cols = [f["id"] for f in table.fields]
            yield cols
            readers = [self.readers[f["type"]] for f in table.fields]
            select = ", ".join(["_id", *(q(col) for col in cols)])
            last = None
            while True:
                params: dict[str, t.Any] = {"n": batch}
                where = ""
                if last is not None:
                    where, params["last"] = "WHERE _id > :last", last
                rows = conn.execute(
                    sa.text(f"SELECT {select} FROM {q(resource_id)} {where} ORDER BY _id LIMIT :n"),
                    params,
                ).all()
                if not rows:
                    return
                for row in rows:
                    yield [read(v) for read, v in zip(readers, row[1:], strict=True)]
                last = rows[-1][0]


def _same(value: t.Any) -> t.Any:
    return value


_COPY_TYPES = {
    "text": "text",
    "int": "int8",
    "numeric": "numeric",
    "float": "float8",
    "bool": "bool",
    "date": "date",
    "timestamp": "timestamp",
    "json": "text",
}
"""PostgreSQL types of binary COPY (json is staged as text, then cast)."""


def _field_out(table: Table, col: str, available: dict[str, str]) -> dict[str, t.Any]:
    for f in table.fields:
        if f["id"] == col:
            return {k: f[k] for k in ("id", "type", "info") if k in f}
    return {"id": col, "type": available[col]}


_SORT = re.compile(r"(?P<col>.+?)(?:\s+(?P<dir>asc|desc))?", re.IGNORECASE)


def _parse_sort(item: str, available: dict[str, str]) -> tuple[str, str]:
    text = item.strip()
    candidate = text.strip('"')
    if candidate in available:
        return candidate, "ASC"
    match = _SORT.fullmatch(text)
    if match:
        col = match.group("col").strip().strip('"')
        if col in available:
            return col, (match.group("dir") or "asc").upper()
    _invalid("sort", item)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _db_message(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


@dataclass
class _Run:
    columns: list[str]
    key: list[str]
    rows: list[tuple[t.Any, ...]]
    numbers: list[int]


class _RowFailed(Exception):
    """A batch failed in the database; :meth:`locate` finds the row and why."""

    def __init__(self, table: Table, runs: list[_Run], method: str, exc: BaseException) -> None:
        super().__init__(str(exc))
        self.table, self.runs, self.method, self.exc = table, runs, method, exc

    def locate(self, backend: Backend) -> tk.ValidationError:
        """Replay the rows one by one in a transaction that is rolled back, and
        report the first that fails (or the batch's error, if none does)."""
        try:
            with backend.engine.connect() as conn, conn.begin() as txn:
                try:
                    for run in self.runs:
                        sql, order = backend._row_sql(self.table, run, self.method)
                        for number, row in zip(run.numbers, run.rows, strict=True):
                            try:
                                with conn.begin_nested():
                                    conn.exec_driver_sql(sql, tuple(order(row)))
                            except Exception as exc:
                                return tk.ValidationError(
                                    {
                                        "records": [f'row "{number}": {_db_message(exc)}'],
                                        "records_row": number,
                                    }
                                )
                finally:
                    txn.rollback()
        except sa.exc.SQLAlchemyError:
            log.exception("datastore: could not locate the failing row")
        return tk.ValidationError({"records": [_db_message(self.exc)]})
