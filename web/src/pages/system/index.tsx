// System: health, task statistics, storage use with cleanup, configured models and limits. Refreshes every 10 s.
import { type ReactNode, useState } from "react";
import { useTranslation } from "react-i18next";

import { api, unwrap } from "../../api/client";
import { ErrorMessage } from "../../components/ErrorMessage";
import { age, dateTime } from "../../lib/format";
import { useLoad } from "../../lib/hooks";
import {
  budgetPercent,
  type CleanupResult,
  diskState,
  megabytes,
  type RunnerHealth,
  stateClass,
} from "./shapes";
import "./system.css";

const REFRESH_MS = 10_000;
const STATUSES = ["queued", "running", "completed", "failed", "cancelled"] as const;
const MODELS = ["transcription", "embedding", "answers", "rerank"] as const;
const MB_LIMITS = new Set(["max_upload_mb", "max_download_mb", "retention_max_total_mb", "min_free_disk_mb"]);

function Dl({ rows }: { rows: [string, ReactNode][] }) {
  return (
    <dl className="sys-dl">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

function HealthPanel() {
  const { t } = useTranslation("system");
  const health = useLoad(async () => unwrap(api.GET("/api/health")), [], REFRESH_MS);
  const h = health.data;
  const runner = (r: RunnerHealth | undefined) =>
    r ? t("health.runner", { running: r.running, queued: r.queued, concurrency: r.concurrency }) : "–";
  const state = (v: string | undefined) => (
    <span className={`badge ${stateClass(v)}`}>{v ? t(`health.state.${v}`, { defaultValue: v }) : "–"}</span>
  );
  return (
    <section className="panel" data-testid="system-health" aria-labelledby="sys-health">
      <h2 id="sys-health">
        {t("health.title")}{" "}
        {h && (
          <span className={`badge ${h.status}`} data-testid="health-status">
            {t(`health.status.${h.status}`, { defaultValue: h.status })}
          </span>
        )}
      </h2>
      <ErrorMessage error={health.error} onRetry={health.reload} />
      {!h && health.loading && <p className="muted">{t("loading", { ns: "common" })}</p>}
      {h && (
        <>
          <Dl
            rows={[
              [t("health.database"), state(h.services.database)],
              [t("health.jobs"), runner(h.services.job_runner)],
              [t("health.ingest"), runner(h.services.ingest_runner)],
              [t("health.ffmpeg"), <span className="mono small sys-break">{h.services.ffmpeg ?? "–"}</span>],
            ]}
          />
          <p className="muted small">{t("refreshed", { time: dateTime(h.timestamp, "second") })}</p>
        </>
      )}
    </section>
  );
}

function StatsPanel() {
  const { t } = useTranslation("system");
  const stats = useLoad(() => unwrap(api.GET("/api/v1/tasks/stats")), [], REFRESH_MS);
  const s = stats.data;
  const total = s ? Object.values(s.by_status).reduce((a, b) => a + b, 0) : 0;
  return (
    <section className="panel" data-testid="system-stats" aria-labelledby="sys-stats">
      <h2 id="sys-stats">{t("stats.title")}</h2>
      <ErrorMessage error={stats.error} onRetry={stats.reload} />
      {!s && stats.loading && <p className="muted">{t("loading", { ns: "common" })}</p>}
      {s && (
        <>
          <ul className="sys-counts">
            {STATUSES.map((status) => (
              <li key={status} data-status={status}>
                <span className="sys-count mono">{s.by_status[status] ?? 0}</span>
                <span className={`badge ${status}`}>{t(`status.${status}`)}</span>
              </li>
            ))}
            <li>
              <span className="sys-count mono">{total}</span>
              <span className="badge">{t("stats.total")}</span>
            </li>
          </ul>
          <p className="small muted">
            {t("stats.runner", { running: s.running_in_runner, queued: s.queued_in_runner, concurrency: s.concurrency })}
          </p>
        </>
      )}
    </section>
  );
}

function StoragePanel() {
  const { t } = useTranslation("system");
  const storage = useLoad(async () => unwrap(api.GET("/api/v1/storage")), [], REFRESH_MS);
  const [cleaning, setCleaning] = useState(false);
  const [result, setResult] = useState<CleanupResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const s = storage.data;

  async function cleanup() {
    if (!window.confirm(t("storage.confirm"))) return;
    setCleaning(true);
    setError(null);
    setResult(null);
    try {
      setResult(await unwrap(api.POST("/api/v1/storage/cleanup")));
      storage.reload();
    } catch (exc) {
      setError(exc);
    } finally {
      setCleaning(false);
    }
  }

  const disk = s ? diskState(s.free_disk_mb, s.min_free_disk_mb) : "ok";
  return (
    <section className="panel" data-testid="system-storage" aria-labelledby="sys-storage">
      <h2 id="sys-storage">{t("storage.title")}</h2>
      <ErrorMessage error={storage.error} onRetry={storage.reload} />
      {!s && storage.loading && <p className="muted">{t("loading", { ns: "common" })}</p>}
      {s && (
        <>
          <div className="sys-budget">
            <div className="progress" role="progressbar" aria-valuenow={budgetPercent(s)} aria-valuemin={0} aria-valuemax={100}>
              <span style={{ width: `${budgetPercent(s)}%` }} />
            </div>
            <span className="small">
              {t("storage.budget", { used: megabytes(s.total_size_mb), max: megabytes(s.policy.max_total_mb) })}
            </span>
          </div>
          <Dl
            rows={[
              [t("storage.files"), <span className="mono">{s.total_files}</span>],
              [t("storage.size"), <span className="mono">{megabytes(s.total_size_mb)}</span>],
              [
                t("storage.free"),
                <span className={`badge ${disk === "ok" ? "ok" : disk === "low" ? "degraded" : "unavailable"}`}>
                  {megabytes(s.free_disk_mb)}
                </span>,
              ],
              ...(s.total_files
                ? ([
                    [t("storage.oldest"), age(s.oldest_file_hours)],
                    [t("storage.newest"), age(s.newest_file_hours)],
                  ] as [string, ReactNode][])
                : []),
              [t("storage.dir"), <span className="mono small sys-break">{s.temp_dir}</span>],
            ]}
          />
          {disk === "full" && <p className="error small">{t("storage.freeFull", { min: megabytes(s.min_free_disk_mb) })}</p>}
          {disk === "low" && <p className="notice small">{t("storage.freeLow")} {t("storage.minFree", { min: megabytes(s.min_free_disk_mb) })}</p>}
          <p className="small muted">
            {t("storage.policy", {
              keep: s.policy.keep_newest,
              age: s.policy.max_age_hours,
              max: megabytes(s.policy.max_total_mb),
            })}
          </p>
        </>
      )}
      <button
        type="button"
        className="danger"
        data-testid="storage-cleanup"
        disabled={cleaning}
        onClick={() => void cleanup()}
      >
        {cleaning ? t("storage.cleaning") : t("storage.cleanup")}
      </button>
      <ErrorMessage error={error} />
      {result && (
        <p className="notice small" role="status" data-testid="cleanup-result">
          {result.deleted_files
            ? t("storage.result", {
                deleted: result.deleted_files,
                total: result.total_files,
                freed: megabytes(result.freed_space_mb),
                kept: result.preserved_files,
              })
            : t("storage.nothing", { total: result.total_files })}
        </p>
      )}
    </section>
  );
}

function SystemInfoPanels() {
  const { t } = useTranslation("system");
  const system = useLoad(() => unwrap(api.GET("/api/v1/system")), [], REFRESH_MS);
  const s = system.data;
  const limit = (key: string, value: number) =>
    MB_LIMITS.has(key) ? megabytes(value) : key.endsWith("_hours") ? t("limits.hours", { n: value }) : String(value);
  return (
    <>
      <section className="panel" aria-labelledby="sys-service">
        <h2 id="sys-service">{t("service.title")}</h2>
        <ErrorMessage error={system.error} onRetry={system.reload} />
        {!s && system.loading && <p className="muted">{t("loading", { ns: "common" })}</p>}
        {s && (
          <Dl
            rows={[
              [t("service.version"), <span className="mono" data-testid="system-version">{s.version}</span>],
              [
                t("service.deployment"),
                <span data-testid="system-deployment">
                  {t(`service.deploymentKind.${s.deployment}`, { defaultValue: s.deployment })}
                </span>,
              ],
              [t("service.database"), s.database],
              [t("service.apiKeys"), s.api_keys_required ? t("service.apiKeysOn") : t("service.apiKeysOff")],
              [t("service.ffmpeg"), <span className="mono small sys-break">{s.ffmpeg}</span>],
            ]}
          />
        )}
      </section>
      <section className="panel" data-testid="system-models" aria-labelledby="sys-models">
        <h2 id="sys-models">{t("models.title")}</h2>
        {s && (
          <Dl
            rows={[
              ...MODELS.filter((m) => s.models[m]).map((m): [string, ReactNode] => [
                t(`models.${m}`),
                <>
                  <span className="sys-model">{s.models[m]!.name}</span>
                  {Object.keys(s.models[m]!.detail ?? {}).length > 0 && (
                    <span className="muted small mono sys-detail">
                      {Object.entries(s.models[m]!.detail ?? {})
                        .map(([k, v]) => `${k}: ${String(v)}`)
                        .join(" · ")}
                    </span>
                  )}
                </>,
              ]),
              ...Object.entries(s.models)
                .filter(([m]) => !(MODELS as readonly string[]).includes(m))
                .map(([m, info]): [string, ReactNode] => [m, info.name]),
            ]}
          />
        )}
      </section>
      <section className="panel" data-testid="system-limits" aria-labelledby="sys-limits">
        <h2 id="sys-limits">{t("limits.title")}</h2>
        {s && (
          <Dl
            rows={Object.entries(s.limits).map(([k, v]): [string, ReactNode] => [
              t(`limits.${k}`, { defaultValue: k }),
              <span className="mono">{limit(k, v)}</span>,
            ])}
          />
        )}
      </section>
    </>
  );
}

export default function SystemPage() {
  const { t } = useTranslation("system");
  return (
    <div className="system">
      <h1>{t("title")}</h1>
      <div className="sys-grid">
        <HealthPanel />
        <StatsPanel />
        <StoragePanel />
        <SystemInfoPanels />
      </div>
    </div>
  );
}
