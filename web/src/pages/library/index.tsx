// The library: every knowledge base's videos, audio and documents as cards, and the downloads no knowledge base uses.
import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";

import { api, type Task, unwrap } from "../../api/client";
import { ErrorMessage } from "../../components/ErrorMessage";
import { clock } from "../../lib/format";
import { useLoad } from "../../lib/hooks";
import { documentLink, type LibraryDocument, mediaKind, playableFile, text } from "./items";
import { Thumb } from "./Thumb";
import "./library.css";
import { Pager } from "../../components/Pager";

const KINDS = ["all", "video", "audio", "media", "document"] as const;
type Kind = (typeof KINDS)[number];
const PAGE = 24;
const TASK_PAGE = 12;

export default function LibraryPage() {
  const { t } = useTranslation("library");
  const [params, setParams] = useSearchParams();
  const kind: Kind = (KINDS as readonly string[]).includes(params.get("kind") ?? "") ? (params.get("kind") as Kind) : "all";
  const keyword = params.get("q") ?? "";
  const page = Math.max(1, Number(params.get("page")) || 1);
  const [draft, setDraft] = useState(keyword);

  const update = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    setParams(next, { replace: true });
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    update({ q: draft.trim() || null, page: null });
  };

  return (
    <div className="library">
      <h1>{t("title")}</h1>
      <form className="row library-filters" role="search" onSubmit={submit}>
        <label className="grow">
          {t("search")}
          <input
            type="search"
            value={draft}
            placeholder={t("searchPlaceholder")}
            onChange={(e) => setDraft(e.target.value)}
            data-testid="library-search"
          />
        </label>
        <label>
          {t("kind")}
          <select
            value={kind}
            onChange={(e) => update({ kind: e.target.value === "all" ? null : e.target.value, page: null })}
            data-testid="library-kind"
          >
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {t(`kinds.${k}`)}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">{t("search")}</button>
      </form>
      <Documents kind={kind} keyword={keyword} page={page} onPage={(p) => update({ page: p > 1 ? String(p) : null })} />
      <Downloads keyword={keyword} />
    </div>
  );
}

function Documents({ kind, keyword, page, onPage }: { kind: Kind; keyword: string; page: number; onPage: (p: number) => void }) {
  const { t } = useTranslation("library");
  const { t: tc } = useTranslation("common");
  const docs = useLoad(
    () =>
      unwrap(
        api.GET("/api/v1/documents", { params: { query: { kind, keyword: keyword || undefined, page, limit: PAGE } } }),
      ),
    [kind, keyword, page],
  );
  const pages = docs.data ? Math.max(1, Math.ceil(docs.data.total / PAGE)) : 1;
  return (
    <section aria-labelledby="library-documents">
      <h2 id="library-documents">{t("documents")}</h2>
      <ErrorMessage error={docs.error} onRetry={docs.reload} />
      {docs.loading && !docs.data && <p className="muted">{tc("loading")}</p>}
      {docs.data && docs.data.data.length === 0 && <p className="muted">{t("noDocuments")}</p>}
      <div className="grid library-grid">
        {docs.data?.data.map((doc) => <DocumentCard key={doc.id} doc={doc} />)}
      </div>
      <Pager page={page} pages={pages} onPage={onPage} className="library-pager" />
    </section>
  );
}

function DocumentCard({ doc }: { doc: LibraryDocument }) {
  const { t } = useTranslation("library");
  const meta = doc.metadata ?? {};
  const title = text(meta.title) ?? doc.name;
  const uploader = text(meta.uploader);
  const duration = typeof meta.duration === "number" ? meta.duration : null;
  const kind = mediaKind(doc);
  const status = doc.indexing_status;
  return (
    <Link to={documentLink(doc)} className="library-card" data-testid="library-item" data-document-id={doc.id}>
      <Thumb url={doc.thumbnail_url} kind={kind} alt={title} duration={duration} />
      <div className="library-card-body">
        <strong className="library-card-title" title={title}>
          {title}
        </strong>
        <span className="muted small library-card-line">
          {doc.dataset_name}
          {uploader && ` · ${t("by", { name: uploader })}`}
        </span>
        <span className="row library-card-meta small">
          <span className="badge">{t(`kindLabel.${kind}`)}</span>
          {status !== "completed" && (
            <span className={`badge ${status === "error" ? "error" : "indexing"}`}>
              {t(`status.${status}`, { defaultValue: status })}
            </span>
          )}
          <span className="muted">{t("words", { count: doc.word_count })}</span>
          <span className="muted">{t("segments", { count: doc.segment_count })}</span>
        </span>
      </div>
    </Link>
  );
}

function Downloads({ keyword }: { keyword: string }) {
  const { t } = useTranslation("library");
  const { t: tc } = useTranslation("common");
  const [limit, setLimit] = useState(TASK_PAGE);
  const tasks = useLoad(
    () =>
      unwrap(
        api.GET("/api/v1/tasks", {
          params: { query: { status: ["completed"], in_knowledge_base: false, q: keyword || undefined, limit } },
        }),
      ),
    [keyword, limit],
  );
  return (
    <section aria-labelledby="library-downloads">
      <h2 id="library-downloads">{t("downloads")}</h2>
      <p className="muted small">{t("downloadsHint")}</p>
      <ErrorMessage error={tasks.error} onRetry={tasks.reload} />
      {tasks.loading && !tasks.data && <p className="muted">{tc("loading")}</p>}
      {tasks.data && tasks.data.items.length === 0 && <p className="muted">{t("noDownloads")}</p>}
      <div className="grid library-grid">
        {tasks.data?.items.map((task) => <TaskCard key={task.id} task={task} />)}
      </div>
      {tasks.data && tasks.data.total > tasks.data.items.length && (
        <button type="button" className="secondary library-more" onClick={() => setLimit((n) => Math.min(200, n + TASK_PAGE))}>
          {t("more")}
        </button>
      )}
    </section>
  );
}

function TaskCard({ task }: { task: Task }) {
  const { t } = useTranslation("library");
  const info = task.video_info ?? {};
  const title = text(info.title) ?? task.url ?? task.id;
  const uploader = text(info.uploader);
  const duration = typeof info.duration === "number" ? info.duration : null;
  const file = playableFile(task);
  const video = file?.kind === "video";
  return (
    <Link to={`/play/task/${encodeURIComponent(task.id)}`} className="library-card" data-testid="library-item" data-task-id={task.id}>
      <Thumb url={video && file ? `${file.url}/thumbnail` : null} kind={video ? "video" : "audio"} alt={title} duration={duration} />
      <div className="library-card-body">
        <strong className="library-card-title" title={title}>
          {title}
        </strong>
        <span className="muted small library-card-line">{uploader ? t("by", { name: uploader }) : task.url}</span>
        <span className="row library-card-meta small">
          <span className="badge">{t(`kindLabel.${video ? "video" : "audio"}`)}</span>
          {duration != null && <span className="muted">{clock(duration)}</span>}
        </span>
      </div>
    </Link>
  );
}
