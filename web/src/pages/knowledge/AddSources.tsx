// Add sources to a knowledge base: a URL (video page or media file), a finished download, a file, or pasted text.
import { type FormEvent, useRef, useState } from "react";
import { useTranslation } from "react-i18next";

import { api, type DocumentInfo, type Schemas, type Task, unwrap } from "../../api/client";
import { postForm } from "../../api/upload";
import { UploadProgress } from "../../components/UploadProgress";
import { bytes, dateTime } from "../../lib/format";
import { useLoad, useSubmit } from "../../lib/hooks";
import { checkUpload } from "./logic";
import { KbError, TabList } from "./parts";

const KINDS = ["url", "task", "file", "text"] as const;
type Kind = (typeof KINDS)[number];

interface Props {
  datasetId: string;
  onAdded: (doc: DocumentInfo) => void;
}

export default function AddSources({ datasetId, onAdded }: Props) {
  const { t } = useTranslation("knowledge");
  const [kind, setKind] = useState<Kind>("url");
  const [added, setAdded] = useState<DocumentInfo | null>(null);
  const done = (doc: DocumentInfo) => {
    setAdded(doc);
    onAdded(doc);
  };
  return (
    <section className="panel stack" aria-label={t("add.heading")}>
      <div className="row kb-add-head">
        <h2 className="kb-form-title">{t("add.heading")}</h2>
        <TabList
          className="kb-seg"
          label={t("add.heading")}
          tabs={KINDS}
          current={kind}
          testId="source-kind"
          text={(k) => t(`add.kinds.${k}`)}
          onSelect={(k) => {
            setKind(k);
            setAdded(null);
          }}
        />
      </div>
      {kind === "url" && <ByUrl datasetId={datasetId} onAdded={done} />}
      {kind === "task" && <FromTask datasetId={datasetId} onAdded={done} />}
      {kind === "file" && <ByFile datasetId={datasetId} onAdded={done} />}
      {kind === "text" && <ByText datasetId={datasetId} onAdded={done} />}
      {added && (
        <p className="notice" role="status">
          {t("add.added", { name: added.name })}
        </p>
      )}
    </section>
  );
}

/** A source form's onSubmit: POSTs with `post` (nothing to send: null), then clears the form with `reset` and
 *  reports the new document. */
function useAddSource(onAdded: (doc: DocumentInfo) => void) {
  const { busy, error, submit } = useSubmit();
  const onSubmit = (post: (() => Promise<Schemas["DocumentCreated"]>) | null, reset: () => void) => (e: FormEvent) => {
    e.preventDefault();
    if (!post) return;
    void submit(async () => {
      const created = await post();
      reset();
      onAdded(created.document);
    });
  };
  return { busy, error, onSubmit };
}

function ByUrl({ datasetId, onAdded }: Props) {
  const { t } = useTranslation("knowledge");
  const [url, setUrl] = useState("");
  const [name, setName] = useState("");
  const { busy, error, onSubmit } = useAddSource(onAdded);
  const post = () =>
    unwrap(
      api.POST("/api/v1/datasets/{dataset_id}/document/create-by-url", {
        params: { path: { dataset_id: datasetId } },
        body: { url: url.trim(), name: name.trim() || null },
      }),
    );
  const reset = () => {
    setUrl("");
    setName("");
  };
  return (
    <form className="stack" onSubmit={onSubmit(post, reset)}>
      <p className="muted small">{t("add.urlExplain")}</p>
      <div className="row">
        <label className="grow kb-wide">
          {t("add.url")}
          <input
            data-testid="source-url-input"
            type="url"
            required
            maxLength={4096}
            value={url}
            placeholder="https://…"
            onChange={(e) => setUrl(e.target.value)}
          />
        </label>
        <label className="grow">
          {t("add.nameOptional")}
          <input value={name} maxLength={500} onChange={(e) => setName(e.target.value)} />
        </label>
        <button type="submit" data-testid="source-url-submit" disabled={busy || !url.trim()} className="kb-align-end">
          {busy ? t("add.adding") : t("add.submit")}
        </button>
      </div>
      <KbError error={error} />
    </form>
  );
}

function taskTitle(task: Task): string {
  const title = task.video_info?.["title"];
  if (typeof title === "string" && title) return title;
  const file = task.files?.[0]?.name;
  return file || task.url || task.id;
}

