// /knowledge/:datasetId/documents/:documentId: a document's chunks, paged, with times, headings, hit counts;
// enable/disable and edit each.
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";

import { api, type DocumentInfo, type Segment, unwrap, withKey } from "../../api/client";
import { span } from "../../lib/format";
import { useLoad, useSubmit } from "../../lib/hooks";
import { badgeClass, StageList } from "./Documents";
import { isMedia, playerLink, queryTerms, stagesOf } from "./logic";
import { documentErrorText, Highlighted, KbError, ListHeader } from "./parts";
import { Pager } from "../../components/Pager";

const LIMIT = 20;
type StatusFilter = "" | "enabled" | "disabled";

export default function SegmentsPage() {
  const { t } = useTranslation("knowledge");
  const { datasetId = "", documentId = "" } = useParams();
  const path = { dataset_id: datasetId, document_id: documentId };
  const doc = useLoad(() => unwrap(api.GET("/api/v1/datasets/{dataset_id}/documents/{document_id}", { params: { path } })), [datasetId, documentId]);
  const [page, setPage] = useState(1);
  const [search, setSearch] = useState("");
  const [status, setStatus] = useState<StatusFilter>("");
  const segs = useLoad(
    () =>
      unwrap(
        api.GET("/api/v1/datasets/{dataset_id}/documents/{document_id}/segments", {
          params: { path, query: { page, limit: LIMIT, keyword: search || undefined, status: status || undefined } },
        }),
      ),
    [datasetId, documentId, page, search, status],
  );
  const pages = segs.data ? Math.max(1, Math.ceil(segs.data.total / LIMIT)) : 1;
  const terms = queryTerms(search);

  return (
    <div className="kb">
      <p className="small">
        <Link to="/knowledge">{t("title")}</Link> / <Link to={`/knowledge/${datasetId}`}>{t("segments.back")}</Link>
      </p>
      <KbError error={doc.error} onRetry={doc.reload} />
      {doc.data && <DocumentHeader datasetId={datasetId} doc={doc.data} />}
      <section className="panel stack" aria-label={t("segments.heading")}>
        <ListHeader
          title={t("segments.heading")}
          total={segs.data?.total}
          search={t("segments.filter")}
          searchTestId="segment-filter"
          onSearch={(keyword) => {
            setPage(1);
            setSearch(keyword);
          }}
        >
          <select
            aria-label={t("segments.status")}
            value={status}
            onChange={(e) => {
              setPage(1);
              setStatus(e.target.value as StatusFilter);
            }}
          >
            <option value="">{t("segments.all")}</option>
            <option value="enabled">{t("segments.enabledOnly")}</option>
            <option value="disabled">{t("segments.disabledOnly")}</option>
          </select>
        </ListHeader>
        <KbError error={segs.error} onRetry={segs.reload} />
        {segs.loading && !segs.data && <p className="muted">{t("loading", { ns: "common" })}</p>}
        {segs.data && segs.data.data.length === 0 && <p className="muted">{search || status ? t("segments.noMatch") : t("segments.empty")}</p>}
        <ol className="kb-segments">
          {segs.data?.data.map((s) => (
            <SegmentItem key={s.id} datasetId={datasetId} segment={s} terms={terms} media={doc.data ? isMedia(doc.data) : false} />
          ))}
        </ol>
        <Pager page={page} pages={pages} onPage={setPage} className="kb-pager" />
      </section>
    </div>
  );
}

function DocumentHeader({ datasetId, doc }: { datasetId: string; doc: DocumentInfo }) {
  const { t } = useTranslation("knowledge");
  const media = isMedia(doc);
  return (
    <div className="panel stack">
      <div className="row">
        <h1 className="grow kb-doc-title">{doc.name}</h1>
        <span className={`badge ${badgeClass(doc.indexing_status)}`}>{t(`status.${doc.indexing_status}`, { defaultValue: doc.indexing_status })}</span>
        {media && doc.indexing_status === "completed" && (
          <Link className="button secondary" to={`/play/document/${doc.id}`}>
            {t("docs.play")}
          </Link>
        )}
        {media && doc.indexing_status === "completed" && (
          <a className="button secondary" href={withKey(`/api/v1/datasets/${datasetId}/documents/${doc.id}/transcript?format=srt`)}>
            {t("segments.transcript")}
          </a>
        )}
      </div>
      <p className="small muted">
        {t(`kinds.${doc.kind ?? "unknown"}`, { defaultValue: doc.kind ?? "" })} · {t(`sources.${doc.source}`, { defaultValue: doc.source })}
        {doc.source_url && (
          <>
            {" · "}
            <a href={doc.source_url} rel="noreferrer noopener" target="_blank" className="kb-break">
              {doc.source_url}
            </a>
          </>
        )}
        {doc.word_count > 0 && <> · {t("docs.words", { count: doc.word_count })}</>}
      </p>
      <StageList stages={stagesOf(doc)} />
      {doc.indexing_status === "error" && (
        <p className="error" role="alert">
          {documentErrorText(t, doc.error_code, doc.error)}
        </p>
      )}
    </div>
  );
}

