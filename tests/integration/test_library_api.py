"""What the console's library lists: downloads that are in no knowledge base, and documents across knowledge bases."""

from __future__ import annotations

from tests.support.knowledge import create_dataset
from tests.support.service import RunningService


def test_tasks_filter_by_knowledge_base_membership(service: RunningService, media_url: str) -> None:
    tasks = [service.client.post("/api/v1/tasks", json={"url": f"{media_url}/clip.mp4?n={i}"}).json()["id"]
             for i in range(2)]
    for task_id in tasks:
        assert service.wait(task_id)["status"] == "completed"
    kept, loose = tasks
    dataset = create_dataset(service.client, "from downloads")
    r = service.client.post(f"/api/v1/datasets/{dataset}/document/create-from-task", json={"task_id": kept})
    assert r.status_code == 201, r.text
    document = r.json()["document"]["id"]

    def ids(**params: str) -> list[str]:
        page = service.client.get("/api/v1/tasks", params={"status": "completed", **params}).json()
        return [t["id"] for t in page["items"]]

    assert sorted(ids()) == sorted(tasks)
    assert ids(in_knowledge_base="false") == [loose]
    assert ids(in_knowledge_base="true") == [kept]
    assert service.client.get("/api/v1/tasks", params={"in_knowledge_base": "maybe"}).status_code == 422
    # once the document is gone the download is loose again
    assert service.client.delete(f"/api/v1/datasets/{dataset}/documents/{document}").status_code in (200, 204)
    assert sorted(ids(in_knowledge_base="false")) == sorted(tasks)


def test_system_describes_the_deployment_without_secrets(service: RunningService) -> None:
    r = service.client.get("/api/v1/system")
    assert r.status_code == 200, r.text
    system = r.json()
    scaled = service.settings.redis_url is not None
    assert system["deployment"] == ("scaled" if scaled else "embedded")
    assert system["database"] == ("postgresql" if scaled else "sqlite")
    assert system["api_keys_required"] is False
    assert set(system["models"]) == {"transcription", "embedding", "answers", "rerank"}
    assert system["limits"]["max_upload_mb"] == service.settings.max_upload_mb
    assert system["limits"]["retention_keep_newest"] == service.settings.retention_keep_newest
    assert isinstance(system["limits"]["retention_keep_newest"], int)  # a count, not 10.0
    assert "secret" not in r.text.lower()
