// A task's live state: what the list said, updated by the task's event stream (status / progress events), and what
// a row shows for it (percent, speed, ETA, stage) and which actions it offers.
import type { Task } from "../../api/client";
import { bytes, eta, speed } from "../../lib/format";

export type Status = Task["status"];

export interface Detail {
  percent?: number;
  downloaded_bytes?: number | null;
  total_bytes?: number | null;
  speed?: number | null;
  eta?: number | null;
}

export interface Live {
  status: Status;
  stage: string;
  progress: number; // the whole task, 0-100
  message: string;
  detail: Detail;
  error: { code: string; message: string } | null;
}

const STATUSES: readonly Status[] = ["queued", "running", "completed", "failed", "cancelled"];

export function isActive(status: Status): boolean {
  return status === "queued" || status === "running";
}

export type Action = "cancel" | "retry" | "delete";

/** Cancel while queued or running, retry once failed or cancelled, delete always. */
export function actionsFor(status: Status): Action[] {
  if (isActive(status)) return ["cancel", "delete"];
  if (status === "failed" || status === "cancelled") return ["retry", "delete"];
  return ["delete"];
}

export function liveOf(task: Task): Live {
  return {
    status: task.status,
    stage: task.stage,
    progress: task.progress,
    message: task.message,
    detail: (task.progress_detail ?? {}) as Detail,
    error: task.error ?? null,
  };
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** One event's data applied to the state; anything that is not a task event leaves the state as it was. */
export function applyEvent(live: Live, data: unknown): Live {
  if (!data || typeof data !== "object") return live;
  const d = data as Record<string, unknown>;
  const status = STATUSES.includes(d.status as Status) ? (d.status as Status) : live.status;
  const progress = num(d.progress) ?? live.progress;
  const error =
    typeof d.error === "string" && d.error
      ? { code: typeof d.error_code === "string" ? d.error_code : "failed", message: d.error }
      : isActive(status) || status === "completed"
        ? null
        : live.error;
  return {
    status,
    stage: typeof d.stage === "string" ? d.stage : live.stage,
    // while it runs, a late event never moves the bar back; a new run (queued again) starts over
    progress: status === "completed" ? 100 : status === "running" ? Math.max(live.progress, progress) : progress,
    message: typeof d.message === "string" ? d.message : live.message,
    detail: d.detail && typeof d.detail === "object" ? (d.detail as Detail) : live.detail,
    error,
  };
}

/**
 * What the list says vs what the stream said. The stream is fresher while both see the task active (the row is
 * written once a second); a list that still says active after the stream saw the end is stale; a list that saw the
 * end wins (the stream may have missed it).
 */
export function merge(polled: Live, streamed: Live | null): Live {
  if (!streamed) return polled;
  if (!isActive(polled.status)) return polled;
  if (!isActive(streamed.status)) return streamed;
  return streamed.progress >= polled.progress ? streamed : { ...polled, detail: streamed.detail };
}

export interface ProgressView {
  percent: number; // bar width
  text: string; // "42%"
  speed: string | null;
  eta: string | null;
  size: string | null; // "1.2 MB / 4.0 MB"
}

/** "100%" only once completed: a running task rounds down, so 99.6 % shows "99%". */
export function progressView(live: Live): ProgressView {
  const done = live.status === "completed";
  const p = done ? 100 : Math.min(99, Math.max(0, Math.floor(live.progress)));
  const running = live.status === "running";
  const d = live.detail;
  const spd = running ? num(d.speed) : undefined;
  const left = running ? num(d.eta) : undefined;
  const got = num(d.downloaded_bytes);
  const total = num(d.total_bytes);
  return {
    percent: p,
    text: `${p}%`,
    speed: spd != null && spd > 0 ? speed(spd) : null,
    eta: left != null ? eta(left) : null,
    size: running && got != null ? (total ? `${bytes(got)} / ${bytes(total)}` : bytes(got)) : null,
  };
}
