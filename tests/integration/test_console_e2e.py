"""The web console in a real browser: web/e2e/console.e2e.ts (playwright-core + Debian's Chromium) drives a real
vidrag that needs an API key, with a spoken test video on a 127.0.0.1 server: download to 100 %, ingest into a new
knowledge base, ask, click the citation, and the player's currentTime lies inside the cited span; on both backends (the
scaled one streams progress through Redis from a Celery worker); then the operating system's dark theme turns the
console dark. Screenshots of every page go to test-artifacts/console/<backend>/ (not committed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Backend
from tests.support.backends import services_required
from tests.support.knowledge import QUESTIONS
from tests.support.service import REPO, RunningService

WEB = REPO / "web"
CONSOLE = REPO / "src" / "vidrag" / "console" / "index.html"
ARTIFACTS = REPO / "test-artifacts" / "console"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PAGES = ["00-api-key-prompt", "01-downloads", "02-knowledge-base", "03-hit-testing", "04-ask", "05-player",
         "06-library", "07-system", *(f"08-phone-zh-{p}" for p in ("downloads", "library", "knowledge", "ask",
                                                                     "system")),
         "09-dark-player", "09-dark-downloads"]


def _missing() -> str | None:
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        return "web/node_modules is not installed (./scripts/test runs npm ci)"
    if not CONSOLE.is_file():
        return "the console is not built (./scripts/test runs the build)"
    if not Path(CHROMIUM).exists() or shutil.which("node") is None:
        return f"Chromium ({CHROMIUM}) or Node.js is missing (./scripts/test installs chromium)"
    return None


@pytest.mark.timeout(900)
def test_console_end_to_end(start_service: Callable[..., RunningService], talk_url: str, backend: Backend) -> None:
    if (reason := _missing()) is not None:
        if services_required():
            pytest.fail(reason)
        pytest.skip(reason)
    key = "e2e-console-key-0123456789"
    service = start_service(api_keys=[key])
    artifacts = ARTIFACTS / backend.name
    shutil.rmtree(artifacts, ignore_errors=True)
    env = {**os.environ, "VIDRAG_E2E_BASE": service.base_url, "VIDRAG_E2E_KEY": key, "VIDRAG_E2E_VIDEO": talk_url,
           "VIDRAG_E2E_QUESTION": QUESTIONS[4], "VIDRAG_E2E_ARTIFACTS": str(artifacts), "CHROMIUM": CHROMIUM,
           "NO_COLOR": "1"}
    run = subprocess.run([str(WEB / "node_modules" / ".bin" / "vitest"), "run", "--config", "vitest.e2e.config.ts",
                          "--reporter", "verbose"], cwd=WEB, env=env, capture_output=True, text=True, timeout=900)
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"the browser tests failed:\n{output[-8000:]}"
    assert "7 passed" in output, output[-3000:]
    for name in PAGES:
        shot = artifacts / f"{name}.png"
        assert shot.is_file(), f"no screenshot {shot}"
        assert shot.stat().st_size > 5_000, f"an empty screenshot {shot}"
