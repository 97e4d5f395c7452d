"""Health: cheap enough for load balancers to call often."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from vidrag import __version__
from vidrag.api.deps import ContainerDep

router = APIRouter(tags=["health"])


@router.get("/api/health")
async def health(c: ContainerDep) -> dict[str, Any]:
    """Service health in the seed's shape, with vidrag's components under `services`."""
    db_ok = await run_in_threadpool(c.db.check_health) if c.db.health_stale else c.db.healthy
    stats = c.runner.stats()
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
