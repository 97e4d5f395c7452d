"""Text documents: Chinese keyword search, hybrid weights and RRF, segments, enable/disable, delete."""

from __future__ import annotations

import pytest

from tests.support.knowledge import create_dataset, retrieve, wait_indexed
from tests.support.service import RunningService

CHINESE = {
    "长城": "长城是中国古代的军事防御工程，绵延上万里，是世界上最著名的建筑之一。",
    "熊猫": "大熊猫主要生活在四川的山区竹林中，以竹子为主要食物。",
    "茶叶": "龙井茶产于杭州西湖，是中国著名的绿茶之一，采摘季节在春天。",
}
ENGLISH = {
    "bees": "Honey bees communicate the location of flowers with a waggle dance.",
    "tides": "Tides are caused mainly by the gravitational pull of the moon.",
    "bread": "Sourdough bread rises thanks to wild yeast and lactic acid bacteria.",
}


def add_texts(svc: RunningService, dataset: str, texts: dict[str, str]) -> dict[str, str]:
    ids = {}
    for name, text in texts.items():
        r = svc.client.post(f"/api/v1/datasets/{dataset}/document/create-by-text", json={"name": name, "text": text})
        assert r.status_code == 201, r.text
        ids[name] = r.json()["document"]["id"]
    for doc_id in ids.values():
        assert wait_indexed(svc.client, dataset, doc_id)["indexing_status"] == "completed"
    return ids


@pytest.fixture
def kb(service: RunningService) -> tuple[RunningService, str, dict[str, str]]:
    dataset = create_dataset(service.client, "mixed")
    return service, dataset, add_texts(service, dataset, {**CHINESE, **ENGLISH})


@pytest.mark.parametrize(("query", "expected"), [("熊猫吃什么", "熊猫"), ("西湖龙井", "茶叶"), ("长城有多长", "长城")])
def test_chinese_keyword_search(kb: tuple[RunningService, str, dict[str, str]], query: str, expected: str) -> None:
    svc, dataset, ids = kb
    records = retrieve(svc.client, dataset, query, search_method="keyword_search", top_k=3)
    assert records, query
    assert records[0]["segment"]["document_id"] == ids[expected]


@pytest.mark.parametrize("fusion", ["weighted", "rrf"])
def test_hybrid_finds_by_meaning_and_by_word(kb: tuple[RunningService, str, dict[str, str]], fusion: str) -> None:
    svc, dataset, ids = kb
    by_meaning = retrieve(svc.client, dataset, "how do insects tell each other where food is", fusion=fusion)
    assert by_meaning[0]["segment"]["document_id"] == ids["bees"]
    by_word = retrieve(svc.client, dataset, "sourdough", fusion=fusion)
    assert by_word[0]["segment"]["document_id"] == ids["bread"]
    assert 0 < by_word[0]["score"] <= 1


def test_weights_and_threshold(kb: tuple[RunningService, str, dict[str, str]]) -> None:
    svc, dataset, _ = kb
    keyword_only = retrieve(svc.client, dataset, "moon gravity", weights={"vector_weight": 0, "keyword_weight": 1})
    assert all(r["semantic_score"] is None or r["score"] == pytest.approx(r["keyword_score"] or 0, abs=1e-3)
               for r in keyword_only)
    strict = retrieve(svc.client, dataset, "moon gravity", score_threshold_enabled=True, score_threshold=0.99)
    assert all(r["score"] >= 0.99 for r in strict)
    assert len(strict) < len(retrieve(svc.client, dataset, "moon gravity"))


def test_segment_disable_enable_and_edit(kb: tuple[RunningService, str, dict[str, str]]) -> None:
    svc, dataset, ids = kb
    base = f"/api/v1/datasets/{dataset}/documents/{ids['tides']}/segments"
    (segment,) = svc.client.get(base).json()["data"]
    r = svc.client.post(f"{base}/{segment['id']}", json={"segment": {"enabled": False}})
    assert r.json()["enabled"] is False
    hits = retrieve(svc.client, dataset, "tides moon", search_method="keyword_search")
    assert ids["tides"] not in {h["segment"]["document_id"] for h in hits}
    svc.client.post(f"{base}/{segment['id']}", json={"segment": {"enabled": True, "content": "Neap tides are weak."}})
    hits = retrieve(svc.client, dataset, "neap", search_method="keyword_search")
    assert hits[0]["segment"]["document_id"] == ids["tides"]
    assert hits[0]["segment"]["content"] == "Neap tides are weak."


def test_delete_document_removes_its_chunks(kb: tuple[RunningService, str, dict[str, str]]) -> None:
    svc, dataset, ids = kb
    assert svc.client.delete(f"/api/v1/datasets/{dataset}/documents/{ids['bread']}").status_code == 204
    for method in ("keyword_search", "semantic_search"):
        hits = retrieve(svc.client, dataset, "sourdough yeast", search_method=method)
        assert ids["bread"] not in {h["segment"]["document_id"] for h in hits}
    listing = svc.client.get("/api/v1/datasets").json()
    assert listing["data"][0]["document_count"] == len(CHINESE) + len(ENGLISH) - 1


def test_filters_by_document_and_kind(kb: tuple[RunningService, str, dict[str, str]]) -> None:
    svc, dataset, ids = kb
    only = retrieve(svc.client, dataset, "food", filters={"document_ids": [ids["熊猫"]]})
    assert {h["segment"]["document_id"] for h in only} == {ids["熊猫"]}
    assert retrieve(svc.client, dataset, "food", filters={"kinds": ["video"]}) == []


def test_document_events_stream_every_stage_to_completion(service: RunningService) -> None:
    import json

    import httpx

    dataset = create_dataset(service.client, "events")
    r = service.client.post(f"/api/v1/datasets/{dataset}/document/create-by-text",
                            json={"name": "n", "text": "Owls hunt at night. " * 50})
    doc_id = r.json()["document"]["id"]
    events = []
    with httpx.stream("GET", f"{service.base_url}/api/v1/datasets/{dataset}/documents/{doc_id}/events",
                      timeout=60) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[5:]) for line in stream.iter_lines() if line.startswith("data:")]
    assert events[-1]["indexing_status"] == "completed"
    assert events[-1]["progress"] == 100
    stages = events[-1]["stages"]
    assert [s for s in ("parse", "chunk", "embed", "index") if stages[s]["completed_at"]] == [
        "parse", "chunk", "embed", "index"]
