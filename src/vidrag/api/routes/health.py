"""Health: cheap enough for load balancers to call often."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from vidrag import __version__
from vidrag.api.deps import ContainerDep

router = APIRouter(tags=["health"])
_DB_CHECK_TTL = 5.0


@router.get("/api/health")
async def health(c: ContainerDep) -> dict[str, Any]:
    """Service health in the seed's shape, with vidrag's components under `services`."""
    stats = c.runner.stats()
    db_ok = _database_ok(c)
    return {
        "status": "healthy" if db_ok else "degraded",
        "timestamp": datetime.now(UTC).isoformat(),
        "version": __version__,
        "services": {
            "video_processor": "available",
            "database": "ok" if db_ok else "unavailable",
            "ffmpeg": c.ffmpeg,
            "job_runner": {"running": stats.running, "queued": stats.queued, "concurrency": stats.concurrency},
        },
    }


def _database_ok(c: ContainerDep) -> bool:
    """A `SELECT 1` at most every few seconds, so health stays fast under load."""
    cache: dict[str, float | bool] = c.__dict__.setdefault("_db_health", {"at": 0.0, "ok": False})
    now = time.monotonic()
    if now - float(cache["at"]) > _DB_CHECK_TTL:
        try:
            with c.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            cache["ok"] = True
        except Exception:
            cache["ok"] = False
        cache["at"] = now
    return bool(cache["ok"])
