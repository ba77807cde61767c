"""The Redis Streams broker.

Layout in Redis, for namespace ``ns`` and ``P`` partitions:

- ``ns:events:{p}``: one stream per partition; an entry holds the event's
  JSON in field ``e``. Entries are never trimmed implicitly (see
  :meth:`RedisStreamsBroker.trim`).
- one consumer group per receiver on every partition stream, named by the
  receiver's dotted path, created at id ``0`` (``MKSTREAM``), so it reads
  everything the stream holds.
- ``ns:lease:{p}``: the consumer holding partition ``p`` (``SET NX PX``,
  renewed by compare-and-``PEXPIRE``).
- ``ns:consumers``: a sorted set of live consumers scored by the server time
  their heartbeat expires; a consumer's fair share of partitions is
  ``ceil(P / live consumers)``.

Leases and fetches run as Lua scripts, so each is one atomic round trip:
``acquire`` heartbeats, renews, gives away surplus and takes free partitions;
``fetch`` first claims (``XAUTOCLAIM``) every entry of the partitions it is
given that was delivered and never acknowledged (the caller holds their lease,
so no one else is working on them), with their delivery count (the attempt)
from ``XPENDING``, then reads new entries with ``XREADGROUP``, sharing
``count`` among the partitions.
"""

from __future__ import annotations

import collections.abc as c
import time
import typing as t
import urllib.parse

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from heliograph.events.broker import Broker, BrokerError, Delivery, WireEvent, partition_of

FIELD = b"e"
PUBLISH_BATCH = 1000
MAX_BLOCK_MS = 20_000
PRUNE_IDLE_MS = 3_600_000

_ACQUIRE = """
local consumer = ARGV[1]
local lease = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZADD', KEYS[1], now + lease, consumer)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local live = redis.call('ZCARD', KEYS[1])
local parts = #KEYS - 1
local share = math.ceil(parts / live)
local held = {}
for p = 1, parts do
  if redis.call('GET', KEYS[p + 1]) == consumer then
    redis.call('PEXPIRE', KEYS[p + 1], lease)
    held[#held + 1] = p - 1
  end
end
while #held > share do
  local p = table.remove(held)
  redis.call('DEL', KEYS[p + 2])
end
if #held < share then
  for p = 1, parts do
    if #held >= share then break end
    if redis.call('SET', KEYS[p + 1], consumer, 'NX', 'PX', lease) then
      held[#held + 1] = p - 1
    end
  end
  table.sort(held)
end
return held
"""

# KEYS: the consumers set, the P leases, the P streams. Gives up the leases,
# then removes the consumer from every group where it holds nothing pending,
# and other consumers idle longer than ARGV[2] ms with nothing pending.
_RELEASE = """
local consumer = ARGV[1]
local prune_idle = tonumber(ARGV[2])
local parts = (#KEYS - 1) / 2
for p = 2, parts + 1 do
  if redis.call('GET', KEYS[p]) == consumer then
    redis.call('DEL', KEYS[p])
  end
end
redis.call('ZREM', KEYS[1], consumer)
for k = parts + 2, #KEYS do
  if redis.call('EXISTS', KEYS[k]) == 1 then
    for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[k])) do
      local group
      for i = 1, #g, 2 do if g[i] == 'name' then group = g[i + 1] end end
      for _, row in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[k], group)) do
        local info = {}
        for i = 1, #row, 2 do info[row[i]] = row[i + 1] end
        if info['pending'] == 0 and (info['name'] == consumer or info['idle'] > prune_idle) then
          redis.call('XGROUP', 'DELCONSUMER', KEYS[k], group, info['name'])
        end
      end
    end
  end
end
return 0
"""

