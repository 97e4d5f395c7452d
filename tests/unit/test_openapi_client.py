"""The console's typed client is generated from web/openapi.json: it must be the service's schema as it is now."""

from __future__ import annotations

import json
from pathlib import Path

from vidrag.api.app import create_app
from vidrag.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def test_committed_openapi_schema_is_current(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    current = create_app(settings).openapi()
    committed = json.loads((REPO / "web" / "openapi.json").read_text(encoding="utf-8"))
    assert committed == current, ("web/openapi.json is out of date: run `vidrag openapi -o web/openapi.json` and "
                                  "`npm --prefix web run gen:api`, then commit both")
