"""Errors the database raises about a request's values are the request's fault: a 4xx, never a 500."""

from __future__ import annotations

import sqlalchemy.exc
from fastapi import FastAPI
from fastapi.testclient import TestClient

from vidrag.api import errors


def test_a_value_the_database_refuses_is_a_422() -> None:
    app = FastAPI()
    errors.install(app)

    @app.post("/store")
    def store() -> None:
        raise sqlalchemy.exc.DataError("INSERT ...", {}, ValueError("PostgreSQL text fields cannot contain NUL"))

    r = TestClient(app, raise_server_exceptions=False).post("/store")
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_value"
    assert "NUL" in r.json()["message"]
