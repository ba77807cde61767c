"""What both datastore databases share: the table descriptions, checking and
converting records, filters, search, info and dump.

:class:`Backend` leaves to each database (:mod:`.sqlite`, :mod:`.postgres`)
what only it does: its column definitions, how a run of rows is written, its
full-text index and how a search matches it, and its native column types.
"""

from __future__ import annotations

import collections.abc as c
import hashlib
import json
import logging
import operator
import re
import typing as t
from dataclasses import dataclass, field

import sqlalchemy as sa

import heliograph.plugins.toolkit as tk
from heliograph.ext.datastore import types as ty

log = logging.getLogger(__name__)

META = "_heliograph_datastore"
READ_ONLY = "heliograph_datastore_read_only"
"""Execution option of a connection that only reads (a deferred BEGIN on SQLite)."""
URL_KEY = "heliograph.datastore.url"
LANGUAGE = "english"


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


def hashed_name(resource_id: str, suffix: str) -> str:
    return f"_hg_{hashlib.sha1(resource_id.encode()).hexdigest()[:16]}_{suffix}"


def _invalid(key: str, value: t.Any) -> t.NoReturn:
    raise tk.ValidationError({key: [f'invalid value "{value}"']})


class Backend:
    """The datastore tables of one database."""

    dialect: t.ClassVar[str]
    PLACEHOLDER: t.ClassVar[str]
    """The DB-API parameter marker of the driver."""
    ID_COLUMN: t.ClassVar[str]
    FULL_TEXT_COLUMN: t.ClassVar[str]

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.writers = ty.writers(self.dialect)
        self.readers = ty.readers(self.dialect)
        with engine.begin() as conn:
            conn.exec_driver_sql(
                f"CREATE TABLE IF NOT EXISTS {META} (resource_id VARCHAR(100) PRIMARY KEY, "
                "fields TEXT NOT NULL, primary_key TEXT NOT NULL, indexes TEXT NOT NULL)"
            )
            self.fts = self._has_full_text(conn)

    def connect(self, read_only: bool = False) -> sa.Connection:
        """A connection to the datastore; ``read_only`` ones never wait for a
        writer on SQLite (deferred BEGIN, WAL)."""
        conn = self.engine.connect()
        if read_only:
            conn.execution_options(**{READ_ONLY: True})
        return conn

    # -- what each database does its own way ---------------------------------------

    def _has_full_text(self, conn: sa.Connection) -> bool:
        """Whether this database has a full-text engine."""
        raise NotImplementedError

    def _create_full_text(self, conn: sa.Connection, resource_id: str) -> None:
        """Make the full-text index of a new table."""
        raise NotImplementedError

    def _drop_full_text(self, conn: sa.Connection, resource_id: str) -> None:
        """Drop what the full-text index keeps beside a table being dropped."""

    def _delete_full_text(
        self, conn: sa.Connection, resource_id: str, where: str, params: dict[str, t.Any]
    ) -> None:
        """Forget the full text of the rows ``where`` picks, before they are deleted."""

    def _refresh_full_text(self, conn: sa.Connection, table: Table) -> None:
        """Index the rows whose full text is stale (``_full_text`` NULL)."""
        raise NotImplementedError

    def _match_full_text(
        self,
        resource_id: str,
        words: list[str],
        source: str,
        where: str,
        params: dict[str, t.Any],
    ) -> tuple[str, str, str]:
        """The ``FROM`` source, ``WHERE`` clause and rank expression of a search
        for rows holding ``words`` (binding its parameters in ``params``)."""
        raise NotImplementedError

    def _typed_bind(self, kind: str | None, bind: str) -> str:
        """The SQL for parameter ``bind`` written to a column of type ``kind``."""
        return bind

    def _write_run(self, conn: sa.Connection, table: Table, run: Run, method: str) -> None:
        """Write the converted rows of ``run`` with one statement (or a few)."""
        raise NotImplementedError

    def _native_types(self, conn: sa.Connection, resource_id: str) -> dict[str, str]:
        """The database's own name of each column's type."""
        raise NotImplementedError

    def _estimated_rows(
        self, conn: sa.Connection, sql: str, params: dict[str, t.Any]
    ) -> int | None:
        """The planner's estimate of the rows ``sql`` gives, or None without one."""
        return None

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
                        [self.ID_COLUMN, self.FULL_TEXT_COLUMN]
                        + [f"{q(f['id'])} {sql_types[f['type']]}" for f in fields]
                    )
                    conn.exec_driver_sql(f"CREATE TABLE {q(resource_id)} ({columns})")
                    self._create_full_text(conn, resource_id)
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
                        name = hashed_name(
                            resource_id, "ix_" + hashed_name("|".join(index), "")[4:12]
                        )
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
        name = q(hashed_name(table.resource_id, "pk"))
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

    def _runs(self, table: Table, records: list[t.Any], method: str) -> list[Run]:
        """Check and convert ``records``; consecutive records with the same keys
        form one run, converted column by column and written with one statement."""
        runs: list[Run] = []
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
    ) -> Run:
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
        return Run(columns, key, rows, list(range(start + 1, stop + 1)))

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

    def _row_sql(self, table: Table, run: Run, method: str) -> tuple[str, c.Callable[..., t.Any]]:
        """The statement writing one row of ``run`` and how to order its parameters."""
        q = ty.quote
        types = table.types
        ph = self.PLACEHOLDER

        def value(col: str) -> str:
            return self._typed_bind(types.get(col), ph)

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

    def _key_not_found(self, conn: sa.Connection, table: Table, run: Run) -> t.NoReturn:
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
                self._drop_full_text(conn, resource_id)
                conn.execute(
                    sa.text(f"DELETE FROM {META} WHERE resource_id = :rid"), {"rid": resource_id}
                )
                return None
            where, params = self._where(table, filters, None)
            self._delete_full_text(conn, resource_id, where, params)
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
                binds.append(self._typed_bind(types[col], f":{name}"))
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
        distinct: bool = False,
        records_format: str = "objects",
        total_estimation_threshold: int | None = None,
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
                source, where, rank = self._match_full_text(
                    resource_id, words, source, where, params
                )
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
                "index_name": hashed_name(resource_id, "pk")
                if f["id"] in table.primary_key
                else None,
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
class Run:
    columns: list[str]
    key: list[str]
    rows: list[tuple[t.Any, ...]]
    numbers: list[int]


class _RowFailed(Exception):
    """A batch failed in the database; :meth:`locate` finds the row and why."""

    def __init__(self, table: Table, runs: list[Run], method: str, exc: BaseException) -> None:
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
