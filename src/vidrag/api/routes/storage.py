"""Native storage routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from vidrag.api.deps import StorageDep
from vidrag.api.schemas.system import CleanupOut, StorageInfoOut

router = APIRouter(prefix="/api/v1/storage", tags=["storage"])


@router.get("", response_model=StorageInfoOut)
def storage_info(storage: StorageDep) -> dict[str, Any]:
    """Files kept, their size and age, free disk space and the retention policy."""
    return storage.info()


@router.post("/cleanup", response_model=CleanupOut)
async def storage_cleanup(storage: StorageDep) -> dict[str, Any]:
    """Apply the retention policy now."""
    return (await run_in_threadpool(storage.cleanup)).to_json()