# Returns {flat, last}: flat is (index, id, data, deliveries) repeated, last the
# last entry id of every stream when nothing was found (for a blocking wait).
_FETCH = """
local group = ARGV[1]
local consumer = ARGV[2]
local remaining = tonumber(ARGV[3])
local n = #KEYS
local out = {}
local function data_of(fields)
  if not fields then return false end
  for i = 1, #fields, 2 do
    if fields[i] == 'e' then return fields[i + 1] end
  end
  return false
end
for k = 1, n do
  if remaining <= 0 then break end
  local summary = redis.call('XPENDING', KEYS[k], group)
  if summary[1] > 0 then
    local claimed = redis.call('XAUTOCLAIM', KEYS[k], group, consumer, 0, '0-0', 'COUNT', remaining)
    local entries = claimed[2]
    if #entries > 0 then
      local counts = {}
      local first = entries[1][1]
      local last = entries[#entries][1]
      local rows = redis.call('XPENDING', KEYS[k], group, first, last, #entries, consumer)
      for _, row in ipairs(rows) do
        counts[row[1]] = row[4]
      end
      for _, entry in ipairs(entries) do
        out[#out + 1] = k - 1
        out[#out + 1] = entry[1]
        out[#out + 1] = data_of(entry[2])
        out[#out + 1] = counts[entry[1]] or 1
      end
      remaining = remaining - #entries
    end
  end
end
local function read(k, wanted)
  local reply = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', wanted,
                           'STREAMS', KEYS[k], '>')
  if not reply then return 0 end
  local entries = reply[1][2]
  for _, entry in ipairs(entries) do
    out[#out + 1] = k - 1
    out[#out + 1] = entry[1]
    out[#out + 1] = data_of(entry[2])
    out[#out + 1] = 1
  end
  return #entries
end
if remaining > 0 then
  local quota = math.max(1, math.ceil(remaining / n))
  local full = {}
  for k = 1, n do
    if remaining <= 0 then break end
    local wanted = math.min(quota, remaining)
    local got = read(k, wanted)
    remaining = remaining - got
    if got == wanted then full[#full + 1] = k end
  end
  for _, k in ipairs(full) do
    if remaining <= 0 then break end
    remaining = remaining - read(k, remaining)
  end
end
local last = {}
if #out == 0 then
  for k = 1, n do
    local tail = redis.call('XREVRANGE', KEYS[k], '+', '-', 'COUNT', 1)
    if #tail > 0 then last[k] = tail[1][1] else last[k] = '0-0' end
  end
end
return {out, last}
"""

# Trims every partition stream below the oldest entry some group still needs:
# its oldest pending entry, or the entry after its last delivered one.
_TRIM = """
local trimmed = 0
for k = 1, #KEYS do
  if redis.call('EXISTS', KEYS[k]) == 1 then
    local groups = redis.call('XINFO', 'GROUPS', KEYS[k])
    local floor = nil
    local function older(a, b)
      local ams, aseq = string.match(a, '^(%d+)-(%d+)$')
      local bms, bseq = string.match(b, '^(%d+)-(%d+)$')
      ams, aseq, bms, bseq = tonumber(ams), tonumber(aseq), tonumber(bms), tonumber(bseq)
      return ams < bms or (ams == bms and aseq < bseq)
    end
    for _, g in ipairs(groups) do
      local info = {}
      for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
      local need
      local summary = redis.call('XPENDING', KEYS[k], info['name'])
      if summary[1] > 0 then
        need = summary[2]
      else
        local ms, seq = string.match(info['last-delivered-id'], '^(%d+)-(%d+)$')
        need = ms .. '-' .. string.format('%d', tonumber(seq) + 1)
      end
      if floor == nil or older(need, floor) then floor = need end
    end
    if floor ~= nil then
      trimmed = trimmed + redis.call('XTRIM', KEYS[k], 'MINID', floor)
    end
  end
end
return trimmed
"""


def redact(url: str) -> str:
    """``url`` without its password or query string (for messages)."""
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            user = parts.username or ""
            host = netloc.rsplit("@", 1)[1]
            netloc = f"{user}:***@{host}"
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "<unparseable URL>"


