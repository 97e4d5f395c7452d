"""The console's static serving: index at / and at every page route, hashed assets cached for good, the API's own
404s untouched, and a page that says how to build the console when it is not built."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from vidrag.api import console


def _app(console_dir: Path) -> TestClient:
    app = FastAPI()

    @app.get("/api/v1/thing")
    def thing() -> dict[str, str]:
        return {"ok": "yes"}

    console.install(app, console_dir)
    return TestClient(app)


def test_built_console_is_served_at_its_routes(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><div id=root></div>")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    client = _app(tmp_path)
    for path in ("/", "/downloads", "/knowledge/ds1/documents/doc2", "/play/document/x", "/ask", "/system"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "id=root" in r.text, path
        assert r.headers["cache-control"] == "no-cache"
    asset = client.get("/assets/index-abc123.js")
    assert asset.status_code == 200
    assert "immutable" in asset.headers["cache-control"]
    assert client.get("/assets/missing.js").status_code == 404
    assert client.get("/api/v1/thing").json() == {"ok": "yes"}
    assert client.get("/api/v1/nothing").status_code == 404
    assert client.get("/nowhere").status_code == 404  # not a console route: no HTML for every typo


def test_unbuilt_console_says_how_to_build_it(tmp_path: Path) -> None:
    r = _app(tmp_path / "absent").get("/")
    assert r.status_code == 200
    assert "npm --prefix web ci" in r.text
    assert "/docs" in r.text