function FromTask({ datasetId, onAdded }: Props) {
  const { t } = useTranslation("knowledge");
  const tasks = useLoad(
    () => unwrap(api.GET("/api/v1/tasks", { params: { query: { status: ["completed"], limit: 100 } } })),
    [],
  );
  const [taskId, setTaskId] = useState("");
  const { busy, error, onSubmit } = useAddSource(onAdded);
  const items = tasks.data?.items ?? [];
  const post = () =>
    unwrap(
      api.POST("/api/v1/datasets/{dataset_id}/document/create-from-task", {
        params: { path: { dataset_id: datasetId } },
        body: { task_id: taskId },
      }),
    );
  return (
    <form className="stack" onSubmit={onSubmit(post, () => setTaskId(""))}>
      <p className="muted small">{t("add.taskExplain")}</p>
      <KbError error={tasks.error} onRetry={tasks.reload} />
      {tasks.loading && !tasks.data && <p className="muted">{t("loading", { ns: "common" })}</p>}
      {tasks.data && items.length === 0 && <p className="muted">{t("add.noTasks")}</p>}
      {items.length > 0 && (
        <div className="row">
          <label className="grow kb-wide">
            {t("add.task")}
            <select data-testid="source-task-select" value={taskId} required onChange={(e) => setTaskId(e.target.value)}>
              <option value="">{t("add.pickTask")}</option>
              {items.map((task) => (
                <option key={task.id} value={task.id}>
                  {taskTitle(task)}
                  {task.completed_at ? ` — ${dateTime(task.completed_at)}` : ""}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" data-testid="source-task-submit" disabled={busy || !taskId} className="kb-align-end">
            {busy ? t("add.adding") : t("add.submit")}
          </button>
        </div>
      )}
      <KbError error={error} />
    </form>
  );
}

function ByFile({ datasetId, onAdded }: Props) {
  const { t } = useTranslation("knowledge");
  const system = useLoad(() => unwrap(api.GET("/api/v1/system")), []);
  const maxMb = system.data?.limits?.["max_upload_mb"];
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState("");
  const [refused, setRefused] = useState("");
  const [sent, setSent] = useState<number | null>(null); // percent of the file sent, while uploading
  const input = useRef<HTMLInputElement>(null);
  const { busy, error, onSubmit } = useAddSource(onAdded);

  const choose = (f: File | null) => {
    setRefused("");
    setFile(null);
    if (!f) return;
    const check = checkUpload(f, maxMb);
    if (!check.ok) {
      setRefused(
        check.reason === "empty"
          ? t("add.fileEmpty", { name: f.name })
          : t("add.fileTooLarge", { name: f.name, size: bytes(f.size), max: check.maxMb }),
      );
      if (input.current) input.current.value = "";
      return;
    }
    setFile(f);
  };

  const upload = async (chosen: File) => {
    const form = new FormData();
    form.append("file", chosen, chosen.name);
    if (name.trim()) form.append("name", name.trim());
    setSent(0);
    try {
      const url = `/api/v1/datasets/${encodeURIComponent(datasetId)}/document/create-by-file`;
      return await postForm<Schemas["DocumentCreated"]>(url, form, setSent);
    } finally {
      setSent(null);
    }
  };
  const reset = () => {
    setFile(null);
    setName("");
    if (input.current) input.current.value = "";
  };

  return (
    <form className="stack" onSubmit={onSubmit(file ? () => upload(file) : null, reset)}>
      <p className="muted small">
        {t("add.fileExplain")}{" "}
        {maxMb != null && <span data-testid="upload-limit">{t("add.fileLimit", { max: maxMb })}</span>}
      </p>
      <div className="row">
        <label className="grow kb-wide">
          {t("add.file")}
          <input
            ref={input}
            data-testid="source-file-input"
            type="file"
            disabled={busy}
            accept="video/*,audio/*,.pdf,.docx,.html,.htm,.md,.markdown,.txt,.srt,.vtt"
            onChange={(e) => choose(e.target.files?.[0] ?? null)}
          />
        </label>
        <label className="grow">
          {t("add.nameOptional")}
          <input value={name} maxLength={500} onChange={(e) => setName(e.target.value)} />
        </label>
        <button type="submit" data-testid="source-file-submit" disabled={busy || !file} className="kb-align-end">
          {busy ? t("add.uploading") : t("add.upload")}
        </button>
      </div>
      {file && sent == null && <p className="small muted">{t("add.fileChosen", { name: file.name, size: bytes(file.size) })}</p>}
      {file && sent != null && <UploadProgress name={file.name} percent={sent} />}
      {refused && (
        <p className="error" role="alert">
          {refused}
        </p>
      )}
      <KbError error={error} />
    </form>
  );
}

function ByText({ datasetId, onAdded }: Props) {
  const { t } = useTranslation("knowledge");
  const [name, setName] = useState("");
  const [text, setText] = useState("");
  const { busy, error, onSubmit } = useAddSource(onAdded);
  const post = () =>
    unwrap(
      api.POST("/api/v1/datasets/{dataset_id}/document/create-by-text", {
        params: { path: { dataset_id: datasetId } },
        body: { name: name.trim(), text },
      }),
    );
  const reset = () => {
    setName("");
    setText("");
  };
  return (
    <form className="stack" onSubmit={onSubmit(post, reset)}>
      <label className="kb-block">
        {t("add.textName")}
        <input data-testid="source-text-name" value={name} required maxLength={500} onChange={(e) => setName(e.target.value)} />
      </label>
      <label className="kb-block">
        {t("add.text")}
        <textarea data-testid="source-text-input" value={text} required rows={6} onChange={(e) => setText(e.target.value)} />
      </label>
      <div className="row">
        <button type="submit" data-testid="source-text-submit" disabled={busy || !name.trim() || !text.trim()}>
          {busy ? t("add.adding") : t("add.submit")}
        </button>
      </div>
      <KbError error={error} />
    </form>
  );
}