class RedisStreamsBroker(Broker):
    """Partitioned event log on Redis Streams (Redis 7 or later; a single
    server or a primary with replicas, not Redis Cluster: the scripts touch
    every partition's keys).

    ``url`` is a redis-py URL (``redis://[[user]:password@]host:port/db``,
    ``rediss://`` or ``unix://``). Operations raise :class:`BrokerError`
    naming the server (never its password) when Redis is unreachable or
    refuses them.
    """

    def __init__(self, url: str, partitions: int = 8, namespace: str = "heliograph") -> None:
        if partitions < 1:
            raise BrokerError(f"partitions must be at least 1, not {partitions}")
        if not namespace:
            raise BrokerError("the broker namespace must not be empty")
        self.url = url
        self.partitions = partitions
        self.namespace = namespace
        self._where = f"Redis at {redact(url)}"
        try:
            # Idempotent operations retry a lost connection briefly; fetch does
            # not (a retried read could hand entries to nobody), its caller does.
            self._redis: redis.Redis = redis.Redis.from_url(
                url,
                socket_connect_timeout=5,
                socket_keepalive=True,
                retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
            )
            self._reader: redis.Redis = redis.Redis.from_url(
                url,
                socket_connect_timeout=5,
                socket_keepalive=True,
                retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 0),
            )
        except ValueError as exc:
            raise BrokerError(f"{self._where}: invalid URL ({exc})") from None
        self._streams = [self.stream_key(p) for p in range(partitions)]
        self._leases = [f"{namespace}:lease:{p}" for p in range(partitions)]
        self._consumers = f"{namespace}:consumers"
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._release = self._redis.register_script(_RELEASE)
        self._fetch = self._reader.register_script(_FETCH)
        self._trim = self._redis.register_script(_TRIM)
        self._grouped: set[str] = set()

    def stream_key(self, partition: int) -> str:
        """The stream of ``partition``."""
        return f"{self.namespace}:events:{partition}"

    def keys(self) -> list[str]:
        """Every key this broker writes (for tests and operators tidying up)."""
        return [*self._streams, *self._leases, self._consumers]

    def _fail(self, exc: redis.RedisError, doing: str) -> BrokerError:
        return BrokerError(f"{self._where}: {doing} failed: {exc}")

    # -- publishing ---------------------------------------------------------

    def publish(self, events: c.Sequence[WireEvent]) -> None:
        try:
            for start in range(0, len(events), PUBLISH_BATCH):
                pipe = self._redis.pipeline(transaction=False)
                for event in events[start : start + PUBLISH_BATCH]:
                    stream = self._streams[partition_of(event.key, self.partitions)]
                    pipe.xadd(stream, {FIELD: event.to_json()})
                pipe.execute()
        except redis.RedisError as exc:
            raise self._fail(exc, "publishing events") from None

    # -- consumer groups ----------------------------------------------------

    def ensure_groups(self, receivers: c.Iterable[str]) -> None:
        wanted = [r for r in dict.fromkeys(receivers) if r not in self._grouped]
        if not wanted:
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            for receiver in wanted:
                for stream in self._streams:
                    pipe.xgroup_create(stream, receiver, id="0", mkstream=True)
            results = pipe.execute(raise_on_error=False)
        except redis.RedisError as exc:
            raise self._fail(exc, "creating consumer groups") from None
        for result in results:
            if isinstance(result, redis.ResponseError) and "BUSYGROUP" not in str(result):
                raise self._fail(result, "creating consumer groups")
            if isinstance(result, redis.RedisError) and not isinstance(result, redis.ResponseError):
                raise self._fail(result, "creating consumer groups")
        self._grouped.update(wanted)

    def drop_groups(self, receivers: c.Iterable[str]) -> None:
        """Delete the consumer groups of ``receivers`` (no longer subscribed),
        with what they had not acknowledged."""
        wanted = list(dict.fromkeys(receivers))
        try:
            pipe = self._redis.pipeline(transaction=False)
            for receiver in wanted:
                for stream in self._streams:
                    pipe.xgroup_destroy(stream, receiver)
            pipe.execute(raise_on_error=False)  # no such stream or group: nothing to drop
        except redis.RedisError as exc:
            raise self._fail(exc, "deleting consumer groups") from None
        self._grouped.difference_update(wanted)

    # -- leases -------------------------------------------------------------

    def acquire(self, consumer: str, lease_seconds: float) -> list[int]:
        lease_ms = max(1, int(lease_seconds * 1000))
        try:
            held = self._acquire(keys=[self._consumers, *self._leases], args=[consumer, lease_ms])
        except redis.RedisError as exc:
            raise self._fail(exc, "acquiring partitions") from None
        return sorted(int(p) for p in t.cast(list[int], held))

    def release(self, consumer: str) -> None:
        try:
            self._release(
                keys=[self._consumers, *self._leases, *self._streams],
                args=[consumer, PRUNE_IDLE_MS],
            )
        except redis.RedisError as exc:
            raise self._fail(exc, "releasing partitions") from None

    # -- consuming ----------------------------------------------------------

    def fetch(
        self,
        receiver: str,
        partitions: c.Sequence[int],
        consumer: str,
        count: int,
        block_ms: int,
    ) -> list[Delivery]:
        """See :meth:`Broker.fetch`. ``partitions`` must be ones ``consumer``
        holds (from :meth:`acquire`): every entry of theirs fetched before and
        not acknowledged, by any consumer, is claimed at once and comes first,
        its attempt raised, also an entry this consumer fetched itself, so
        acknowledge a batch before fetching the next one."""
        parts = list(dict.fromkeys(partitions))
        for p in parts:
            if not 0 <= p < self.partitions:
                raise BrokerError(f"partition {p} is out of range 0..{self.partitions - 1}")
        if not parts or count < 1:
            if block_ms > 0:
                time.sleep(min(block_ms, MAX_BLOCK_MS) / 1000)
            return []
        keys = [self._streams[p] for p in parts]
        found, last = self._run_fetch(receiver, keys, consumer, count)
        if not found and block_ms > 0:
            try:
                self._reader.xread(
                    dict(zip(keys, last, strict=True)),
                    count=1,
                    block=min(block_ms, MAX_BLOCK_MS),
                )
            except redis.RedisError as exc:
                raise self._fail(exc, "waiting for events") from None
            found, last = self._run_fetch(receiver, keys, consumer, count)
        deliveries = []
        for i in range(0, len(found), 4):
            index, entry_id, data, deliveries_count = found[i : i + 4]
            if not data:
                raise BrokerError(
                    f"{self._where}: entry {entry_id!r} of {keys[int(index)]} "
                    "holds no event (written by something else?)"
                )
            deliveries.append(
                Delivery(
                    event=WireEvent.from_json(data),
                    partition=parts[int(index)],
                    attempt=int(deliveries_count),
                    handle=entry_id,
                )
            )
        deliveries.sort(key=lambda d: d.partition)  # stable: order within a partition stays
        return deliveries

    def _run_fetch(
        self, receiver: str, keys: list[str], consumer: str, count: int
    ) -> tuple[list[t.Any], list[bytes]]:
        for created in (False, True):
            try:
                found, last = self._fetch(keys=keys, args=[receiver, consumer, count])
                return list(found), list(last)
            except redis.ResponseError as exc:
                if "NOGROUP" not in str(exc) or created:
                    raise self._fail(exc, f"fetching for {receiver}") from None
                self._grouped.discard(receiver)
                self.ensure_groups([receiver])
            except redis.RedisError as exc:
                raise self._fail(exc, f"fetching for {receiver}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def ack(self, receiver: str, deliveries: c.Sequence[Delivery]) -> None:
        by_stream: dict[str, list[t.Any]] = {}
        for delivery in deliveries:
            by_stream.setdefault(self._streams[delivery.partition], []).append(delivery.handle)
        if not by_stream:
            return
        try:
            pipe = self._redis.pipeline(transaction=False)
            for stream, ids in by_stream.items():
                pipe.xack(stream, receiver, *ids)
            pipe.execute()
        except redis.RedisError as exc:
            raise self._fail(exc, f"acknowledging for {receiver}") from None

    def backlog(self, receiver: str) -> int:
        try:
            pipe = self._redis.pipeline(transaction=False)
            for stream in self._streams:
                pipe.xinfo_groups(stream)
                pipe.xlen(stream)
            results = pipe.execute(raise_on_error=False)
        except redis.RedisError as exc:
            raise self._fail(exc, "reading the backlog") from None
        total = 0
        name = receiver.encode("utf-8")
        for groups, length in zip(results[::2], results[1::2], strict=True):
            if isinstance(groups, redis.ResponseError):
                continue  # no such stream: nothing published to this partition yet
            if isinstance(groups, Exception):
                raise self._fail(t.cast(redis.RedisError, groups), "reading the backlog")
            if isinstance(length, Exception):
                raise self._fail(t.cast(redis.RedisError, length), "reading the backlog")
            group = next((g for g in groups if g["name"] in (name, receiver)), None)
            if group is None:
                total += int(length)  # a group created now would read the whole stream
                continue
            lag = group.get("lag")
            total += int(group["pending"]) + (int(lag) if lag is not None else int(length))
        return total

    # -- housekeeping -------------------------------------------------------

    def trim(self) -> int:
        """Delete the entries every existing group has acknowledged; returns
        how many. Not called implicitly: a group created afterwards (a new
        receiver) no longer sees what was trimmed."""
        try:
            return int(t.cast(int, self._trim(keys=self._streams)))
        except redis.RedisError as exc:
            raise self._fail(exc, "trimming the streams") from None

    def delete_all(self) -> None:
        """Delete every stream, group and lease of this namespace."""
        try:
            self._redis.delete(*self.keys())
        except redis.RedisError as exc:
            raise self._fail(exc, "deleting the namespace") from None
        self._grouped.clear()

    def close(self) -> None:
        self._redis.close()
        self._reader.close()


__all__ = ["RedisStreamsBroker", "redact"]
