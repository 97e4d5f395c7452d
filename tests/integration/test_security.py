"""API keys, CORS and the secret key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.support.service import RunningService
from vidrag.settings import Settings


def test_api_keys_guard_everything_but_health(start_service: Callable[..., RunningService]) -> None:
    svc = start_service(api_keys="key-one, key-two")
    assert svc.client.get("/api/health").status_code == 200
    for method, path in (("GET", "/api/tasks"), ("GET", "/api/v1/tasks"), ("POST", "/api/process"),
                         ("GET", "/api/download/x.mp4"), ("GET", "/api/storage/info")):
        r = svc.client.request(method, path)
        assert r.status_code == 401, path
        assert r.json()["code"] == "api_key_missing"
        assert r.headers["www-authenticate"] == "Bearer"
    r = svc.client.get("/api/tasks", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    assert r.json()["code"] == "api_key_invalid"
    assert svc.client.get("/api/tasks", headers={"Authorization": "Bearer key-two"}).status_code == 200
    assert svc.client.get("/api/tasks", headers={"X-API-Key": "key-one"}).status_code == 200
    assert svc.client.get("/api/v1/tasks", params={"api_key": "key-one"}).status_code == 200


def test_cors_wildcard_never_allows_credentials(start_service: Callable[..., RunningService]) -> None:
    svc = start_service(cors_origins="*")
    r = svc.client.options("/api/tasks", headers={"Origin": "https://evil.example",
                                                  "Access-Control-Request-Method": "GET"})
    assert r.headers.get("access-control-allow-origin") == "*"
    assert "access-control-allow-credentials" not in r.headers


def test_cors_named_origins(start_service: Callable[..., RunningService]) -> None:
    svc = start_service(cors_origins="https://console.example")
    ok = svc.client.get("/api/health", headers={"Origin": "https://console.example"})
    assert ok.headers["access-control-allow-origin"] == "https://console.example"
    assert ok.headers["access-control-allow-credentials"] == "true"
    other = svc.client.get("/api/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_no_cors_headers_by_default(service: RunningService) -> None:
    r = service.client.get("/api/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize("secret", ["changeme", "secret", "short-but-not-a-placeholder"])
def test_placeholder_secret_is_refused_outside_dev(secret: str) -> None:
    with pytest.raises(ValidationError, match="VIDRAG_SECRET_KEY"):
        Settings(_env_file=None, secret_key=secret, env="production")  # type: ignore[call-arg]
    Settings(_env_file=None, secret_key=secret, env="development")  # type: ignore[call-arg]


def test_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    first = settings.resolved_secret_key()
    assert len(first) >= 40
    assert settings.resolved_secret_key() == first
    assert (tmp_path / ".secret_key").stat().st_mode & 0o077 == 0


def test_env_names_are_the_contract(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = {"HOST": "127.0.0.2", "PORT": "9123", "VIDRAG_DATA_DIR": str(tmp_path), "VIDRAG_API_KEYS": "a,b",
           "VIDRAG_ALLOW_PRIVATE_NETWORKS": "true", "VIDRAG_DATABASE_URL": "sqlite:///x.db",
           "VIDRAG_REDIS_URL": "redis://127.0.0.1:6379/0", "VIDRAG_SECRET_KEY": "k" * 40}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (s.host, s.port, s.data_dir, s.allow_private_networks) == ("127.0.0.2", 9123, tmp_path, True)
    assert [k.get_secret_value() for k in s.api_keys] == ["a", "b"]
    assert s.sqlalchemy_url == "sqlite:///x.db"
    assert s.redis_url == "redis://127.0.0.1:6379/0"


def test_an_llm_endpoint_needs_a_model() -> None:
    with pytest.raises(ValidationError, match="VIDRAG_LLM_MODEL"):
        Settings(_env_file=None, llm_base_url="http://127.0.0.1:9/v1")  # type: ignore[call-arg]
    Settings(_env_file=None, llm_base_url="http://127.0.0.1:9/v1", llm_model="qwen")  # type: ignore[call-arg]
