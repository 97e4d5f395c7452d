"""Health and storage answers: the seed's shapes (clients of video-download-api read them), typed for OpenAPI."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RunnerHealth(BaseModel):
    running: int
    queued: int
    concurrency: int


class JobRunnerHealth(RunnerHealth):
    kind: str = Field(description="in-process (embedded) or celery (scaled out)")


class HealthServices(BaseModel):
    video_processor: str
    ffmpeg: str = Field(description="the FFmpeg binary in use")
    job_runner: JobRunnerHealth = Field(description="downloads")
    ingest_runner: RunnerHealth = Field(description="transcription and indexing")
    database: str = Field(description="ok or unavailable")


class HealthOut(BaseModel):
    status: str = Field(description="healthy, or degraded when the database cannot be reached")
    timestamp: str
    version: str
    services: HealthServices


class RetentionPolicyOut(BaseModel):
    max_age_hours: float
    max_total_mb: float
    keep_newest: int


class StorageInfoOut(BaseModel):
    total_files: int
    total_size_mb: float
    oldest_file_hours: float
    newest_file_hours: float
    temp_dir: str = Field(description="where the media files are kept")
    free_disk_mb: float
    min_free_disk_mb: float = Field(description="below this, new work is refused")
    policy: RetentionPolicyOut


class CleanupOut(BaseModel):
    total_files: int
    deleted_files: int
    freed_space_mb: float
    preserved_files: int
    strategy: list[str] = Field(description="the retention rules applied, in words")


class SeedStorageInfo(BaseModel):
    status: str
    storage: StorageInfoOut
    timestamp: str


class SeedCleanup(BaseModel):
    status: str
    cleanup_result: CleanupOut
    timestamp: str
