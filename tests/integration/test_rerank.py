"""The optional rerank step against a /rerank server: our request, the new order, and the unconfigured case."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.fake_rerank import fake_reranker
from tests.support.knowledge import create_dataset, retrieve, wait_indexed
from tests.support.service import RunningService

TEXTS = {"a": "Cats sleep for most of the day.", "b": "Cats chase mice at night.", "c": "Cats purr when content."}


def test_rerank_reorders_by_the_cross_encoder(start_service: Callable[..., RunningService]) -> None:
    with fake_reranker("purr") as (url, requests):
        svc = start_service(rerank_base_url=url, rerank_model="bge-reranker", rerank_api_key="rk")
        dataset = create_dataset(svc.client, "cats")
        for name, text in TEXTS.items():
            body = {"name": name, "text": text}
            r = svc.client.post(f"/api/v1/datasets/{dataset}/document/create-by-text", json=body)
            wait_indexed(svc.client, dataset, r.json()["document"]["id"])
        plain = retrieve(svc.client, dataset, "cats sleep")
        assert "sleep" in plain[0]["segment"]["content"]
        reranked = retrieve(svc.client, dataset, "cats sleep", reranking_enable=True, top_k=3)
        assert "purr" in reranked[0]["segment"]["content"]
        assert reranked[0]["score"] == 0.9
        (sent,) = requests
        assert sent["path"] == "/v1/rerank"
        assert sent["auth"] == "Bearer rk"
        assert sent["model"] == "bge-reranker"
        assert sent["query"] == "cats sleep"
        assert sorted(sent["documents"]) == sorted(TEXTS.values())


def test_rerank_without_a_model_is_a_clear_error(service: RunningService) -> None:
    dataset = create_dataset(service.client, "kb")
    r = service.client.post(f"/api/v1/datasets/{dataset}/retrieve",
                            json={"query": "x", "retrieval_model": {"reranking_enable": True}})
    assert r.status_code == 422
    assert r.json()["code"] == "rerank_unavailable"


def test_rerank_service_down_is_503(start_service: Callable[..., RunningService]) -> None:
    svc = start_service(rerank_base_url="http://127.0.0.1:9/v1", rerank_model="m")
    dataset = create_dataset(svc.client, "kb")
    r = svc.client.post(f"/api/v1/datasets/{dataset}/document/create-by-text", json={"name": "a", "text": "Cats."})
    wait_indexed(svc.client, dataset, r.json()["document"]["id"])
    r = svc.client.post(f"/api/v1/datasets/{dataset}/retrieve",
                        json={"query": "cats", "retrieval_model": {"reranking_enable": True}})
    assert r.status_code == 503
    assert r.json()["code"] == "rerank_backend_error"
