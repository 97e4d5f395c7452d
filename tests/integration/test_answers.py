"""Answers end to end: text documents indexed through the API, then /api/v1/chat and /v1/chat/completions, both
extractive (no model configured) and with an OpenAI-compatible model (a fake one on 127.0.0.1), the official
openai client included."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import ModuleBackends, make_settings
from tests.support.fake_llm import FakeLLM, fake_llm
from tests.support.knowledge import create_dataset, wait_indexed
from tests.support.service import RunningService, free_port, start_in_thread
from vidrag.llm.extractive import LABEL
from vidrag.llm.prompts import SYSTEM_PROMPT
from vidrag.services.answer import NO_ANSWER

DOCS = {
    "Basil care": "Fresh basil grows best in warm soil with plenty of water. Pinch off the flower buds so the leaves "
                  "stay sweet and tender. Basil hates frost: bring pots indoors when nights drop below ten degrees.",
    "Volcanoes": "The 1815 eruption of Tambora caused the year without a summer in Europe. Volcanic eruptions can "
                 "cool the planet by blocking sunlight with ash and sulphur aerosols.",
    "Museum hours": "The city museum opens its dinosaur hall every Saturday morning from nine to noon. Entry is free "
                    "for children under twelve.",
}
KB = "garden"
VOLCANO_Q = "Which eruption caused a year without summer?"
VOLCANO_FIRST = "The 1815 eruption of Tambora caused the year without a summer in Europe."
OFF_TOPIC = "What is the capital of France?"
CITATION_KEYS = {"n", "document", "chunk", "quote", "start", "end", "url", "player_url", "page", "heading"}
API_KEY = "answers-test-key-0123456789abcdef0123"


def load_knowledge(client: httpx.Client) -> str:
    dataset = create_dataset(client, KB)
    ids = []
    for name, text in DOCS.items():
        r = client.post(f"/api/v1/datasets/{dataset}/document/create-by-text", json={"name": name, "text": text})
        assert r.status_code == 201, r.text
        ids.append(r.json()["document"]["id"])
    for doc in ids:
        assert wait_indexed(client, dataset, doc)["indexing_status"] == "completed"
    return dataset


def serve(directory: Path, **overrides: Any) -> RunningService:
    svc = start_in_thread(make_settings(directory, **overrides))
    svc.extra["dataset"] = load_knowledge(svc.client)
    return svc


@pytest.fixture(scope="module")
def extractive_svc(tmp_path_factory: pytest.TempPathFactory, module_backends: ModuleBackends
                   ) -> Iterator[RunningService]:
    svc = serve(tmp_path_factory.mktemp("extractive"), **module_backends.new().settings())
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def llm_server() -> Iterator[FakeLLM]:
    with fake_llm() as fake:
        yield fake


@pytest.fixture(scope="module")
def llm_svc(llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory, module_backends: ModuleBackends
            ) -> Iterator[RunningService]:
    svc = serve(tmp_path_factory.mktemp("llm"), **module_backends.new().settings(), llm_base_url=llm_server.base_url,
                llm_model="fake", llm_api_key="sk-upstream")
    yield svc
    svc.stop()


@pytest.fixture
def fake(llm_server: FakeLLM) -> FakeLLM:
    llm_server.requests.clear()
    llm_server.fail_with = llm_server.cut_after = None
    return llm_server


def ask(svc: RunningService, query: str, **body: Any) -> dict[str, Any]:
    r = svc.client.post("/api/v1/chat", json={"dataset": KB, "query": query, **body})
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def sse_events(response: httpx.Response) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    name = "message"
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            events.append((name, json.loads(line[5:])))
            name = "message"
    return events


# --- extractive ------------------------------------------------------------------------------------------
def test_extractive_answer_cites_the_right_document(extractive_svc: RunningService) -> None:
    answer = ask(extractive_svc, "How should I grow basil?")
    assert answer["mode"] == "extractive"
    assert answer["supported"] is True
    assert answer["answer"].startswith(LABEL)
    body = answer["answer"][len(LABEL):].strip()
    assert body.startswith("Fresh basil grows best in warm soil with plenty of water.")
    assert body.endswith("[1]")
    first = answer["citations"][0]
    assert set(first) >= CITATION_KEYS
    assert first["n"] == 1
    assert first["cited"] is True
    assert first["document"]["name"] == "Basil care"
    assert "basil" in first["quote"].lower()
    assert first["start"] is None
    assert first["url"] is None
    assert {c["n"] for c in answer["citations"]} <= {c["n"] for c in answer["sources"]}
    assert answer["dataset"] == {"id": extractive_svc.extra["dataset"], "name": KB}


def test_dataset_can_be_named_by_id(extractive_svc: RunningService) -> None:
    answer = ask(extractive_svc, "When is the dinosaur hall open?", dataset=extractive_svc.extra["dataset"])
    assert answer["citations"][0]["document"]["name"] == "Museum hours"


# the second shares a word with the basil document ("best"): one common word is not support
@pytest.mark.parametrize("question", [OFF_TOPIC, "What is the best pizza dough recipe?"])
def test_off_topic_question_gets_no_answer_and_no_citations(extractive_svc: RunningService, question: str) -> None:
    answer = ask(extractive_svc, question)
    assert answer["answer"] == NO_ANSWER
    assert answer["citations"] == []
    assert answer["sources"] == []
    assert answer["supported"] is False


def test_extractive_answer_streams_as_one_delta(extractive_svc: RunningService) -> None:
    with extractive_svc.client.stream("POST", "/api/v1/chat", json={"dataset": KB, "query": VOLCANO_Q,
                                                                     "stream": True}) as r:
        assert r.status_code == 200
        events = sse_events(r)
    names = [n for n, _ in events]
    assert names == ["delta", "citations", "done"]
    assert events[0][1]["text"].startswith(LABEL)
    assert events[1][1]["citations"][0]["document"]["name"] == "Volcanoes"
    assert events[1][1]["mode"] == "extractive"


# --- with a language model -------------------------------------------------------------------------------
def test_the_model_gets_numbered_sources_and_the_question(llm_svc: RunningService, fake: FakeLLM) -> None:
    answer = ask(llm_svc, VOLCANO_Q, top_k=3)
    assert len(fake.requests) == 1
    sent = fake.last
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["Authorization"] == "Bearer sk-upstream"
    assert sent["body"]["model"] == "fake"
    assert sent["body"]["stream"] is False
    messages = sent["body"]["messages"]
    assert messages[0] == {"role": "system", "content": SYSTEM_PROMPT}
    prompt = messages[-1]["content"]
    assert messages[-1]["role"] == "user"
    assert prompt.startswith("Sources:\n\n[1] Volcanoes\n")
    assert VOLCANO_FIRST in prompt
    assert "[2] " in prompt
    assert "[3] " in prompt
    assert prompt.endswith(f"Question: {VOLCANO_Q}")

    assert answer["mode"] == "llm"
    assert answer["answer"] == f"{VOLCANO_FIRST} [1]"
    assert [c["n"] for c in answer["citations"]] == [1]  # only what the answer cites...
    assert len(answer["sources"]) == 3  # ...out of everything it was given
    assert [c["cited"] for c in answer["sources"]] == [True, False, False]
    assert answer["citations"][0]["document"]["name"] == "Volcanoes"
    assert "Tambora" in answer["citations"][0]["quote"]


def test_off_topic_question_does_not_reach_the_model(llm_svc: RunningService, fake: FakeLLM) -> None:
    answer = ask(llm_svc, OFF_TOPIC)
    assert answer == {**answer, "answer": NO_ANSWER, "citations": [], "mode": "llm", "supported": False}
    assert fake.requests == []


def test_streaming_with_the_model(llm_svc: RunningService, fake: FakeLLM) -> None:
    with llm_svc.client.stream("POST", "/api/v1/chat", json={"dataset": KB, "query": VOLCANO_Q,
                                                             "stream": True}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r)
    deltas = [data["text"] for name, data in events if name == "delta"]
    assert len(deltas) > 3  # word by word, as the model streamed it
    assert "".join(deltas).strip() == f"{VOLCANO_FIRST} [1]"
    assert [n for n, _ in events[len(deltas):]] == ["citations", "done"]
    citations = events[-2][1]
    assert citations["mode"] == "llm"
    assert [c["n"] for c in citations["citations"]] == [1]
    assert events[-1][1]["answer"] == f"{VOLCANO_FIRST} [1]"
    assert fake.last["body"]["stream"] is True


def test_openai_client_gets_answer_and_citations(llm_svc: RunningService, fake: FakeLLM) -> None:
    client = openai.OpenAI(base_url=f"{llm_svc.base_url}/v1", api_key="x", max_retries=0)
    completion = client.chat.completions.create(model=KB, messages=[
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Tell me about volcanoes."},
        {"role": "assistant", "content": "They erupt."},
        {"role": "user", "content": VOLCANO_Q},
    ], temperature=0.7)
    assert completion.object == "chat.completion"
    assert completion.model == KB
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == f"{VOLCANO_FIRST} [1]"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.total_tokens > completion.usage.completion_tokens > 0
    extra = completion.model_extra or {}
    assert extra["citations"][0]["document"]["name"] == "Volcanoes"
    assert extra["mode"] == "llm"
    # the conversation goes along (the client's system message does not: vidrag's grounding rules stand)
    sent = fake.last["body"]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[1]["content"] == "Tell me about volcanoes."
    assert sent[0]["content"] == SYSTEM_PROMPT
    assert sent[-1]["content"].endswith(f"Question: {VOLCANO_Q}")


def test_openai_client_streams_with_citations_on_the_last_chunk(llm_svc: RunningService, fake: FakeLLM) -> None:
    client = openai.OpenAI(base_url=f"{llm_svc.base_url}/v1", api_key="x", max_retries=0)
    chunks = list(client.chat.completions.create(model=KB, messages=[{"role": "user", "content": VOLCANO_Q}],
                                                 stream=True))
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text.strip() == f"{VOLCANO_FIRST} [1]"
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert (last.model_extra or {})["citations"][0]["n"] == 1
    assert all("citations" not in (c.model_extra or {}) for c in chunks[:-1])


def test_openai_client_extractive_and_models(extractive_svc: RunningService) -> None:
    client = openai.OpenAI(base_url=f"{extractive_svc.base_url}/v1", api_key="x", max_retries=0)
    assert [m.id for m in client.models.list()] == [KB]
    assert client.models.retrieve(KB).id == KB
    completion = client.chat.completions.create(model=KB, messages=[{"role": "user", "content": VOLCANO_Q}],
                                                extra_body={"top_k": 2})
    content = completion.choices[0].message.content or ""
    assert content.startswith(LABEL)
    extra = completion.model_extra or {}
    assert extra["mode"] == "extractive"
    assert len(extra["sources"]) == 2
    assert extra["citations"][0]["document"]["name"] == "Volcanoes"
    stream = client.chat.completions.create(model=KB, messages=[{"role": "user", "content": OFF_TOPIC}], stream=True)
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == NO_ANSWER
    assert (chunks[-1].model_extra or {})["citations"] == []


def test_unknown_knowledge_base_is_a_clear_404(extractive_svc: RunningService) -> None:
    client = openai.OpenAI(base_url=f"{extractive_svc.base_url}/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert "knowledge base 'gpt-4o' does not exist" in str(caught.value)
    r = extractive_svc.client.post("/v1/chat/completions", json={"model": "nope", "stream": True,
                                                                 "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 404
    body = r.json()
    assert body["code"] == "dataset_not_found"
    assert "does not exist" in body["message"]
    assert body["error"] == {"message": body["message"], "type": "not_found_error", "code": "dataset_not_found",
                             "param": None}
    r = extractive_svc.client.post("/api/v1/chat", json={"dataset": "nope", "query": "hi"})
    assert r.status_code == 404
    assert r.json()["code"] == "dataset_not_found"
    assert "error" not in r.json()


def test_bad_openai_requests_are_4xx_in_both_shapes(extractive_svc: RunningService) -> None:
    r = extractive_svc.client.post("/v1/chat/completions", json={"model": KB, "messages": [
        {"role": "system", "content": "only a system message"}]})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "no_question"
    r = extractive_svc.client.post("/v1/chat/completions", json={"model": KB})
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_request"
    assert r.json()["error"]["type"] == "invalid_request_error"


# --- failures ------------------------------------------------------------------------------------------------
@pytest.fixture
def down_svc(tmp_path: Path) -> Iterator[RunningService]:
    svc = serve(tmp_path / "down", llm_base_url=f"http://127.0.0.1:{free_port()}/v1", llm_model="fake",
                llm_timeout_seconds=5)
    yield svc
    svc.stop()


@pytest.mark.parametrize("stream", [False, True])
def test_model_down_is_503_llm_unavailable(down_svc: RunningService, stream: bool) -> None:
    r = down_svc.client.post("/api/v1/chat", json={"dataset": KB, "query": VOLCANO_Q, "stream": stream})
    assert r.status_code == 503, r.text
    assert r.json()["code"] == "llm_unavailable"
    assert "VIDRAG_LLM_BASE_URL" in r.json()["message"]
    r = down_svc.client.post("/v1/chat/completions", json={"model": KB, "stream": stream,
                                                            "messages": [{"role": "user", "content": VOLCANO_Q}]})
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "llm_unavailable"
    assert r.json()["error"]["type"] == "server_error"


@pytest.mark.parametrize(("status", "hint"), [(500, "VIDRAG_LLM_MODEL"), (401, "VIDRAG_LLM_API_KEY")])
def test_model_errors_are_503_with_what_to_check(llm_svc: RunningService, fake: FakeLLM, status: int,
                                                 hint: str) -> None:
    fake.fail_with = status
    for stream in (False, True):
        r = llm_svc.client.post("/api/v1/chat", json={"dataset": KB, "query": VOLCANO_Q, "stream": stream})
        assert r.status_code == 503, r.text
        message = r.json()["message"]
        assert r.json()["code"] == "llm_unavailable"
        assert f"HTTP {status}" in message
        assert "the fake model refuses" in message
        assert hint in message


def test_a_model_that_breaks_off_mid_answer_ends_the_stream_with_an_error(llm_svc: RunningService,
                                                                           fake: FakeLLM) -> None:
    fake.cut_after = 3
    with llm_svc.client.stream("POST", "/api/v1/chat", json={"dataset": KB, "query": VOLCANO_Q,
                                                             "stream": True}) as r:
        assert r.status_code == 200  # the stream had begun
        events = sse_events(r)
    assert [n for n, _ in events] == ["delta", "delta", "delta", "error"]
    assert events[-1][1]["code"] == "llm_unavailable"
    assert "broke off" in events[-1][1]["message"]
    client = openai.OpenAI(base_url=f"{llm_svc.base_url}/v1", api_key="x", max_retries=0)
    stream = client.chat.completions.create(model=KB, messages=[{"role": "user", "content": VOLCANO_Q}], stream=True)
    with pytest.raises(openai.APIError, match="broke off"):
        list(stream)


def test_v1_is_behind_the_api_key(start_service: Callable[..., RunningService]) -> None:
    svc = start_service(api_keys=API_KEY)
    with pytest.raises(openai.AuthenticationError) as caught:
        openai.OpenAI(base_url=f"{svc.base_url}/v1", api_key="wrong", max_retries=0).models.list()
    assert "API key is not valid" in str(caught.value)
    models = openai.OpenAI(base_url=f"{svc.base_url}/v1", api_key=API_KEY, max_retries=0).models.list()
    assert list(models) == []
    assert svc.client.post("/api/v1/chat", json={"dataset": KB, "query": "hi"}).status_code == 401
