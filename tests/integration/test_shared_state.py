"""The retrieval cache and rate limits: per process when embedded, shared by every replica when scaled out."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from redis import Redis

from tests.conftest import Backend
from tests.integration.test_knowledge_text import ENGLISH, add_texts
from tests.integration.test_v1_tasks import read_events
from tests.support.knowledge import create_dataset
from tests.support.media import MediaSet
from tests.support.service import RunningService


def fresh_window() -> None:
    """Counters use one-minute windows: do not start a burst in the last seconds of one."""
    if time.time() % 60 > 55:
        time.sleep(61 - time.time() % 60)


def ask(client: httpx.Client, dataset: str, query: str, **model: object) -> httpx.Response:
    r = client.post(f"/api/v1/datasets/{dataset}/retrieve", json={"query": query, "retrieval_model": model})
    assert r.status_code == 200, r.text
    return r


def test_identical_queries_are_cached_until_the_index_changes(start_service: Callable[..., RunningService],
                                                              backend: Backend) -> None:
    one = start_service()
    dataset = create_dataset(one.client, "cache")
    ids = add_texts(one, dataset, ENGLISH)
    first = ask(one.client, dataset, "What pulls the tides?")
    assert first.headers["X-Vidrag-Cache"] == "miss"
    second = ask(one.client, dataset, "What pulls the tides?")
    assert second.headers["X-Vidrag-Cache"] == "hit"
    assert second.json()["records"] == [{**r, "segment": {**r["segment"], "hit_count": r["segment"]["hit_count"] + 1}}
                                        for r in first.json()["records"]]
    assert ask(one.client, dataset, "What pulls the tides?", top_k=1).headers["X-Vidrag-Cache"] == "miss"

    # a change to the knowledge base (here: a chunk disabled) makes the cached answer unreachable
    segment = first.json()["records"][0]["segment"]
    assert segment["document_id"] == ids["tides"]
    r = one.client.post(f"/api/v1/datasets/{dataset}/documents/{ids['tides']}/segments/{segment['id']}",
                        json={"segment": {"enabled": False}})
    assert r.status_code == 200, r.text
    after = ask(one.client, dataset, "What pulls the tides?")
    assert after.headers["X-Vidrag-Cache"] == "miss"
    assert segment["id"] not in [rec["segment"]["id"] for rec in after.json()["records"]]

    if backend.name == "scaled":  # another replica on the same Redis answers from the shared cache
        two = start_service()
        assert ask(two.client, dataset, "What pulls the tides?").headers["X-Vidrag-Cache"] == "hit"


def test_rate_limits_per_client_and_for_submits(start_service: Callable[..., RunningService], backend: Backend,
                                                media_url: str) -> None:
    one = start_service(rate_limit_per_minute=6, rate_limit_submit_per_minute=1)
    two = start_service(rate_limit_per_minute=6, rate_limit_submit_per_minute=1)
    fresh_window()
    assert one.client.post("/api/v1/tasks", json={"url": f"{media_url}/clip.mp4"}).status_code == 201
    refused = one.client.post("/api/v1/tasks", json={"url": f"{media_url}/clip.mp4?again=1"})
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert "per minute" in refused.json()["message"]
    for _ in range(4):  # 2 POSTs and these 4 reads: 6, the limit
        assert one.client.get("/api/v1/tasks").status_code == 200
    assert one.client.get("/api/v1/tasks").status_code == 429
    assert one.client.get("/api/health").status_code == 200  # load balancers are never limited
    # another client (another API key) has its own count
    other = one.client.get("/api/v1/tasks", headers={"X-API-Key": "someone-else"})
    assert other.status_code == 200
    # the second replica: shares the count when scaled out (Redis), has its own when embedded (memory)
    expected = 429 if backend.name == "scaled" else 200
    assert two.client.get("/api/v1/tasks").status_code == expected


def test_a_replica_stopping_leaves_the_others_working(start_service: Callable[..., RunningService], backend: Backend,
                                                      media: MediaSet, media_url: str) -> None:
    """Scaled out, each test service runs its own Celery worker in this process: stopping one must not stop another's
    event loop (they used to share kombu's process-wide hub, so the survivor died at its next socket registration
    and its queue went unconsumed), and a worker rides out Redis dropping its connections."""
    def download(svc: RunningService) -> None:
        r = svc.client.post("/api/v1/tasks", json={"url": f"{media_url}/{media.mp4.name}", "keep_video": False})
        assert r.status_code == 201, r.text
        task = svc.wait(r.json()["id"], timeout=30)
        assert task["status"] == "completed", task
        assert [f["kind"] for f in task["files"]] == ["audio"]

    one, two = start_service(), start_service()
    download(one)
    download(two)  # both workers are consuming now
    if backend.redis_url:  # (with a shared one, one's stop closed the epoll object two's broker sockets are polled by)
        hubs = [svc.extra["worker"]._controller.hub for svc in (one, two)]
        assert hubs[0] is not hubs[1]
        assert hubs[0].poller is not hubs[1].poller
    one.stop()
    if backend.redis_url:  # Redis drops the subscriptions: the survivor's consumer must register new sockets
        with Redis.from_url(backend.redis_url) as redis:
            assert redis.client_kill_filter(_type="pubsub", skipme=True) >= 1
        time.sleep(2)
    download(two)
    # and its event listener subscribed again: a slow download's progress still streams to the end
    r = two.client.post("/api/v1/tasks", json={"url": f"{media_url}/slow/{media.mp4.name}?bps=150000"})
    assert r.status_code == 201, r.text
    events = read_events(two, r.json()["id"])
    assert len([e for name, e in events if name == "progress" and e["stage"] == "download"]) >= 2, events
    assert events[-1][1]["status"] == "completed", events[-1]
