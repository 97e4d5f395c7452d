"""Progress events: publish from any thread, subscribe from the event loop.

In memory for one process (embedded); through Redis pub/sub for many (scaled out), same interface.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import redis

log = logging.getLogger(__name__)

Event = dict[str, Any]


class EventBus(Protocol):
    def bind(self, loop: asyncio.AbstractEventLoop) -> None: ...
    def close(self) -> None: ...
    def publish(self, task_id: str, event: Event) -> None: ...
    def subscribe(self, task_id: str) -> Any:  # async context manager yielding an asyncio.Queue[Event]
        ...


class InMemoryEventBus:
    def __init__(self, max_queue: int = 1000) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[Event]]] = defaultdict(set)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._max_queue = max_queue

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def close(self) -> None:
        return None

    def publish(self, task_id: str, event: Event) -> None:
        with self._lock:
            queues = list(self._subscribers.get(task_id, ()))
        if not queues or self._loop is None or self._loop.is_closed():
            return
        for queue in queues:
            self._loop.call_soon_threadsafe(_offer, queue, event)

    @asynccontextmanager
    async def subscribe(self, task_id: str) -> AsyncIterator[asyncio.Queue[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(self._max_queue)
        with self._lock:
            self._subscribers[task_id].add(queue)
        try:
            yield queue
        finally:
            with self._lock:
                self._subscribers[task_id].discard(queue)
                if not self._subscribers[task_id]:
                    del self._subscribers[task_id]


def _offer(queue: asyncio.Queue[Event], event: Event) -> None:
    if queue.full():  # a slow reader loses old progress, never the newest state
        queue.get_nowait()
    queue.put_nowait(event)


class RedisEventBus(InMemoryEventBus):
    """Events for many processes: published to Redis, delivered to this process's subscribers.

    ``publish`` sends to channel ``vidrag:<db>:events:<key>``. One listener thread per process (pattern
    subscription) hands what arrives to the in-memory fan-out, so any API replica streams any task's events,
    whichever worker runs it, with one Redis connection however many clients listen. Subscribers re-read the
    database now and then, so an event lost in a Redis outage delays a progress bar, never an outcome.
    """

    def __init__(self, client: redis.Redis, max_queue: int = 1000) -> None:
        super().__init__(max_queue)
        self._redis = client
        # channels are shared by all databases of a server: the database number keeps deployments apart
        self.channel = f"vidrag:{client.connection_pool.connection_kwargs.get('db', 0)}:events:"
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        super().bind(loop)
        if self._listener is None or not self._listener.is_alive():
            self._stop.clear()
            self._listener = threading.Thread(target=self._listen, name="vidrag-events", daemon=True)
            self._listener.start()

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(timeout=5)

    def publish(self, task_id: str, event: Event) -> None:
        try:
            self._redis.publish(self.channel + task_id, json.dumps(event, default=str))
        except redis.RedisError as exc:
            log.warning("event for %s not published (%s)", task_id, exc)

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                pubsub.psubscribe(self.channel + "*")
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "pmessage":
                        self._deliver(message["channel"], message["data"])
                pubsub.close()
            except redis.RedisError as exc:
                log.warning("event channel lost (%s); reconnecting", exc)
                self._stop.wait(1.0)

    def _deliver(self, channel: bytes | str, data: bytes | str) -> None:
        key = (channel.decode() if isinstance(channel, bytes) else channel)[len(self.channel):]
        try:
            event = json.loads(data)
        except ValueError:
            return
        InMemoryEventBus.publish(self, key, event)
