"""The two-level cache of hot reads (the public site's services, doctors and free slots; the
dashboards' figures): an in-process LRU with a short TTL (cachetools) in front of Redis
(``REDIS_URL``, shared by every process). Without ``REDIS_URL`` (the embedded default) only the
in-process level is used.

One way to use it: ``cached(namespace, key, loader, scope=...)`` returns the value, loading it with
``loader()`` on a miss; ``invalidate(namespace, scope=None)`` after a write makes every process
drop what it holds for that scope (a doctor's free slots) or the whole namespace.

Never stale after a write: Redis holds a generation number per namespace and per scope (no TTL, so
Redis never evicts them under a ``volatile-*`` policy). Every lookup reads the current generations
(one round trip, ``MGET``) and a value is stored and found under the generations read *before* it
was loaded; ``invalidate`` (called after the write's commit) increments them. A missing generation
starts at the current time in nanoseconds, so a Redis that lost its data (restarted without
persistence) never gives back a generation a process still holds copies under. So once a booking's
commit returned, no process serves the free slots computed before it: a load that raced with the
booking was stored under the old generation, which nobody reads again. The in-process level saves
the value's transfer and decoding, not that round trip.

Redis down (or not answering within ``CACHE_REDIS_TIMEOUT_SECONDS``): the in-process level alone,
with generations of its own (this process's writes still invalidate its copies at once), and the
invalidations made meanwhile are replayed on Redis when it answers again. Another process's writes
cannot reach this one then, so a *strict* namespace (the free slots) is not cached at all while
Redis is down: every page reads the database. ``/health`` says ``degraded``.

Values are our own (loaders' results), stored in Redis as JSON: plain values, ``Decimal``,
``date``, ``datetime`` and the frozen dataclasses registered with ``@value_type``; nothing is
unpickled. A value found in the in-process level is the very object stored there: treat it as
read-only (the registered dataclasses are frozen; return tuples). A tuple comes back from Redis
as a list."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Hashable, Mapping, TypeVar

from cachetools import TTLCache
from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# The namespaces, and what invalidates them (app/services/cache_hooks.py).
SERVICES = "services"  # the public list of services: any service, department edit
DOCTORS = "doctors"  # the public doctor list and doctor pages: doctor, service, specialty, department edits
SLOTS = "slots"  # a doctor's free slots (scope: the doctor's id): appointments, schedules, exceptions
REVENUE = "revenue"  # a day's takings (scope: the clinic's local day, ISO): payments and refunds
DASHBOARDS = "dashboards"  # the managers' dashboard figures: any write a figure reads (whole namespace)
NAMESPACES = (SERVICES, DOCTORS, SLOTS, REVENUE, DASHBOARDS)
# Never served from one process's memory when Redis is configured but cannot be reached: another
# process may have just booked the slot.
STRICT = frozenset({SLOTS})

T = TypeVar("T")
_TYPES: dict[str, type] = {}


def value_type(cls: type[T]) -> type[T]:
    """Register a frozen dataclass as a value the cache may store in Redis."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    _TYPES[cls.__qualname__] = cls
    return cls


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    if isinstance(value, datetime):
        return {"$t": value.isoformat()}
    if isinstance(value, date):
        return {"$day": value.isoformat()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__qualname__
        if _TYPES.get(name) is not type(value):
            raise TypeError(f"{name} is not registered with @value_type")
        return {"$dc": name, "f": {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}}
    raise TypeError(f"cannot cache a {type(value).__name__}")


def _decode(obj: dict) -> Any:
    if "$d" in obj:
        return Decimal(obj["$d"])
    if "$t" in obj:
        return datetime.fromisoformat(obj["$t"])
    if "$day" in obj:
        return date.fromisoformat(obj["$day"])
    if "$dc" in obj:
        return _TYPES[obj["$dc"]](**obj["f"])  # only registered types; an unknown name is a KeyError
    return obj


def dumps(value: Any) -> bytes:
    return json.dumps(value, default=_encode, separators=(",", ":"), ensure_ascii=False).encode()


def loads(raw: bytes | str) -> Any:
    return json.loads(raw, object_hook=_decode)


def _key_text(key: tuple) -> str:
    text = json.dumps(key, default=str, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= 120 else hashlib.sha256(text.encode()).hexdigest()


class TwoLevelCache:
    """One per app (``app.extensions["cache"]``); thread-safe."""

    def __init__(self, *, redis_url: str = "", prefix: str = "clinic-cache", local_ttl: float = 30,
                 redis_ttl: int = 300, maxsize: int = 2048, timeout: float = 0.5, retry_seconds: float = 5,
                 enabled: bool = True, clock: Callable[[], float] = time.monotonic) -> None:
        self.redis_url, self.prefix, self.enabled = redis_url, prefix, enabled
        self.redis_ttl, self.retry_seconds, self.clock = redis_ttl, retry_seconds, clock
        self.redis: Redis | None = (Redis.from_url(redis_url, socket_connect_timeout=timeout, socket_timeout=timeout)
                                    if redis_url else None)
        self._lock = threading.Lock()
        self._local: TTLCache = TTLCache(maxsize=maxsize, ttl=local_ttl, timer=clock)
        self._local_gens: Counter[tuple[str, str]] = Counter()  # (namespace, scope) -> this process's generation
        self._counts: Counter[tuple[str, str]] = Counter()  # (namespace, "hits"|"misses"), all of this process's
        self._unsent: Counter[tuple[str, str]] = Counter()  # counted here, not yet added in Redis
        self._replay: set[tuple[str, str]] = set()  # invalidated while Redis was down
        self._down_until = 0.0
        self._last_error = ""

    # --- Redis's state -----------------------------------------------------------------------

    def _redis(self) -> Redis | None:
        """The Redis client, unless Redis failed less than ``retry_seconds`` ago."""
        if self.redis is None or self.clock() < self._down_until:
            return None
        return self.redis

    def _failed(self, exc: Exception) -> None:
        log.warning("cache: Redis unreachable, in-process level only for %ss: %s", self.retry_seconds, exc)
        self._down_until = self.clock() + self.retry_seconds
        self._last_error = type(exc).__name__

    def status(self) -> dict:
        """For ``/health``: ``embedded`` (no REDIS_URL), ``ok`` or ``degraded`` (Redis configured,
        not answering: in-process level only, free slots uncached)."""
        if self.redis is None:
            return {"status": "embedded", "levels": "in-process"}
        try:
            self.redis.ping()
        except RedisError as exc:
            self._failed(exc)
            return {"status": "degraded", "levels": "in-process", "error": type(exc).__name__}
        return {"status": "ok", "levels": "in-process+redis"}

    # --- keys --------------------------------------------------------------------------------

    def _gen_keys(self, namespace: str, scope: str) -> list[str]:
        keys = [f"{self.prefix}:gen:{namespace}"]
        if scope:
            keys.append(f"{self.prefix}:gen:{namespace}:{scope}")
        return keys

    def _stats_key(self) -> str:
        return f"{self.prefix}:stats"

    def _count(self, namespace: str, outcome: str) -> None:
        with self._lock:
            self._counts[(namespace, outcome)] += 1
            if self.redis is not None:
                self._unsent[(namespace, outcome)] += 1

    def _take_unsent(self) -> Counter[tuple[str, str]]:
        with self._lock:
            unsent, self._unsent = self._unsent, Counter()
        return unsent

    def _give_back(self, unsent: Counter[tuple[str, str]]) -> None:
        with self._lock:
            self._unsent.update(unsent)

    @staticmethod
    def _bump(pipe: Any, key: str) -> None:
        """A new generation: +1, from the current time in nanoseconds when the key is missing."""
        pipe.set(key, time.time_ns(), nx=True)
        pipe.incr(key)

    def _replay_invalidations(self, client: Redis) -> None:
        with self._lock:
            pending, self._replay = self._replay, set()
        if not pending:
            return
        try:
            pipe = client.pipeline(transaction=False)
            for namespace, scope in pending:
                self._bump(pipe, self._gen_keys(namespace, scope)[-1])
            pipe.execute()
        except RedisError:
            with self._lock:
                self._replay |= pending
            raise

    def _shared_generations(self, namespace: str, scope: str) -> tuple[Redis, tuple] | None:
        """Redis's generations of (namespace, scope), sending this process's unsent counts with
        them (one round trip); None when Redis is not configured or not answering."""
        client = self._redis()
        if client is None:
            return None
        unsent = self._take_unsent()
        try:
            self._replay_invalidations(client)
            pipe = client.pipeline(transaction=False)
            for (ns, outcome), n in unsent.items():
                pipe.hincrby(self._stats_key(), f"{ns}:{outcome}", n)
            keys = self._gen_keys(namespace, scope)
            pipe.mget(keys)
            generations = pipe.execute()[-1]
            if None in generations:  # first use, or a Redis that lost its data: never start again from 0
                pipe = client.pipeline(transaction=False)
                for key, generation in zip(keys, generations, strict=True):
                    if generation is None:
                        pipe.set(key, time.time_ns(), nx=True)
                pipe.mget(keys)
                generations = pipe.execute()[-1]
        except RedisError as exc:
            self._give_back(unsent)
            self._failed(exc)
            return None
        return client, tuple(int(g or 0) for g in generations)

    # --- the API -----------------------------------------------------------------------------

    def cached(self, namespace: str, key: tuple, loader: Callable[[], T], *, scope: Hashable = None) -> T:
        """The value of ``key`` in ``namespace`` (``scope``: what ``invalidate`` may drop alone, e.g.
        a doctor's id), from this process's memory, else Redis, else ``loader()`` (then kept in both)."""
        if not self.enabled:
            return loader()
        scope_text = "" if scope is None else str(scope)
        with self._lock:
            local_gens = (self._local_gens[(namespace, "")], self._local_gens[(namespace, scope_text)])
        shared = self._shared_generations(namespace, scope_text)
        if shared is None and self.redis is not None and namespace in STRICT:
            self._count(namespace, "misses")  # Redis down: another process's booking could not reach us
            return loader()
        generations = shared[1] if shared is not None else None
        local_key = (namespace, scope_text, key, local_gens, generations)
        with self._lock:
            found = self._local.get(local_key, _MISSING)
        if found is not _MISSING:
            self._count(namespace, "hits")
            return found
        redis_key = ""
        if shared is not None:
            client, gens = shared
            redis_key = f"{self.prefix}:v:{namespace}:{scope_text}:{'.'.join(map(str, gens))}:{_key_text(key)}"
            try:
                raw = client.get(redis_key)
            except RedisError as exc:
                self._failed(exc)
                raw, redis_key = None, ""
            if raw is not None:
                value = loads(raw)
                with self._lock:
                    self._local[local_key] = value
                self._count(namespace, "hits")
                return value
        value = loader()
        self._count(namespace, "misses")
        with self._lock:
            self._local[local_key] = value
        if redis_key and shared is not None:
            try:
                shared[0].set(redis_key, dumps(value), ex=self.redis_ttl)
            except RedisError as exc:
                self._failed(exc)
        return value

    def invalidate(self, namespace: str, scope: Hashable = None) -> None:
        """Drop what every process holds for ``scope`` in ``namespace`` (None: the whole namespace).
        Call it after the write is committed. Never raises."""
        scope_text = "" if scope is None else str(scope)
        with self._lock:
            self._local_gens[(namespace, scope_text)] += 1
        if self.redis is None:
            return
        client = self._redis()
        if client is not None:
            try:
                self._replay_invalidations(client)
                pipe = client.pipeline(transaction=False)
                self._bump(pipe, self._gen_keys(namespace, scope_text)[-1])
                pipe.execute()
                return
            except RedisError as exc:
                self._failed(exc)
        with self._lock:  # told to Redis when it answers again
            self._replay.add((namespace, scope_text))

    def send_counts(self) -> None:
        """Add this process's counts not yet sent to Redis's (each lookup sends the previous
        ones with its first round trip, so another process's last lookup may be missing)."""
        client = self._redis()
        unsent = self._take_unsent()
        if client is None or not unsent:
            self._give_back(unsent)
            return
        try:
            pipe = client.pipeline(transaction=False)
            for (ns, outcome), n in unsent.items():
                pipe.hincrby(self._stats_key(), f"{ns}:{outcome}", n)
            pipe.execute()
        except RedisError as exc:
            self._give_back(unsent)
            self._failed(exc)

    def stats(self) -> dict[str, dict[str, int]]:
        """Hits and misses per namespace: all processes' (Redis) when Redis answers, else this
        process's own."""
        totals: Counter[tuple[str, str]] = Counter()
        client = self._redis()
        shared = False
        if client is not None:
            try:
                for field, value in client.hgetall(self._stats_key()).items():
                    ns, _sep, outcome = (field.decode() if isinstance(field, bytes) else field).rpartition(":")
                    totals[(ns, outcome)] += int(value)
                shared = True
            except RedisError as exc:
                self._failed(exc)
        with self._lock:
            totals.update(self._unsent if shared else self._counts)
        names = sorted(set(NAMESPACES) | {ns for ns, _outcome in totals})
        return {ns: {"hits": totals[(ns, "hits")], "misses": totals[(ns, "misses")]} for ns in names}

    def reset_stats(self) -> None:
        """Counters back to zero (Redis's and this process's). Raises RedisError when Redis is
        configured and does not answer."""
        with self._lock:
            self._counts.clear()
            self._unsent.clear()
        if self.redis is not None:
            self.redis.delete(self._stats_key())

    def clear_local(self) -> None:
        with self._lock:
            self._local.clear()
            self._local_gens.clear()


_MISSING = object()


@dataclass(frozen=True)
class Counts:
    """One namespace's hits and misses (the admin page's row)."""
    namespace: str
    hits: int
    misses: int

    @property
    def ratio(self) -> float | None:
        """Hits per lookup (None before the first lookup)."""
        total = self.hits + self.misses
        return self.hits / total if total else None


def counters(cache: TwoLevelCache) -> list[Counts]:
    return [Counts(ns, c["hits"], c["misses"]) for ns, c in cache.stats().items()]


def from_config(config: Mapping[str, Any]) -> TwoLevelCache:
    return TwoLevelCache(redis_url=config.get("REDIS_URL") or "",
                         prefix=config.get("CACHE_KEY_PREFIX") or "clinic-cache",
                         local_ttl=float(config.get("CACHE_TTL_SECONDS", 30)),
                         redis_ttl=int(config.get("CACHE_REDIS_TTL_SECONDS", 300)),
                         maxsize=int(config.get("CACHE_MAX_ENTRIES", 2048)),
                         timeout=float(config.get("CACHE_REDIS_TIMEOUT_SECONDS", 0.5)),
                         retry_seconds=float(config.get("CACHE_REDIS_RETRY_SECONDS", 5)),
                         enabled=bool(config.get("CACHE_ENABLED", True)))


def current() -> TwoLevelCache | None:
    """This app's cache; None outside an application (a script): then nothing is cached."""
    from flask import current_app, has_app_context

    return current_app.extensions.get("cache") if has_app_context() else None


def cached(namespace: str, key: tuple, loader: Callable[[], T], *, scope: Hashable = None) -> T:
    cache = current()
    return loader() if cache is None else cache.cached(namespace, key, loader, scope=scope)


def invalidate(namespace: str, scope: Hashable = None) -> None:
    cache = current()
    if cache is not None:
        cache.invalidate(namespace, scope)


def init_app(app: Any) -> None:
    from app.services import cache_hooks  # noqa: F401  (its listeners invalidate after commits)

    app.extensions["cache"] = from_config(app.config)
