// Paste URLs (one a line) or upload a file, with the options every new task gets; one POST per URL.
import { type FormEvent, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";

import { api, ApiError, apiErrorOf, type Schemas, type Task } from "../../api/client";
import { postForm } from "../../api/upload";
import { ErrorMessage } from "../../components/ErrorMessage";
import { UploadProgress } from "../../components/UploadProgress";
import { parseUrls } from "./urls";

export const QUALITIES = [2160, 1440, 1080, 720, 480, 360] as const;
const AUDIO_FORMATS: Schemas["AudioFormat"][] = ["mp3", "m4a", "opus", "wav"];

export interface Options {
  maxHeight: number | null;
  audio: Schemas["AudioFormat"] | "none";
  keepVideo: boolean;
  subtitles: boolean;
}

/** The form's options as the task body the service expects (src/vidrag/api/schemas/tasks.py TaskCreate). */
export function taskBody(url: string, o: Options): Schemas["TaskCreate"] {
  return {
    url,
    extract_audio: o.audio !== "none",
    audio_format: o.audio === "none" ? "mp3" : o.audio,
    keep_video: o.keepVideo,
    max_height: o.keepVideo ? o.maxHeight : null,
    subtitles: o.subtitles,
  };
}

interface Outcome {
  url: string;
  created?: boolean;
  error?: unknown;
}

/** POST one upload with upload progress; resolves to the task or throws an ApiError. */
function uploadFile(file: File, o: Options, onProgress: (percent: number) => void): Promise<Task> {
  const form = new FormData();
  form.append("file", file);
  form.append("extract_audio", String(o.audio !== "none"));
  form.append("keep_video", String(o.keepVideo));
  if (o.audio !== "none") form.append("audio_format", o.audio);
  return postForm<Task>("/api/v1/uploads", form, onProgress);
}

export function SubmitForm({ onSubmitted }: { onSubmitted: () => void }) {
  const { t } = useTranslation("downloads");
  const [text, setText] = useState("");
  const [options, setOptions] = useState<Options>({ maxHeight: null, audio: "mp3", keepVideo: true, subtitles: true });
  const [checked, setChecked] = useState(false); // show problems once the user tried to send
  const [sending, setSending] = useState(false);
  const [outcomes, setOutcomes] = useState<Outcome[]>([]);
  const [upload, setUpload] = useState<{ name: string; percent: number; done?: boolean; error?: unknown } | null>(null);
  const parsed = useMemo(() => parseUrls(text), [text]);
  const nothingToDo = options.audio === "none" && !options.keepVideo;
  const set = (patch: Partial<Options>) => setOptions((o) => ({ ...o, ...patch }));

  async function submit(e: FormEvent) {
    e.preventDefault();
    setChecked(true);
    if (parsed.problems.length || !parsed.urls.length || nothingToDo) return;
    setSending(true);
    const results = await Promise.all(
      parsed.urls.map(async (url): Promise<Outcome> => {
        try {
          const { response, error } = await api.POST("/api/v1/tasks", { body: taskBody(url, options) });
          if (!response.ok) return { url, error: await apiErrorOf(response, error) };
          return { url, created: response.status === 201 };
        } catch (exc) {
          return { url, error: new ApiError(0, "network", exc instanceof Error ? exc.message : String(exc)) };
        }
      }),
    );
    setSending(false);
    setOutcomes(results);
    // keep only what failed in the box, so it can be fixed and sent again
    setText(results.filter((r) => r.error).map((r) => r.url).join("\n"));
    setChecked(false);
    onSubmitted();
  }

  async function sendFile(file: File) {
    setUpload({ name: file.name, percent: 0 });
    try {
      await uploadFile(file, options, (percent) => setUpload({ name: file.name, percent }));
      setUpload({ name: file.name, percent: 100, done: true });
      onSubmitted();
    } catch (exc) {
      setUpload({ name: file.name, percent: 0, error: exc });
    }
  }

  const failed = outcomes.filter((o) => o.error);
  const sent = outcomes.filter((o) => !o.error);

  return (
    <form className="panel stack dl-form" onSubmit={(e) => void submit(e)} noValidate>
      <label className="dl-urls">
        {t("form.urls")}
        <textarea
          data-testid="url-input"
          value={text}
          rows={3}
          placeholder={t("form.placeholder")}
          spellCheck={false}
          autoCapitalize="off"
          autoCorrect="off"
          onChange={(e) => setText(e.target.value)}
        />
      </label>
      <div className="row dl-options">
        <label>
          {t("form.quality")}
          <select
            value={options.maxHeight ?? ""}
            disabled={!options.keepVideo}
            onChange={(e) => set({ maxHeight: e.target.value ? Number(e.target.value) : null })}
          >
            <option value="">{t("form.qualityBest")}</option>
            {QUALITIES.map((h) => (
              <option key={h} value={h}>
                {t("form.qualityAtMost", { height: h })}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t("form.audio")}
          <select value={options.audio} onChange={(e) => set({ audio: e.target.value as Options["audio"] })}>
            {AUDIO_FORMATS.map((f) => (
              <option key={f} value={f}>
                {f.toUpperCase()}
              </option>
            ))}
            <option value="none">{t("form.audioNone")}</option>
          </select>
        </label>
        <label className="inline">
          <input type="checkbox" checked={options.keepVideo} onChange={(e) => set({ keepVideo: e.target.checked })} />
          {t("form.keepVideo")}
        </label>
        <label className="inline">
          <input type="checkbox" checked={options.subtitles} onChange={(e) => set({ subtitles: e.target.checked })} />
          {t("form.subtitles")}
        </label>
      </div>

      {nothingToDo && <p className="error small">{t("form.nothingToDo")}</p>}
      {checked && !parsed.urls.length && !parsed.problems.length && <p className="error small">{t("form.empty")}</p>}
      {parsed.problems.length > 0 && (
        <div className="error small" role="alert" data-testid="url-problems">
          <span>{t("form.problemsTitle")}</span>
          <ul>
            {parsed.problems.map((p) => (
              <li key={p.line}>{t(`form.problem.${p.reason}`, { line: p.line, text: p.text })}</li>
            ))}
          </ul>
        </div>
      )}
      {parsed.duplicates > 0 && <p className="muted small">{t("form.duplicates", { count: parsed.duplicates })}</p>}

      <div className="row">
        <button
          type="submit"
          data-testid="submit-urls"
          disabled={sending || nothingToDo || parsed.problems.length > 0}
        >
          {sending ? t("form.submitting") : parsed.urls.length > 1
              ? t("form.submitMany", { count: parsed.urls.length })
              : t("form.submit")}
        </button>
        <label className="button secondary dl-upload">
          {t("form.upload")}
          <input
            type="file"
            className="sr-only"
            accept="video/*,audio/*"
            data-testid="upload-input"
            disabled={nothingToDo || (upload != null && !upload.done && !upload.error)}
            onChange={(e) => {
              const file = e.target.files?.[0];
              e.target.value = "";
              if (file) void sendFile(file);
            }}
          />
        </label>
      </div>

      {upload?.done && (
        <p className="notice small" role="status">
          {t("form.uploaded", { name: upload.name })}
        </p>
      )}
      {upload && !upload.done && !upload.error && <UploadProgress name={upload.name} percent={upload.percent} />}
      {upload?.error != null && <ErrorMessage error={upload.error} />}

      {sent.length > 0 && (
        <ul className="notice small dl-outcomes" role="status">
          {sent.map((o) => (
            <li key={o.url}>
              <span className="mono">{o.url}</span> — {o.created ? t("form.queued") : t("form.existing")}
            </li>
          ))}
        </ul>
      )}
      {failed.length > 0 && (
        <div className="dl-outcomes" data-testid="submit-errors">
          <p className="small">{t("form.failedTitle")}</p>
          {failed.map((o) => (
            <div key={o.url}>
              <span className="mono small">{o.url}</span>
              <ErrorMessage error={o.error} />
            </div>
          ))}
        </div>
      )}
    </form>
  );
}
