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
import select
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
    _own.read = True
    reader = _own_reader(engine)
    if reader is None:
        return _FAILED
    try:
        return reader.read()
    except Exception:  # a dropped connection, a missing table: the session's way then
        _drop_own(id(engine))
        return _FAILED


def _own_reader(engine: Engine) -> _Reader | None:
    """This thread's reader of ``engine``'s token (made on first use), or None
    where an own connection cannot serve."""
    if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
        return None  # another connection would open another database
    readers: dict[int, _Reader] = _own.__dict__.setdefault("readers", {})
    reader = readers.get(id(engine))
    if reader is None:
        try:
            reader = readers[id(engine)] = _Reader(_connect(engine))
        except Exception:
            return None
    return reader


def _drop_own(key: int) -> None:
    """Forget and close this thread's reader of the engine of id ``key``."""
    readers: dict[int, _Reader] = _own.__dict__.setdefault("readers", {})
    reader = readers.pop(key, None)
    if reader is not None:
        with contextlib.suppress(Exception):
            reader.connection.close()


def prefetch(engine: Engine) -> None:
    """Send the query for ``engine``'s token on this thread's own connection
    without waiting for the answer, where the driver allows it (libpq).

    The next :func:`current_token` of this thread that reads on that
    connection takes the answer instead of asking again, so the round trip
    overlaps whatever the thread does in between. Call it as a unit of work
    that will read the token starts (a request) and call :func:`settle` as it
    ends: the answer is never used after that. A commit of this thread that
    writes a tracked table discards the answer too (it predates the write).
    Nothing is sent on other databases; on a dropped connection the read
    happens as usual."""
    reader = _own_reader(engine)
    if reader is None:
        return
    try:
        reader.send()
    except Exception:
        _drop_own(id(engine))


def settle() -> bool:
    """End this thread's prefetches (see :func:`prefetch`): an answer not
    taken is read off its connection and dropped. True when the thread read
    a token on an own connection since the last ``settle`` (what a caller
    learns which work needs the token from)."""
    own = _own.__dict__
    read = bool(own.pop("read", False))
    readers: dict[int, _Reader] | None = own.get("readers")
    if readers:
        for key, reader in list(readers.items()):
            if reader.pending:
                try:
                    reader.receive()
                except Exception:
                    _drop_own(key)
    return read


def _discard_prefetched() -> None:
    for reader in (_own.__dict__.get("readers") or {}).values():
        reader.fresh = False


_TOKEN_STATEMENT = b"heliograph_revision_token"


class _Reader:
    """Reads the token on ``connection`` (a DBAPI connection of
    ``_connect``); ``read`` raises when the read fails.

    On psycopg 3 the query is a prepared statement run through libpq itself
    (the connection's ``pgconn``): psycopg's cursor costs twice the CPU of
    the round trip for a one-value answer. There the query can also be sent
    ahead (``send``) and its answer taken later: waiting happens in
    ``select`` (the GIL released), and only once the answer is whole is it
    taken off the connection.
    """

    __slots__ = ("connection", "cursor", "fresh", "pending", "pgconn")

    def __init__(self, connection: t.Any) -> None:
        self.connection = connection
        self.pending = False
        """A query was sent and its answer not taken yet."""
        self.fresh = False
        """The pending answer may still be used (see :func:`prefetch`)."""
        self.pgconn = getattr(connection.driver_connection, "pgconn", None)
        self.cursor: t.Any = None
        if self.pgconn is not None:
            _checked(self.pgconn.prepare(_TOKEN_STATEMENT, _TOKEN_SQL.encode()))
        else:
            self.cursor = connection.cursor()

    def read(self) -> str | None:
        if self.pending:
            fresh = self.fresh
            value = self.receive()
            if fresh:
                return value
        if self.pgconn is not None:
            return _token_of(_checked(self.pgconn.exec_prepared(_TOKEN_STATEMENT, [])))
        cursor = self.cursor
        cursor.execute(_TOKEN_SQL)
        rows = cursor.fetchall()  # to the end: no statement stays open on the connection
        return None if not rows or rows[0][0] is None else str(rows[0][0])

    def send(self) -> None:
        if self.pgconn is None or self.pending:
            return
        self.pgconn.send_query_prepared(_TOKEN_STATEMENT, [])
        self.pending = self.fresh = True

    def receive(self) -> str | None:
        """The answer to the query sent, taken off the connection."""
        pgconn = self.pgconn
        assert pgconn is not None
        self.pending = self.fresh = False
        first = None
        while True:
            if pgconn.is_busy():  # read the socket only while the answer is not whole
                pgconn.consume_input()
                if pgconn.is_busy():
                    select.select([pgconn.socket], [], [])
                    continue
            result = pgconn.get_result()
            if result is None:
                break
            if first is None:
                first = result
        return _token_of(_checked(first))


_ANSWERED = (2, 1)  # libpq's PGRES_TUPLES_OK and PGRES_COMMAND_OK (psycopg's pq.ExecStatus)


def _checked(result: t.Any) -> t.Any:
    if result is None or result.status not in _ANSWERED:
        message = "no answer" if result is None else result.error_message.decode("utf-8", "replace")
        raise RuntimeError(f"reading the dataset revision failed: {message.strip()}")
    return result


def _token_of(result: t.Any) -> str | None:
    value = result.get_value(0, 0) if result.ntuples else None
    return None if value is None else bytes(value).decode("ascii")


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
        _discard_prefetched()
        for callback in list(_committed):
            callback()


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost: committed or rolled back
        session.info.pop(_MARK, None)
