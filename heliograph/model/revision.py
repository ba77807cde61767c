"""The dataset revision: a token that changes with every write a dataset's
document could show.

Every ORM session is watched (SQLAlchemy session events, for all sessions of
the process): a flush that adds, changes or deletes a row of a table listed in
:data:`TRACKED`, and any UPDATE, DELETE or INSERT (or raw SQL other than a
SELECT) run through a session, mark the session's transaction; committing a
marked transaction first writes a new random token into ``dataset_revision``,
in that same transaction. So the token a reader sees changes exactly when such
a write becomes visible, in this process and in every other one sharing the
database.

A read cache reads :func:`current_token` *before* the rows it builds from and
keeps what it built under that token; whatever it holds under another token
is stale. :func:`has_written` tells a reader that its own session holds
uncommitted writes, whose results must neither come from nor go into a cache.
Callbacks given to :func:`on_commit` run after a marked transaction commits
(the in-process caches drop their entries there at once).
"""

from __future__ import annotations

import collections.abc as c
import contextlib
import threading
import typing as t
import uuid

from sqlalchemy import Engine, create_engine, event, insert, update
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import TextClause

from heliograph.model.tables import DatasetRevision

TRACKED = frozenset(
    {"package", "resource", "package_extra", "package_tag", "tag", "group", "member"}
)
"""The tables package_show's document (and a search's results) is built from."""

_MARK = "heliograph_dataset_written"
_READ_ONLY_SQL = ("SELECT", "PRAGMA", "SHOW", "EXPLAIN")
_TOKEN_SQL = "SELECT token FROM dataset_revision WHERE id = 1"

_committed: list[c.Callable[[], None]] = []


def on_commit(callback: c.Callable[[], None]) -> None:
    """Call ``callback()`` after every commit of a marked transaction."""
    if callback not in _committed:
        _committed.append(callback)


def current_token(session: t.Any, *, unless_written: bool = False) -> str | None:
    """The token as a read in ``session`` must see it (None without the row;
    None too with ``unless_written`` when the session holds writes of its own,
    see :func:`has_written`).

    Inside a transaction it is read there (the snapshot the rows will come
    from). Before one, it is read on a connection of this thread's own kept
    for the purpose, in autocommit: the session's transaction then starts
    later and sees at least what the token stands for - and a cache hit
    needs no session connection at all.
    """
    real = _session_of(session)
    if unless_written and real is not None and _written(real):
        return None
    if real is None or not real.in_transaction():
        bind = real.get_bind() if real is not None else _factory_bind(session)
        if isinstance(bind, Engine):
            value = _read_on_own_connection(bind)
            if value is not _FAILED:
                return t.cast("str | None", value)
    value = session.connection().exec_driver_sql(_TOKEN_SQL).scalar()
    return None if value is None else str(value)


_FAILED = object()
_own = threading.local()
_token_engines: dict[int, Engine] = {}
_token_engines_lock = threading.Lock()


def _read_on_own_connection(engine: Engine) -> object:
    if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
        return _FAILED  # another connection would open another database
    connections: dict[int, t.Any] = _own.__dict__.setdefault("connections", {})
    key = id(engine)
    kept = connections.get(key)  # (connection, its reader), kept for the thread
    try:
        if kept is None:
            connection = _connect(engine)
            kept = connections[key] = (connection, _reader(connection))
        return kept[1]()
    except Exception:  # a dropped connection, a missing table: the session's way then
        connections.pop(key, None)
        with contextlib.suppress(Exception):
            if kept is not None:
                kept[0].close()
        return _FAILED


_TOKEN_STATEMENT = b"heliograph_revision_token"


