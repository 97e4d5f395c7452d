// The shapes of the untyped answers this page reads (/api/health, /api/v1/storage and its cleanup are plain dicts in
// the OpenAPI schema: see src/vidrag/api/routes/health.py and src/vidrag/services/storage.py), and what the page
// makes of them.
import { bytes } from "../../lib/format";

export interface RunnerHealth {
  running: number;
  queued: number;
  concurrency: number;
  kind?: string;
}

export interface Health {
  status: string; // healthy | degraded
  timestamp: string;
  version: string;
  services: {
    database?: string;
    ffmpeg?: string;
    video_processor?: string;
    job_runner?: RunnerHealth;
    ingest_runner?: RunnerHealth;
  };
}

export interface Policy {
  max_age_hours: number;
  max_total_mb: number;
  keep_newest: number;
}

export interface StorageInfo {
  total_files: number;
  total_size_mb: number;
  oldest_file_hours: number;
  newest_file_hours: number;
  temp_dir: string;
  free_disk_mb: number;
  min_free_disk_mb: number;
  policy: Policy;
}

export interface CleanupResult {
  total_files: number;
  deleted_files: number;
  freed_space_mb: number;
  preserved_files: number;
  strategy: string[];
}

const MB = 1024 * 1024;

/** Megabytes as people read them: 0.5 → "512 KB", 2048 → "2.0 GB". */
export function megabytes(mb: number | null | undefined): string {
  return mb == null ? "–" : bytes(mb * MB);
}

export type DiskState = "ok" | "low" | "full";

/** "full" below the threshold (new work is refused), "low" within twice it, "ok" otherwise. */
export function diskState(freeMb: number, minFreeMb: number): DiskState {
  if (freeMb < minFreeMb) return "full";
  if (freeMb < 2 * minFreeMb) return "low";
  return "ok";
}

/** Percent of the retention budget in use (0-100, for a bar). */
export function budgetPercent(info: StorageInfo): number {
  if (!info.policy.max_total_mb) return 0;
  return Math.min(100, Math.round((100 * info.total_size_mb) / info.policy.max_total_mb));
}

/** A badge class for a component's state: ok, degraded (busy or odd) or unavailable. */
export function stateClass(value: string | undefined): "ok" | "degraded" | "unavailable" {
  if (value == null) return "degraded";
  if (["ok", "available", "healthy"].includes(value)) return "ok";
  if (["unavailable", "error", "failed"].includes(value)) return "unavailable";
  return "degraded";
}

/** Hours → "45 min", "5 h", "3 d" (a file's age). */
export function hours(h: number): string {
  if (h < 1) return `${Math.round(h * 60)} min`;
  if (h < 48) return `${Math.round(h)} h`;
  return `${Math.round(h / 24)} d`;
}
