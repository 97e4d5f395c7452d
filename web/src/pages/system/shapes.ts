// The answers this page reads (/api/health, /api/v1/storage and its cleanup), as the OpenAPI schema types them, and
// what the page makes of them.
import type { Schemas } from "../../api/client";
import { bytes } from "../../lib/format";

export type Health = Schemas["HealthOut"];
export type RunnerHealth = Schemas["RunnerHealth"];
export type StorageInfo = Schemas["StorageInfoOut"];
export type CleanupResult = Schemas["CleanupOut"];

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
