"""Small shared state with expiry: the retrieval cache and rate-limit counters.

In memory for one process (embedded); in Redis when scaled out, so every API replica shares one cache and
one count per client. Failures of Redis degrade to "no cache, no limit" with a log line: neither may take
the service down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Protocol

import redis

log = logging.getLogger(__name__)
PREFIX = "vidrag:kv:"


class KeyValue(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def set(self, key: str, value: bytes, ttl_seconds: float) -> None: ...
    def hit(self, key: str, window_seconds: int) -> int:
        """Count one event in the current fixed window of ``key``; the count so far, this one included."""


class MemoryKeyValue:
    def __init__(self, max_items: int = 10_000) -> None:
        self._items: OrderedDict[str, tuple[float, bytes | int]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_items

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] < time.monotonic():
                return None
            self._items.move_to_end(key)
            value = item[1]
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        with self._lock:
            self._put(key, value, ttl_seconds)

    def hit(self, key: str, window_seconds: int) -> int:
        window = int(time.time() // window_seconds)
        full = f"{key}:{window}"
        with self._lock:
            item = self._items.get(full)
            count = (item[1] if item and isinstance(item[1], int) and item[0] >= time.monotonic() else 0) + 1
            self._put(full, count, window_seconds)
        return count

    def _put(self, key: str, value: bytes | int, ttl_seconds: float) -> None:
        self._items[key] = (time.monotonic() + ttl_seconds, value)
        self._items.move_to_end(key)
        while len(self._items) > self._max:
            self._items.popitem(last=False)


class RedisKeyValue:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def get(self, key: str) -> bytes | None:
        try:
            value = self._redis.get(PREFIX + key)
        except redis.RedisError as exc:
            log.warning("cache read failed (%s)", exc)
            return None
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        try:
            self._redis.set(PREFIX + key, value, px=max(1, int(ttl_seconds * 1000)))
        except redis.RedisError as exc:
            log.warning("cache write failed (%s)", exc)

    def hit(self, key: str, window_seconds: int) -> int:
        full = f"{PREFIX}{key}:{int(time.time() // window_seconds)}"
        try:
            pipe = self._redis.pipeline()
            pipe.incr(full)
            pipe.expire(full, window_seconds + 1, nx=True)
            count, _ = pipe.execute()
        except redis.RedisError as exc:
            log.warning("rate-limit counter unavailable (%s); not limiting", exc)
            return 0
        return int(count)
