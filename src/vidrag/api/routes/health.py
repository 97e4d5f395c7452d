"""Health: cheap enough for load balancers to call often."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from vidrag import __version__
from vidrag.api.deps import ContainerDep
from vidrag.api.schemas.system import HealthOut

router = APIRouter(tags=["health"])


@router.get("/api/health", response_model=HealthOut)
async def health(c: ContainerDep) -> dict[str, Any]:
    """Service health in the seed's shape, with vidrag's components under `services`."""
    db_ok = await run_in_threadpool(c.db.check_health) if c.db.health_stale else c.db.healthy
    # off the event loop: scaled out, the runners count in Redis
    stats, ingest = await run_in_threadpool(lambda: (c.runner.stats(), c.ingest_runner.stats()))
    return {
        "status": "healthy" if db_ok else "degraded",
        "timestamp": datetime.now(UTC).isoformat(),
        "version": __version__,
        "services": {
            "video_processor": "available",
            "ffmpeg": c.ffmpeg,
            "job_runner": {"running": stats.running, "queued": stats.queued, "concurrency": stats.concurrency,
                           "kind": "celery" if c.scaled else "in-process"},
            "ingest_runner": {"running": ingest.running, "queued": ingest.queued, "concurrency": ingest.concurrency},
            "database": "ok" if db_ok else "unavailable",
        },
    }
