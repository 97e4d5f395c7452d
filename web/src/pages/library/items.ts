// Small facts about library items shared by the library and the player.
import type { Schemas, Task } from "../../api/client";

export type LibraryDocument = Schemas["LibraryDocument"];

/** A metadata value as text, or null when missing or blank. */
export function text(value: unknown): string | null {
  return typeof value === "string" && value.trim() ? value : null;
}

/** Where a card leads: the player for audio and video, the knowledge page for text documents. */
export function documentLink(doc: LibraryDocument): string {
  return doc.media_url
    ? `/play/document/${encodeURIComponent(doc.id)}`
    : `/knowledge/${encodeURIComponent(doc.dataset_id)}/documents/${encodeURIComponent(doc.id)}`;
}

export function mediaKind(doc: LibraryDocument): "video" | "audio" | "document" {
  if (doc.media_type?.startsWith("audio/") || doc.kind === "audio") return "audio";
  if (doc.media_url || doc.kind === "video") return "video";
  return "document";
}

/** A task's file to play: its video, else its audio. */
export function playableFile(task: Task) {
  return task.files.find((f) => f.kind === "video") ?? task.files.find((f) => f.kind === "audio") ?? null;
}
