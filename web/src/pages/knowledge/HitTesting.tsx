// Hit testing: ask the knowledge base a query the way the answer engine would, and see what comes back.
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { api, type Schemas, unwrap } from "../../api/client";
import { span } from "../../lib/format";
import { useLoad } from "../../lib/hooks";
import { buildRetrieve, DEFAULT_FORM, type HitForm, playerLink, queryTerms, type SearchMode } from "./logic";
import { Highlighted, KbError } from "./parts";

const MODES: SearchMode[] = ["hybrid", "semantic", "keyword"];
const KINDS = ["video", "audio", "pdf", "docx", "html", "markdown", "text", "captions"];
type Record_ = Schemas["Record"];

export default function HitTesting({ datasetId }: { datasetId: string }) {
  const { t } = useTranslation("knowledge");
  const [form, setForm] = useState<HitForm>(DEFAULT_FORM);
  const [invalid, setInvalid] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<{ query: string; records: Record_[]; ms: number } | null>(null);
  const docs = useLoad(
    () =>
      unwrap(
        api.GET("/api/v1/datasets/{dataset_id}/documents", { params: { path: { dataset_id: datasetId }, query: { limit: 100 } } }),
      ),
    [datasetId],
  );
  const set = <K extends keyof HitForm>(key: K, value: HitForm[K]) => setForm((f) => ({ ...f, [key]: value }));
  const toggle = (key: "documentIds" | "kinds", value: string) =>
    setForm((f) => ({ ...f, [key]: f[key].includes(value) ? f[key].filter((v) => v !== value) : [...f[key], value] }));

  const run = async (e: React.FormEvent) => {
    e.preventDefault();
    const built = buildRetrieve(form);
    if (!built.ok) {
      setInvalid(t(`hit.invalid.${built.field}`));
      return;
    }
    setInvalid("");
    setBusy(true);
    setError(null);
    const began = performance.now();
    try {
      const r = await unwrap(
        api.POST("/api/v1/datasets/{dataset_id}/retrieve", { params: { path: { dataset_id: datasetId } }, body: built.request }),
      );
      setResult({ query: built.request.query, records: r.records, ms: Math.round(performance.now() - began) });
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(false);
    }
  };

  const terms = result ? queryTerms(result.query) : [];
  const documents = docs.data?.data ?? [];

  return (
    <div className="kb-hit">
      <form className="panel stack" onSubmit={run} aria-label={t("hit.heading")}>
        <label className="kb-block">
          {t("hit.query")}
          <textarea
            data-testid="hit-query"
            value={form.query}
            rows={2}
            maxLength={2000}
            placeholder={t("hit.queryPlaceholder")}
            onChange={(e) => set("query", e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) e.currentTarget.form?.requestSubmit();
            }}
          />
        </label>
        <div className="row">
          <fieldset className="kb-seg" aria-label={t("hit.mode")}>
            <legend className="sr-only">{t("hit.mode")}</legend>
            {MODES.map((m) => (
              <label key={m} className={form.mode === m ? "active" : ""}>
                <input type="radio" name="mode" value={m} checked={form.mode === m} onChange={() => set("mode", m)} data-testid={`hit-mode-${m}`} />
                {t(`hit.modes.${m}`)}
              </label>
            ))}
          </fieldset>
          {form.mode === "hybrid" && (
            <label className="kb-weight">
              {t("hit.weights", { semantic: form.semanticWeight.toFixed(2), keyword: (1 - form.semanticWeight).toFixed(2) })}
              <input
                type="range"
                min={0}
                max={1}
                step={0.05}
                value={form.semanticWeight}
                data-testid="hit-weight"
                onChange={(e) => set("semanticWeight", Number(e.target.value))}
              />
            </label>
          )}
          <label>
            {t("hit.topK")}
            <input
              type="number"
              min={1}
              max={100}
              value={form.topK}
              className="kb-num"
              onChange={(e) => set("topK", Number(e.target.value))}
            />
          </label>
          <label>
            {t("hit.threshold")}
            <input
              type="number"
              min={0}
              max={1}
              step={0.05}
              className="kb-num"
              placeholder={t("hit.none")}
              value={form.scoreThreshold ?? ""}
              onChange={(e) => set("scoreThreshold", e.target.value === "" ? null : Number(e.target.value))}
            />
          </label>
        </div>
        <details className="kb-filters">
          <summary>
            {t("hit.filters")}
            {(form.documentIds.length > 0 || form.kinds.length > 0 || form.timeFrom || form.timeTo) && (
              <span className="badge running">{t("hit.filtersOn")}</span>
            )}
          </summary>
          <div className="stack">
            <fieldset>
              <legend>{t("hit.kinds")}</legend>
              <div className="row">
                {KINDS.map((k) => (
                  <label key={k} className="inline">
                    <input type="checkbox" checked={form.kinds.includes(k)} onChange={() => toggle("kinds", k)} />
                    {t(`kinds.${k}`)}
                  </label>
                ))}
              </div>
            </fieldset>
            <div className="row">
              <label>
                {t("hit.timeFrom")}
                <input className="kb-num" placeholder="0:00" value={form.timeFrom} onChange={(e) => set("timeFrom", e.target.value)} />
              </label>
              <label>
                {t("hit.timeTo")}
                <input className="kb-num" placeholder="1:30" value={form.timeTo} onChange={(e) => set("timeTo", e.target.value)} />
              </label>
              <span className="small muted">{t("hit.timeExplain")}</span>
            </div>
            <fieldset>
              <legend>{t("hit.documents")}</legend>
              <KbError error={docs.error} onRetry={docs.reload} />
              {documents.length === 0 && docs.data && <p className="muted small">{t("docs.empty")}</p>}
              <div className="kb-doc-filter">
                {documents.map((d) => (
                  <label key={d.id} className="inline">
                    <input type="checkbox" checked={form.documentIds.includes(d.id)} onChange={() => toggle("documentIds", d.id)} />
                    {d.name}
                    <span className="muted small">{t(`kinds.${d.kind ?? "unknown"}`, { defaultValue: d.kind ?? "" })}</span>
                  </label>
                ))}
              </div>
            </fieldset>
          </div>
        </details>
        {invalid && (
          <p className="error" role="alert">
            {invalid}
          </p>
        )}
        <div className="row">
          <button type="submit" data-testid="hit-submit" disabled={busy || !form.query.trim()}>
            {busy ? t("hit.searching") : t("hit.submit")}
          </button>
        </div>
      </form>
      <KbError error={error} />
      {result && (
        <section className="stack" aria-label={t("hit.results")} aria-live="polite">
          <h2>
            {t("hit.resultCount", { count: result.records.length })} <span className="small muted">{result.ms} ms</span>
          </h2>
          {result.records.length === 0 && <p className="muted">{t("hit.noResults")}</p>}
          {result.records.map((r, i) => (
            <Hit key={`${r.segment.id}-${i}`} record={r} rank={i + 1} query={result.query} terms={terms} />
          ))}
        </section>
      )}
    </div>
  );
}

