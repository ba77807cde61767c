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

The shared writing, conversion and search live in :mod:`.base`; what only
SQLite does in :mod:`.sqlite` (``executemany``, FTS5), what only PostgreSQL
does in :mod:`.postgres` (``COPY``, staging tables, ``tsvector``).
"""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa

import heliograph.plugins.toolkit as tk
from heliograph.ext.datastore.backend import postgres, sqlite
from heliograph.ext.datastore.backend.base import LANGUAGE, META, READ_ONLY, URL_KEY, Backend, Table
from heliograph.ext.datastore.backend.postgres import PostgresBackend
from heliograph.ext.datastore.backend.sqlite import SqliteBackend

__all__ = [
    "LANGUAGE",
    "META",
    "READ_ONLY",
    "URL_KEY",
    "Backend",
    "PostgresBackend",
    "SqliteBackend",
    "Table",
    "backend_for",
    "configured_url",
    "dispose_all",
    "get_backend",
]

BACKENDS: dict[str, type[Backend]] = {"sqlite": SqliteBackend, "postgresql": PostgresBackend}
"""The backend class of each supported SQLAlchemy dialect."""

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
            backend = _backends[url] = backend_for(_make_engine(url))
        return backend


def dispose_all() -> None:
    """Close every engine (tests, and the end of a command)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _backends.clear()


def backend_for(engine: sa.Engine) -> Backend:
    """The backend of ``engine``'s database; an unsupported database raises
    ``toolkit.ValidationError`` naming ``heliograph.datastore.url``."""
    cls = BACKENDS.get(engine.dialect.name)
    if cls is None:
        raise tk.ValidationError(
            {URL_KEY: [f"the datastore supports SQLite and PostgreSQL, not {engine.dialect.name}"]}
        )
    return cls(engine)


def _make_engine(url: str) -> sa.Engine:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sqlite.make_engine(parsed)
    else:
        engine = postgres.make_engine(parsed)
    _engines[url] = engine
    return engine
