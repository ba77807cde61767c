"""Read caches of built documents: datasets as ``package_show`` gives them,
and ``package_search`` answers.

Correctness rests on the dataset revision (:mod:`heliograph.model.revision`):

- **Never stale.** A reader reads the revision token first, then builds from
  the rows; the entry is kept under that token. A cache holds entries of one
  token only: a lookup under another token (a write committed since, in this
  process or any other) empties it first. Every commit that writes a tracked
  table changes the token in its own transaction, and in this process empties
  the caches right after. A session holding its own uncommitted writes
  neither reads nor fills a cache (:func:`token` is None).
- **Never unauthorised.** A dataset entry is the document alone, the same for
  everyone; whoever asks still passes ``package_show``'s auth function, fed
  the entry's permission labels (:meth:`Entry.labels`). A search answer
  depends on who asks, so its key holds the caller's permission labels.
- **Bounded.** Each cache holds at most ``max_bytes`` of documents (their
  marshalled size), least recently used out first; ``0`` turns it off
  (``heliograph.cache.datasets_mb``, ``heliograph.cache.searches_mb``).

Documents are kept marshalled (:mod:`marshal`, exact for the JSON types), so
every hit hands out a fresh copy its caller may change freely.
"""

from __future__ import annotations

import collections
import marshal
import threading
import typing as t
from dataclasses import dataclass

from heliograph import model
from heliograph.config import config

__all__ = ["Cache", "Entry", "datasets", "searches", "token"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One kept document: its key, the other keys it is found by, and its bytes."""

    key: t.Hashable
    blob: bytes
    aliases: tuple[t.Hashable, ...] = ()
    labels: tuple[str, ...] = ()
    """The permission labels of a dataset document."""

    def document(self) -> t.Any:
        """A fresh copy of the document."""
        return marshal.loads(self.blob)


class Cache:
    """A bounded LRU of marshalled documents, all built under one revision token."""

    def __init__(self, setting: str, default_mb: float) -> None:
        self.setting = setting
        self.default_mb = default_mb
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[t.Hashable, Entry] = collections.OrderedDict()
        self._aliases: dict[t.Hashable, t.Hashable] = {}
        self._token: str | None = None
        self._limit: tuple[t.Any, int] | None = None
        self.size = 0
        """Bytes held (the marshalled documents)."""
        self.hits = 0
        self.misses = 0

    @property
    def max_bytes(self) -> int:
        raw = config.get(self.setting, self.default_mb)
        read = self._limit
        if read is not None and read[0] is raw:
            return read[1]  # the setting as it was last read
        try:
            megabytes = float(raw)
        except (TypeError, ValueError):
            megabytes = self.default_mb
        limit = max(0, int(megabytes * 1024 * 1024))
        self._limit = (raw, limit)
        return limit

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        self._entries.clear()
        self._aliases.clear()
        self.size = 0
        self._token = None

    def get(self, token: str, key: t.Hashable) -> Entry | None:
        """The entry under ``key`` (or an alias of it) built under ``token``."""
        with self._lock:
            if token != self._token:
                self._clear()
                self._token = token
                self.misses += 1
                return None
            entry = self._entries.get(key)
            if entry is None:
                main = self._aliases.get(key)
                entry = None if main is None else self._entries.get(main)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(entry.key)
            self.hits += 1
            return entry

    def put(
        self,
        token: str,
        key: t.Hashable,
        document: t.Any,
        aliases: t.Iterable[t.Hashable] = (),
        labels: t.Iterable[str] = (),
    ) -> Entry | None:
        """Keep ``document`` under ``key`` (and ``aliases``), built under
        ``token``; None when it is not kept (caching off, too big, not
        marshallable)."""
        limit = self.max_bytes
        if not limit:
            return None
        try:
            blob = marshal.dumps(_plain_strings(document, {}))
        except ValueError:
            return None
        if len(blob) > limit:
            return None
        entry = Entry(key, blob, tuple(aliases), tuple(labels))
        with self._lock:
            if token != self._token:
                self._clear()
                self._token = token
            self._drop(key)
            for alias in entry.aliases:
                main = self._aliases.get(alias)
                if main is not None:
                    self._drop(main)
            self._entries[key] = entry
            for alias in entry.aliases:
                self._aliases[alias] = key
            self.size += len(blob)
            while self.size > limit and self._entries:
                self._drop(next(iter(self._entries)))
        return entry

    def _drop(self, key: t.Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self.size -= len(entry.blob)
        for alias in entry.aliases:
            if self._aliases.get(alias) == key:
                del self._aliases[alias]


def _plain_strings(value: t.Any, made: dict[str, str]) -> t.Any:
    """``value`` with each of its strings (keys too) a plain copy, one per
    distinct text. marshal then writes a text once, referring back to it, and
    reads it back without interning it: a document is copied in about three
    quarters of the time (the interning lookups of its keys were the rest)."""
    kind = type(value)
    if kind is str:
        plain = made.get(value)
        if plain is None:
            plain = made[value] = value.encode("utf-8", "surrogatepass").decode(
                "utf-8", "surrogatepass"
            )
        return plain
    if kind is dict:
        return {_plain_strings(k, made): _plain_strings(v, made) for k, v in value.items()}
    if kind is list:
        return [_plain_strings(v, made) for v in value]
    if kind is tuple:
        return tuple(_plain_strings(v, made) for v in value)
    return value


datasets = Cache("heliograph.cache.datasets_mb", 32.0)
"""Dataset documents by id (and name)."""

searches = Cache("heliograph.cache.searches_mb", 16.0)
"""package_search answers by the caller's labels and the parameters."""

model.revision.on_commit(datasets.clear)
model.revision.on_commit(searches.clear)


def token(session: t.Any) -> str | None:
    """The revision token a read in ``session`` works under, with the site
    URL the documents embed; None when caching cannot be used."""
    value = model.revision.current_token(session, unless_written=True)
    if value is None:
        return None
    return f"{value}|{config.get('heliograph.site_url') or ''}"