function SegmentItem({ datasetId, segment, terms, media }: { datasetId: string; segment: Segment; terms: string[]; media: boolean }) {
  const { t } = useTranslation("knowledge");
  const [s, setS] = useState(segment);
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(segment.content);
  const { busy, error, submit } = useSubmit();
  const path = { dataset_id: datasetId, document_id: s.document_id, segment_id: s.id };

  const update = (body: { content?: string; enabled?: boolean }) => {
    const before = s;
    // The switch follows the click at once; it goes back if the service refuses.
    if (body.enabled !== undefined) setS({ ...s, enabled: body.enabled });
    return submit(async () => {
      try {
        const next = await unwrap(
          api.POST("/api/v1/datasets/{dataset_id}/documents/{document_id}/segments/{segment_id}", { params: { path }, body: { segment: body } }),
        );
        setS(next);
        setDraft(next.content);
        setEditing(false);
      } catch (exc) {
        setS(before);
        throw exc;
      }
    });
  };

  return (
    <li className={s.enabled ? "kb-segment" : "kb-segment disabled"} data-testid="segment-row" data-segment-id={s.id} data-enabled={s.enabled}>
      <div className="row small kb-segment-head">
        <span className="mono muted">#{s.position + 1}</span>
        {s.start != null &&
          (media ? (
            <Link className="chip" to={playerLink(s.document_id, s.start, s.end, "")}>
              ▶ {span(s.start, s.end)}
            </Link>
          ) : (
            <span className="chip">{span(s.start, s.end)}</span>
          ))}
        {s.chapter && <span>{t("segments.chapter", { name: s.chapter })}</span>}
        {s.heading && <span className="kb-heading">{s.heading}</span>}
        {s.page != null && <span>{t("segments.page", { n: s.page })}</span>}
        <span className="muted">{t("segments.hits", { count: s.hit_count })}</span>
        <span className="muted hide-phone">{t("segments.tokens", { count: s.tokens })}</span>
        <span className="grow" />
        <label className="inline">
          <input
            type="checkbox"
            role="switch"
            checked={s.enabled}
            disabled={busy}
            data-testid="segment-enabled"
            onChange={(e) => void update({ enabled: e.target.checked })}
          />
          {s.enabled ? t("segments.enabled") : t("segments.disabled")}
        </label>
        {!editing && (
          <button type="button" className="link" onClick={() => setEditing(true)} data-testid="segment-edit">
            {t("segments.edit")}
          </button>
        )}
      </div>
      {editing ? (
        <form
          className="stack"
          onSubmit={(e) => {
            e.preventDefault();
            void update({ content: draft });
          }}
        >
          <label>
            <span className="sr-only">{t("segments.content")}</span>
            <textarea value={draft} rows={6} aria-label={t("segments.content")} onChange={(e) => setDraft(e.target.value)} />
          </label>
          <p className="small muted">{t("segments.editExplain")}</p>
          <div className="row">
            <button type="submit" disabled={busy || !draft.trim() || draft === s.content} data-testid="segment-save">
              {t("save", { ns: "common" })}
            </button>
            <button
              type="button"
              className="secondary"
              onClick={() => {
                setEditing(false);
                setDraft(s.content);
              }}
            >
              {t("cancel", { ns: "common" })}
            </button>
          </div>
        </form>
      ) : (
        <p className="kb-content">
          <Highlighted text={s.content} terms={terms} />
        </p>
      )}
      <KbError error={error} />
    </li>
  );
}
