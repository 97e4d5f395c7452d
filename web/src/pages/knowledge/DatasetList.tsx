// /knowledge: the knowledge bases (name, description, documents, embedding model), create one, delete one.
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { api, type Dataset, unwrap } from "../../api/client";
import { useLoad, useSubmit } from "../../lib/hooks";
import { ConfirmButton, KbError } from "./parts";

export default function DatasetList() {
  const { t } = useTranslation("knowledge");
  const list = useLoad(() => unwrap(api.GET("/api/v1/datasets", { params: { query: { limit: 100 } } })), []);
  const datasets = list.data?.data ?? [];

  return (
    <div className="kb">
      <h1>{t("title")}</h1>
      <CreateDataset onCreated={list.reload} />
      <h2>
        {t("list.heading")} {list.data && <span className="muted small">({list.data.total})</span>}
      </h2>
      <KbError error={list.error} onRetry={list.reload} />
      {list.loading && !list.data && <p className="muted">{t("loading", { ns: "common" })}</p>}
      {list.data && datasets.length === 0 && <p className="muted">{t("list.empty")}</p>}
      <div className="grid">
        {datasets.map((d) => (
          <DatasetCard key={d.id} dataset={d} onDeleted={list.reload} />
        ))}
      </div>
    </div>
  );
}

function DatasetCard({ dataset: d, onDeleted }: { dataset: Dataset; onDeleted: () => void }) {
  const { t } = useTranslation("knowledge");
  return (
    <article className="panel kb-card">
      <Link to={`/knowledge/${d.id}`} data-testid="kb-item" data-dataset-id={d.id} className="kb-card-name">
        {d.name}
      </Link>
      <p className={d.description ? "kb-card-desc" : "kb-card-desc muted"}>{d.description || t("list.noDescription")}</p>
      <p className="small muted">
        {t("list.documents", { count: d.document_count })} · {t("list.model", { model: d.embedding_model })}
      </p>
      <div className="row">
        <Link className="button secondary" to={`/knowledge/${d.id}`}>
          {t("list.open")}
        </Link>
        <ConfirmButton
          label={t("delete", { ns: "common" })}
          question={t("list.confirmDelete", { name: d.name })}
          onConfirm={async () => {
            await unwrap(api.DELETE("/api/v1/datasets/{dataset_id}", { params: { path: { dataset_id: d.id } } }));
            onDeleted();
          }}
        />
      </div>
    </article>
  );
}

function CreateDataset({ onCreated }: { onCreated: () => void }) {
  const { t } = useTranslation("knowledge");
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [chunkTokens, setChunkTokens] = useState("");
  const { busy, error, submit } = useSubmit();
  const [created, setCreated] = useState<Dataset | null>(null);

  const create = (e: React.FormEvent) => {
    e.preventDefault();
    if (!name.trim()) return;
    setCreated(null);
    void submit(async () => {
      // Transcript chunk length: shorter chunks make citations point at a sentence rather than a minute.
      const tokens = Number(chunkTokens);
      const process_rule = chunkTokens && tokens > 0 ? { transcript: { max_tokens: tokens } } : undefined;
      const d = await unwrap(
        api.POST("/api/v1/datasets", {
          body: { name: name.trim(), description: description.trim(), process_rule },
        }),
      );
      setCreated(d);
      setName("");
      setDescription("");
      setChunkTokens("");
      onCreated();
    });
  };

  return (
    <form className="panel stack" onSubmit={create} aria-label={t("create.heading")}>
      <h2 className="kb-form-title">{t("create.heading")}</h2>
      <div className="row">
        <label className="grow">
          {t("create.name")}
          <input
            data-testid="kb-create-name"
            value={name}
            maxLength={255}
            required
            placeholder={t("create.namePlaceholder")}
            onChange={(e) => setName(e.target.value)}
          />
        </label>
        <label className="grow">
          {t("create.description")}
          <input
            value={description}
            maxLength={5000}
            placeholder={t("create.descriptionPlaceholder")}
            onChange={(e) => setDescription(e.target.value)}
          />
        </label>
        <label title={t("create.chunkTokensHelp")}>
          {t("create.chunkTokens")}
          <input
            data-testid="kb-create-chunk-tokens"
            type="number"
            min={10}
            max={2000}
            step={1}
            value={chunkTokens}
            placeholder="160"
            onChange={(e) => setChunkTokens(e.target.value)}
          />
        </label>
        <button type="submit" data-testid="kb-create-submit" disabled={busy || !name.trim()} className="kb-align-end">
          {busy ? t("create.creating") : t("create.submit")}
        </button>
      </div>
      <KbError error={error} />
      {created && (
        <p className="notice" role="status">
          {t("create.done", { name: created.name })} <Link to={`/knowledge/${created.id}`}>{t("list.open")}</Link>
        </p>
      )}
    </form>
  );
}
