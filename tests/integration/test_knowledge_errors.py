"""Bad input to a knowledge base: a clear 4xx or a failed document with a reason; the rest stays queryable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.knowledge import create_dataset, retrieve, wait_indexed
from tests.support.service import RunningService
from tests.support.speech import make_silence

GOOD_TEXT = "Saffron is the most expensive spice by weight.\n\nIt comes from the crocus flower."


@pytest.fixture
def kb(service: RunningService) -> tuple[RunningService, str]:
    dataset = create_dataset(service.client, "kb")
    r = service.client.post(f"/api/v1/datasets/{dataset}/document/create-by-text",
                            json={"name": "spices", "text": GOOD_TEXT})
    assert wait_indexed(service.client, dataset, r.json()["document"]["id"])["indexing_status"] == "completed"
    return service, dataset


def still_queryable(svc: RunningService, dataset: str) -> None:
    hits = retrieve(svc.client, dataset, "saffron spice")
    assert hits
    assert "Saffron" in hits[0]["segment"]["content"]
    assert svc.client.get("/api/health").json()["status"] == "healthy"


def failed_document(svc: RunningService, dataset: str, response_json: dict[str, object]) -> dict[str, object]:
    doc = response_json["document"]
    assert isinstance(doc, dict)
    result = wait_indexed(svc.client, dataset, str(doc["id"]))
    assert result["indexing_status"] == "error", result
    assert result["error"]
    return result


def upload(svc: RunningService, dataset: str, path: Path, name: str | None = None) -> tuple[int, dict[str, object]]:
    with path.open("rb") as fh:
        r = svc.client.post(f"/api/v1/datasets/{dataset}/document/create-by-file",
                            files={"file": (name or path.name, fh, "application/octet-stream")})
    return r.status_code, r.json()


def test_corrupt_media_by_url(kb: tuple[RunningService, str], media_url: str) -> None:
    svc, dataset = kb
    r = svc.client.post(f"/api/v1/datasets/{dataset}/document/create-by-url", json={"url": f"{media_url}/fake.mp4"})
    assert r.status_code == 201
    doc = failed_document(svc, dataset, r.json())
    assert doc["error_code"] == "download_failed"
    assert "not readable media" in str(doc["error"])
    still_queryable(svc, dataset)


def test_silent_audio(kb: tuple[RunningService, str], tmp_path: Path) -> None:
    svc, dataset = kb
    status, body = upload(svc, dataset, make_silence(tmp_path / "quiet.wav", 4.0))
    assert status == 201, body
    doc = failed_document(svc, dataset, body)
    assert doc["error_code"] == "no_speech"
    still_queryable(svc, dataset)


def test_unsupported_and_oversized_files(start_service: Callable[..., RunningService], tmp_path: Path) -> None:
    svc = start_service(max_upload_mb=1)
    dataset = create_dataset(svc.client, "kb")
    svc.client.post(f"/api/v1/datasets/{dataset}/document/create-by-text", json={"name": "s", "text": GOOD_TEXT})
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 64)
    status, body = upload(svc, dataset, binary)
    assert status == 415
    assert body["code"] == "unsupported_media_type"
    big = tmp_path / "big.txt"
    big.write_text("word " * 400_000)
    status, body = upload(svc, dataset, big)
    assert status == 413
    assert body["code"] == "payload_too_large"
    docs = svc.client.get(f"/api/v1/datasets/{dataset}/documents").json()
    assert docs["total"] == 1


def test_unknown_knowledge_base_and_documents(service: RunningService) -> None:
    for method, path in (("GET", "/api/v1/datasets/nope"), ("POST", "/api/v1/datasets/nope/retrieve"),
                         ("GET", "/api/v1/datasets/nope/documents")):
        r = service.client.request(method, path, json={"query": "x"} if method == "POST" else None)
        assert r.status_code == 404, path
        assert r.json()["code"] == "dataset_not_found"
    dataset = create_dataset(service.client, "kb")
    r = service.client.get(f"/api/v1/datasets/{dataset}/documents/missing/segments")
    assert r.status_code == 404
    assert r.json()["code"] == "document_not_found"
    r = service.client.post("/api/v1/datasets", json={"name": "kb"})
    assert r.status_code == 409
    assert r.json()["code"] == "dataset_name_taken"


def test_empty_inputs(kb: tuple[RunningService, str]) -> None:
    svc, dataset = kb
    r = svc.client.post(f"/api/v1/datasets/{dataset}/retrieve", json={"query": "   "})
    assert r.status_code == 422
    assert r.json()["code"] == "empty_query"
    r = svc.client.post(f"/api/v1/datasets/{dataset}/document/create-by-text", json={"name": "x", "text": "  "})
    assert r.status_code == 422
    r = svc.client.post(f"/api/v1/datasets/{dataset}/retrieve", json={"query": "x",
                                                                     "retrieval_model": {"reranking_enable": True}})
    assert r.status_code == 422
    assert r.json()["code"] == "rerank_unavailable"
    still_queryable(svc, dataset)


def test_mismatched_embedding_model_is_refused_then_reembedded(kb: tuple[RunningService, str]) -> None:
    svc, dataset = kb
    # the knowledge base was built with another model (as after a change of VIDRAG_EMBEDDING_MODEL)
    engine = sa.create_engine(svc.settings.sqlalchemy_url)  # SQLite or PostgreSQL, whichever the service uses
    with engine.begin() as db:
        db.execute(sa.text("UPDATE datasets SET embedding_model = 'some-other-model' WHERE id = :id"), {"id": dataset})
    engine.dispose()
    r = svc.client.post(f"/api/v1/datasets/{dataset}/retrieve", json={"query": "saffron"})
    assert r.status_code == 409
    assert r.json()["code"] == "embedding_model_mismatch"
    assert "reembed" in r.json()["message"]
    before = {d["id"]: d["stages"] for d in svc.client.get(f"/api/v1/datasets/{dataset}/documents").json()["data"]}
    r = svc.client.post(f"/api/v1/datasets/{dataset}/reembed")
    assert r.status_code == 200
    for doc_id, stages in before.items():
        done = wait_indexed(svc.client, dataset, doc_id)
        assert done["indexing_status"] == "completed"
        assert done["stages"]["parse"] == stages["parse"]  # not parsed again
        assert done["stages"]["chunk"] == stages["chunk"]  # nor chunked again
        assert done["stages"]["embed"]["started_at"] > stages["embed"]["completed_at"]  # only embedded again
    still_queryable(svc, dataset)


@pytest.mark.parametrize("segment_id", ["99999999999999999999", str(2**63), "-1", "0", "-99999999999999999999"])
def test_segment_ids_out_of_range_are_not_found(kb: tuple[RunningService, str], segment_id: str) -> None:
    svc, dataset = kb
    doc = svc.client.get(f"/api/v1/datasets/{dataset}/documents").json()["data"][0]["id"]
    base = f"/api/v1/datasets/{dataset}/documents/{doc}/segments"
    for r in (svc.client.get(f"{base}/{segment_id}"),
              svc.client.post(f"{base}/{segment_id}", json={"segment": {"enabled": False}})):
        assert r.status_code == 404, r.text
        assert r.json()["code"] == "segment_not_found"
        assert segment_id in r.json()["message"]
    # the document is still checked first
    r = svc.client.get(f"/api/v1/datasets/{dataset}/documents/missing/segments/{segment_id}")
    assert r.json()["code"] == "document_not_found"
    still_queryable(svc, dataset)


@pytest.mark.parametrize(("rule", "field", "words"), [
    ({"transcript": {"max_tokens": "abc"}}, "process_rule.transcript.max_tokens", "from 10 to 4000"),
    ({"document": {"max_tokens": -1}}, "process_rule.document.max_tokens", "from 10 to 4000"),
    ({"document": {"max_tokens": 10**30}}, "process_rule.document.max_tokens", "from 10 to 4000"),
    ({"document": {"max_tokens": 100, "overlap_tokens": 80}}, "process_rule.document", "at most half of max_tokens"),
    ({"transcript": {"pause_seconds": -2}}, "process_rule.transcript.pause_seconds", "from 0 to 3600"),
    ({"transcript": {"max_token": 50}}, "process_rule.transcript", "unknown key 'max_token'"),
    ({"document": "small"}, "process_rule.document", ""),
])
def test_chunking_rules_are_checked_when_the_knowledge_base_is_created(service: RunningService, rule: object,
                                                                       field: str, words: str) -> None:
    r = service.client.post("/api/v1/datasets", json={"name": "y", "process_rule": rule})
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_request"
    assert f"{field}:" in r.json()["message"]
    assert words in r.json()["message"]
    assert service.client.get("/api/v1/datasets").json()["total"] == 0


def test_difys_process_rule_is_accepted_and_ours_is_applied(service: RunningService) -> None:
    dify = {"mode": "custom", "rules": {"pre_processing_rules": [{"id": "remove_extra_spaces", "enabled": True}],
                                        "segmentation": {"separator": "###", "max_tokens": 500, "chunk_overlap": 50}}}
    dataset = create_dataset(service.client, "dify", process_rule={
        **dify, "document": {"max_tokens": "12", "overlap_tokens": 0}})  # a numeric string is read as its number
    r = service.client.post(f"/api/v1/datasets/{dataset}/document/create-by-text",
                            json={"name": "spices", "text": GOOD_TEXT})
    doc = wait_indexed(service.client, dataset, r.json()["document"]["id"])
    assert doc["indexing_status"] == "completed", doc
    assert doc["segment_count"] == 2  # 12-token chunks: one per sentence
    still_queryable(service, dataset)


@pytest.mark.parametrize(("model", "field", "words"), [
    ({"filters": {"time_range": [0, 10]}}, "retrieval_model.filters", "unknown key 'time_range'"),
    ({"filters": {"time_from": 30, "time_to": 10}}, "retrieval_model.filters", "time_from (30.0) is after time_to"),
    ({"filters": {"upload_date_from": "20250101", "upload_date_to": "20240101"}}, "retrieval_model.filters",
     "upload_date_from (20250101) is after upload_date_to"),
    ({"filters": {"kinds": ["vidoe"]}}, "retrieval_model.filters.kinds.0", "unknown kind 'vidoe'"),
    ({"weights": {"vector_weight": 1.5}}, "retrieval_model.weights.vector_weight", "from 0 to 1"),
    ({"weights": {"keyword_weight": -0.1}}, "retrieval_model.weights.keyword_weight", "from 0 to 1"),
    ({"top_k": 0}, "retrieval_model.top_k", "from 1 to 100"),
    ({"top_k": 101}, "retrieval_model.top_k", "from 1 to 100"),
    ({"score_threshold": 2}, "retrieval_model.score_threshold", "from 0 to 1"),
])
def test_bad_retrieval_settings_are_refused_by_name(kb: tuple[RunningService, str], model: dict[str, object],
                                                    field: str, words: str) -> None:
    svc, dataset = kb
    before = svc.client.get(f"/api/v1/datasets/{dataset}").json()["retrieval_model"]
    for method, path, body in (
            ("POST", f"/api/v1/datasets/{dataset}/retrieve", {"query": "saffron", "retrieval_model": model}),
            ("POST", "/api/v1/datasets", {"name": "other", "retrieval_model": model}),
            ("PATCH", f"/api/v1/datasets/{dataset}", {"retrieval_model": model})):
        r = svc.client.request(method, path, json=body)
        assert r.status_code == 422, (path, r.text)
        assert r.json()["code"] == "invalid_request"
        assert f"{field}:" in r.json()["message"], r.json()["message"]
        assert words in r.json()["message"]
    assert svc.client.get(f"/api/v1/datasets/{dataset}").json()["retrieval_model"] == before
    assert svc.client.get("/api/v1/datasets").json()["total"] == 1


def test_difys_retrieval_keys_are_accepted_and_kept(kb: tuple[RunningService, str]) -> None:
    svc, dataset = kb
    dify = {"search_method": "hybrid_search", "reranking_enable": False, "reranking_mode": "weighted_score",
            "reranking_model": {"reranking_provider_name": "", "reranking_model_name": ""}, "weights": None,
            "top_k": 3, "score_threshold_enabled": False, "score_threshold": None}
    r = svc.client.post(f"/api/v1/datasets/{dataset}/retrieve", json={"query": "saffron", "retrieval_model": dify})
    assert r.status_code == 200, r.text
    assert "Saffron" in r.json()["records"][0]["segment"]["content"]
    stored = {**dify, "filters": {"time_from": 0, "time_to": 60, "kinds": ["video"]}}
    r = svc.client.patch(f"/api/v1/datasets/{dataset}", json={"retrieval_model": stored})
    assert r.status_code == 200, r.text
    assert r.json()["retrieval_model"] == stored | {"filters": {"time_from": 0.0, "time_to": 60.0, "kinds": ["video"]}}


def test_nul_characters_are_refused_before_the_database(kb: tuple[RunningService, str]) -> None:
    """PostgreSQL cannot store NUL in text (it was a 500 there); both backends refuse it the same way."""
    svc, dataset = kb
    for method, path, body, params in (
            ("POST", "/api/v1/datasets", {"name": "n", "description": "a\x00b"}, None),
            ("PATCH", f"/api/v1/datasets/{dataset}", {"name": "a\x00"}, None),
            ("POST", f"/api/v1/datasets/{dataset}/document/create-by-text", {"name": "n", "text": "a\x00b"}, None),
            ("POST", f"/api/v1/datasets/{dataset}/retrieve",
             {"query": "saffron", "retrieval_model": {"filters": {"uploader": "\x00"}}}, None),
            ("GET", f"/api/v1/datasets/{dataset}/documents", None, {"keyword": "a\x00"})):
        r = svc.client.request(method, path, json=body, params=params)
        assert r.status_code == 422, (path, r.text)
        assert r.json()["code"] == "invalid_request"
        assert "NUL" in r.json()["message"]
    still_queryable(svc, dataset)