def _reader(connection: t.Any) -> c.Callable[[], str | None]:
    """A function reading the token on ``connection`` (a DBAPI connection of
    ``_connect``); it raises when the read fails.

    On psycopg 3 the query is a prepared statement run through libpq itself
    (the connection's ``pgconn``): psycopg's cursor costs twice the CPU of
    the round trip for a one-value answer."""
    pgconn = getattr(connection.driver_connection, "pgconn", None)
    if pgconn is not None:
        from psycopg import pq

        def checked(result: t.Any) -> t.Any:
            if result.status not in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
                message = result.error_message.decode("utf-8", "replace").strip()
                raise RuntimeError(f"reading the dataset revision failed: {message}")
            return result

        checked(pgconn.prepare(_TOKEN_STATEMENT, _TOKEN_SQL.encode()))

        def read_libpq() -> str | None:
            result = checked(pgconn.exec_prepared(_TOKEN_STATEMENT, []))
            value = result.get_value(0, 0) if result.ntuples else None
            return None if value is None else bytes(value).decode("ascii")

        return read_libpq
    cursor = connection.cursor()

    def read() -> str | None:
        cursor.execute(_TOKEN_SQL)
        rows = cursor.fetchall()  # to the end: no statement stays open on the connection
        return None if not rows or rows[0][0] is None else str(rows[0][0])

    return read


def _connect(engine: Engine) -> t.Any:
    """A DBAPI connection in autocommit to ``engine``'s database, outside its
    pool (so that it takes none of the pool's connections)."""
    with _token_engines_lock:
        own = _token_engines.get(id(engine))
        if own is None:
            own = _token_engines[id(engine)] = create_engine(engine.url, poolclass=NullPool)
    connection = own.raw_connection()
    driver = connection.driver_connection
    if engine.dialect.name == "sqlite":
        driver.isolation_level = None  # type: ignore[union-attr]
    else:
        driver.autocommit = True  # type: ignore[union-attr]
    return connection


def _factory_bind(scoped: t.Any) -> t.Any:
    """The bind a scoped session's factory gives its sessions (made none yet)."""
    factory = getattr(scoped, "session_factory", None)
    bind = getattr(factory, "kw", {}).get("bind")
    return bind if bind is not None else scoped.get_bind()


def _session_of(session: t.Any) -> Session | None:
    if isinstance(session, Session):
        return session
    registry = getattr(session, "registry", None)  # a scoped session: this thread's
    if registry is None or not registry.has():
        return None
    return t.cast(Session, session())


def has_written(session: t.Any) -> bool:
    """Whether ``session`` holds writes not yet committed (flushed or pending)."""
    real = _session_of(session)
    return real is not None and _written(real)


def _written(session: Session) -> bool:
    return bool(session.info.get(_MARK) or session.new or session.deleted or session.dirty)


def _mark(session: Session) -> None:
    session.info[_MARK] = True


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush_context: t.Any) -> None:
    if session.info.get(_MARK):
        return
    for objects in (session.new, session.dirty, session.deleted):
        for obj in objects:
            if getattr(obj, "__tablename__", None) in TRACKED:
                _mark(session)
                return


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if state.is_select or state.session.info.get(_MARK):
        return
    statement = state.statement
    if isinstance(statement, UpdateBase):
        table = getattr(statement, "table", None)
        if table is not None and getattr(table, "name", None) not in TRACKED:
            return  # another table (the revision's own among them)
    elif isinstance(statement, TextClause) and statement.text.lstrip()[:7].upper().startswith(
        _READ_ONLY_SQL
    ):
        return
    _mark(state.session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.new or session.deleted or session.dirty:
        session.flush()  # the commit's own flush, so that what it writes counts
    if not session.info.get(_MARK):
        return
    token = uuid.uuid4().hex
    with session.no_autoflush:
        result = session.execute(update(DatasetRevision).values(token=token))
        if getattr(result, "rowcount", 1) == 0:
            session.execute(insert(DatasetRevision).values(id=1, token=token))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_MARK, None):
        for callback in list(_committed):
            callback()


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost: committed or rolled back
        session.info.pop(_MARK, None)
