"""Progress events: publish from any thread, subscribe from the event loop (in memory for one process).

The Redis pub/sub implementation for many processes will share this interface.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

Event = dict[str, Any]


class EventBus(Protocol):
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
