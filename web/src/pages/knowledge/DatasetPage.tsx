// /knowledge/:datasetId: one knowledge base, in tabs (?tab=): documents (with add sources), hit testing, settings.
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";

import { api, type Dataset, unwrap } from "../../api/client";
import { useLoad, useSubmit } from "../../lib/hooks";
import AddSources from "./AddSources";
import Documents from "./Documents";
import HitTesting from "./HitTesting";
import { ConfirmButton, KbError, TabList } from "./parts";

const TABS = ["documents", "hit", "settings"] as const;
type Tab = (typeof TABS)[number];

export default function DatasetPage() {
  const { t } = useTranslation("knowledge");
  const { datasetId = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const tab: Tab = (TABS as readonly string[]).includes(params.get("tab") ?? "") ? (params.get("tab") as Tab) : "documents";
  const ds = useLoad(
    () => unwrap(api.GET("/api/v1/datasets/{dataset_id}", { params: { path: { dataset_id: datasetId } } })),
    [datasetId],
  );
  // Bumped when a source is added, so the documents table loads again.
  const [added, setAdded] = useState(0);

  return (
    <div className="kb">
      <p className="small">
        <Link to="/knowledge">← {t("title")}</Link>
      </p>
      <KbError error={ds.error} onRetry={ds.reload} />
      {ds.loading && !ds.data && <p className="muted">{t("loading", { ns: "common" })}</p>}
      {ds.data && (
        <>
          <h1>{ds.data.name}</h1>
          {ds.data.description && <p className="muted">{ds.data.description}</p>}
          <TabList
            className="kb-tabs"
            tabClassName="kb-tab"
            label={t("tabs.label")}
            tabs={TABS}
            current={tab}
            testId="kb-tab"
            text={(name) => t(`tabs.${name}`)}
            onSelect={(name) => setParams(name === "documents" ? {} : { tab: name }, { replace: true })}
          />
          {tab === "documents" && (
            <>
              <AddSources datasetId={ds.data.id} onAdded={() => setAdded((n) => n + 1)} />
              <Documents datasetId={ds.data.id} refresh={added} />
            </>
          )}
          {tab === "hit" && <HitTesting datasetId={ds.data.id} />}
          {tab === "settings" && <Settings dataset={ds.data} onSaved={ds.reload} />}
        </>
      )}
    </div>
  );
}

function Settings({ dataset, onSaved }: { dataset: Dataset; onSaved: () => void }) {
  const { t } = useTranslation("knowledge");
  const navigate = useNavigate();
  const [name, setName] = useState(dataset.name);
  const [description, setDescription] = useState(dataset.description);
  const { busy, error, submit } = useSubmit();
  const [note, setNote] = useState("");
  const path = { dataset_id: dataset.id };

  const run = (work: () => Promise<unknown>, done: string) => {
    setNote("");
    return submit(async () => {
      await work();
      setNote(done);
      onSaved();
    });
  };

  return (
    <div className="stack">
      <form
        className="panel stack"
        onSubmit={(e) => {
          e.preventDefault();
          void run(
            () => unwrap(api.PATCH("/api/v1/datasets/{dataset_id}", { params: { path }, body: { name: name.trim(), description } })),
            t("settings.saved"),
          );
        }}
      >
        <label className="kb-block">
          {t("create.name")}
          <input value={name} maxLength={255} required onChange={(e) => setName(e.target.value)} />
        </label>
        <label className="kb-block">
          {t("create.description")}
          <textarea value={description} maxLength={5000} onChange={(e) => setDescription(e.target.value)} />
        </label>
        <div className="row">
          <button type="submit" disabled={busy || !name.trim()}>
            {t("save", { ns: "common" })}
          </button>
        </div>
      </form>
      <div className="panel stack">
        <h2 className="kb-form-title">{t("settings.embedding")}</h2>
        <p>
          <span className="mono">{dataset.embedding_model}</span>{" "}
          <span className="muted small">{t("settings.dimension", { n: dataset.embedding_model_dimension })}</span>
        </p>
        <p className="muted small">{t("settings.reembedExplain")}</p>
        <div className="row">
          <button
            type="button"
            className="secondary"
            disabled={busy}
            onClick={() => void run(() => unwrap(api.POST("/api/v1/datasets/{dataset_id}/reembed", { params: { path } })), t("settings.reembedStarted"))}
          >
            {t("settings.reembed")}
          </button>
        </div>
      </div>
      <KbError error={error} />
      {note && (
        <p className="notice" role="status">
          {note}
        </p>
      )}
      <div className="panel stack">
        <h2 className="kb-form-title">{t("settings.danger")}</h2>
        <p className="muted small">{t("settings.deleteExplain")}</p>
        <div className="row">
          <ConfirmButton
            label={t("settings.delete")}
            question={t("list.confirmDelete", { name: dataset.name })}
            testId="kb-delete"
            onConfirm={async () => {
              await unwrap(api.DELETE("/api/v1/datasets/{dataset_id}", { params: { path } }));
              void navigate("/knowledge");
            }}
          />
        </div>
      </div>
    </div>
  );
}