function Hit({ record, rank, query, terms }: { record: Record_; rank: number; query: string; terms: string[] }) {
  const { t } = useTranslation("knowledge");
  const s = record.segment;
  const doc = s.document as { id?: string; name?: string; kind?: string | null };
  const docId = doc.id ?? s.document_id;
  const timed = s.start != null;
  return (
    <article className="panel kb-hit-result" data-testid="hit-result" data-document-id={docId}>
      <div className="row kb-hit-head">
        <span className="muted small mono">#{rank}</span>
        <span className="badge ok mono" title={t("hit.score")}>
          {record.score.toFixed(3)}
        </span>
        {record.semantic_score != null && (
          <span className="small muted mono">
            {t("hit.semantic")} {record.semantic_score.toFixed(3)}
          </span>
        )}
        {record.keyword_score != null && (
          <span className="small muted mono">
            {t("hit.keyword")} {record.keyword_score.toFixed(3)}
          </span>
        )}
        <strong className="grow kb-hit-doc">{doc.name ?? docId}</strong>
        {timed && (
          <Link className="chip" to={playerLink(docId, s.start, s.end, query)} data-testid="hit-time">
            ▶ {span(s.start ?? 0, s.end)}
          </Link>
        )}
      </div>
      {(s.page != null || s.heading || s.chapter) && (
        <p className="small muted">
          {[s.chapter && t("segments.chapter", { name: s.chapter }), s.heading, s.page != null && t("segments.page", { n: s.page })]
            .filter(Boolean)
            .join(" · ")}
        </p>
      )}
      <p className="kb-content">
        <Highlighted text={s.content} terms={terms} />
      </p>
    </article>
  );
}
