// A knowledge base's documents: indexing status per stage, live by SSE while indexing, and actions.
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { api, type DocumentInfo, unwrap } from "../../api/client";
import { dateTime, took } from "../../lib/format";
import { useEventStream, useLoad, useSubmit } from "../../lib/hooks";
import { isMedia, isTerminal, type StageView, stagesOf } from "./logic";
import { ConfirmButton, documentErrorText, KbError, ListHeader } from "./parts";
import { Pager } from "../../components/Pager";

const LIMIT = 20;
// Browsers allow ~6 HTTP/1.1 connections per host: follow at most this many documents by SSE, poll the rest.
const MAX_STREAMS = 3;
const POLL_MS = 4000;

export default function Documents({ datasetId, refresh }: { datasetId: string; refresh: number }) {
  const { t } = useTranslation("knowledge");
  const [page, setPage] = useState(1);
  const [search, setSearch] = useState("");
  const [poll, setPoll] = useState(false);
  const docs = useLoad(
    () =>
      unwrap(
        api.GET("/api/v1/datasets/{dataset_id}/documents", {
          params: { path: { dataset_id: datasetId }, query: { page, limit: LIMIT, keyword: search || undefined } },
        }),
      ),
    [datasetId, page, search, refresh],
    poll ? POLL_MS : undefined,
  );
  const rows = docs.data?.data ?? [];
  const streamed = new Set(rows.filter((d) => !isTerminal(d.indexing_status)).slice(0, MAX_STREAMS).map((d) => d.id));
  const needsPoll = rows.some((d) => !isTerminal(d.indexing_status) && !streamed.has(d.id));
  useEffect(() => setPoll(needsPoll), [needsPoll]);
  const pages = docs.data ? Math.max(1, Math.ceil(docs.data.total / LIMIT)) : 1;

  return (
    <section className="panel stack" aria-label={t("docs.heading")}>
      <ListHeader
        title={t("docs.heading")}
        total={docs.data?.total}
        search={t("docs.search")}
        onSearch={(keyword) => {
          setPage(1);
          setSearch(keyword);
        }}
      />
      <KbError error={docs.error} onRetry={docs.reload} />
      {docs.loading && !docs.data && <p className="muted">{t("loading", { ns: "common" })}</p>}
      {docs.data && rows.length === 0 && <p className="muted">{search ? t("docs.noMatch") : t("docs.empty")}</p>}
      {rows.length > 0 && (
        <div className="table-wrap">
          <table className="responsive kb-docs">
            <thead>
              <tr>
                <th>{t("docs.name")}</th>
                <th>{t("docs.status")}</th>
                <th className="hide-phone">{t("docs.chunks")}</th>
                <th>{t("docs.actions")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((d) => (
                <DocumentRow key={d.id} datasetId={datasetId} doc={d} live={streamed.has(d.id)} onChanged={docs.reload} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager page={page} pages={pages} onPage={setPage} className="kb-pager" />
    </section>
  );
}

interface Live {
  indexing_status: string;
  progress: number;
  stages: Record<string, unknown>;
  error: string | null;
  error_code: string | null;
}

/** The document, followed by SSE while it is not finished (if `live`); `onDone` when it finishes. Events apply to
 *  the `doc` they arrived with: when the table loads again, its fresher row wins. */
function useLiveDocument(datasetId: string, doc: DocumentInfo, live: boolean, onDone: () => void): DocumentInfo {
  const [latest, setLatest] = useState<{ base: DocumentInfo; event: Live } | null>(null);
  const event = latest && latest.base === doc ? latest.event : null;
  const terminal = isTerminal(event?.indexing_status ?? doc.indexing_status);
  const url = `/api/v1/datasets/${encodeURIComponent(datasetId)}/documents/${encodeURIComponent(doc.id)}/events`;

  useEventStream(url, live && !terminal, (data) => {
    const e = data as Partial<Live>;
    if (typeof e.indexing_status !== "string") return;
    setLatest({
      base: doc,
      event: {
        indexing_status: e.indexing_status,
        progress: typeof e.progress === "number" ? e.progress : 0,
        stages: (e.stages ?? {}) as Record<string, unknown>,
        error: e.error ?? null,
        error_code: e.error_code ?? null,
      },
    });
    if (isTerminal(e.indexing_status)) onDone();
  });

  return event ? { ...doc, ...event } : doc;
}

export function DocumentRow({
  datasetId,
  doc: initial,
  live = true,
  onChanged,
}: {
  datasetId: string;
  doc: DocumentInfo;
  /** follow it by SSE while indexing (else the table polls) */
  live?: boolean;
  onChanged: () => void;
}) {
  const { t } = useTranslation("knowledge");
  const doc = useLiveDocument(datasetId, initial, live, onChanged);
  const { busy, error, submit } = useSubmit();
  const stages = stagesOf(doc);
  const status = doc.indexing_status;
  const terminal = isTerminal(status);
  const media = isMedia(doc) && (doc.kind === "video" || doc.kind === "audio" || doc.kind == null);
  const path = { dataset_id: datasetId, document_id: doc.id };

  const reindex = () =>
    submit(async () => {
      await unwrap(api.POST("/api/v1/datasets/{dataset_id}/documents/{document_id}/reindex", { params: { path } }));
      onChanged();
    });

  return (
    <tr data-testid="document-row" data-document-id={doc.id} data-status={status}>
      <td className="kb-doc-name">
        <Link to={`/knowledge/${datasetId}/documents/${doc.id}`}>{doc.name}</Link>
        <div className="small muted">
          {t(`kinds.${doc.kind ?? "unknown"}`, { defaultValue: doc.kind ?? "" })} · {t(`sources.${doc.source}`, { defaultValue: doc.source })}
          {doc.word_count > 0 && <> · {t("docs.words", { count: doc.word_count })}</>}
        </div>
      </td>
      <td className="kb-doc-status">
        <span className={`badge ${badgeClass(status)}`}>{t(`status.${status}`, { defaultValue: status })}</span>{" "}
        {!terminal && <span className="small mono">{Math.round(doc.progress)}%</span>}
        {!terminal && (
          <div
            className="progress kb-progress"
            data-testid="document-progress"
            role="progressbar"
            aria-label={t("docs.progress")}
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={Math.round(doc.progress)}
          >
            <span style={{ width: `${Math.min(100, Math.max(0, doc.progress))}%` }} />
          </div>
        )}
        <StageList stages={stages} />
        {status === "error" && (
          <p className="error small" role="alert">
            {documentErrorText(t, doc.error_code, doc.error)}
          </p>
        )}
        <KbError error={error} />
      </td>
      <td className="hide-phone mono">{terminal ? doc.segment_count : "–"}</td>
      <td>
        <div className="row kb-actions">
          <Link className="button secondary" to={`/knowledge/${datasetId}/documents/${doc.id}`}>
            {t("docs.segments")}
          </Link>
          {media && status === "completed" && (
            <Link className="button secondary" to={`/play/document/${doc.id}`} data-testid="document-play">
              {t("docs.play")}
            </Link>
          )}
          <button type="button" className="secondary" disabled={busy || !terminal} onClick={() => void reindex()} data-testid="document-reindex">
            {t("docs.reindex")}
          </button>
          <ConfirmButton
            label={t("delete", { ns: "common" })}
            question={t("docs.confirmDelete", { name: doc.name })}
            testId="document-delete"
            onConfirm={async () => {
              await unwrap(api.DELETE("/api/v1/datasets/{dataset_id}/documents/{document_id}", { params: { path } }));
              onChanged();
            }}
          />
        </div>
      </td>
    </tr>
  );
}

export function badgeClass(status: string): string {
  if (status === "completed") return "completed";
  if (status === "error") return "failed";
  if (status === "waiting") return "waiting";
  return "running";
}

const MARK: Record<StageView["state"], string> = { done: "✓", running: "●", failed: "✕", pending: "○" };

/** The stages in a row: each with its state mark and how long it took; the details (times, error) in a tooltip. */
export function StageList({ stages }: { stages: StageView[] }) {
  const { t } = useTranslation("knowledge");
  return (
    <ol className="kb-stages" aria-label={t("docs.stages")}>
      {stages.map((s) => {
        const state = t(`stageState.${s.state}`);
        const title = [
          `${t(`stages.${s.name}`, { defaultValue: s.name })}: ${state}`,
          s.startedAt && t("docs.started", { at: dateTime(s.startedAt, "second") }),
          s.completedAt && t("docs.completed", { at: dateTime(s.completedAt, "second") }),
          s.error,
        ]
          .filter(Boolean)
          .join("\n");
        return (
          <li key={s.name} className={`kb-stage ${s.state}`} title={title} data-stage={s.name} data-state={s.state}>
            <span aria-hidden="true">{MARK[s.state]}</span> {t(`stages.${s.name}`, { defaultValue: s.name })}
            <span className="sr-only"> ({state})</span>
            {s.state === "done" && s.seconds != null && <span className="muted"> {took(s.seconds)}</span>}
          </li>
        );
      })}
    </ol>
  );
}
