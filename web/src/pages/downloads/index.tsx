// Downloads: paste URLs or upload a file, then watch each task live (SSE), play or download what it made.
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { api, unwrap } from "../../api/client";
import { ErrorMessage } from "../../components/ErrorMessage";
import { useLoad } from "../../lib/hooks";
import "./downloads.css";
import type { Status } from "./progress";
import { SubmitForm } from "./SubmitForm";
import { TaskCard } from "./TaskCard";

const POLL_MS = 4000; // the fallback; live progress comes from each task's event stream
const PAGE = 50;
// Each event stream holds one of the browser's ~6 connections per host (HTTP/1.1): follow a few, poll the rest.
export const MAX_STREAMS = 3;

/** The active tasks to follow live: running ones first, then the oldest queued (next to start). */
export function streamed(tasks: { id: string; status: Status }[], max = MAX_STREAMS): Set<string> {
  const running = tasks.filter((t) => t.status === "running");
  const queued = tasks.filter((t) => t.status === "queued").reverse();
  return new Set([...running, ...queued].slice(0, max).map((t) => t.id));
}

type Filter = "all" | "active" | Status;
const FILTERS: Filter[] = ["all", "active", "queued", "running", "completed", "failed", "cancelled"];

export function statusQuery(filter: Filter): Status[] | undefined {
  if (filter === "all") return undefined;
  if (filter === "active") return ["queued", "running"];
  return [filter];
}

export default function DownloadsPage() {
  const { t } = useTranslation("downloads");
  const [filter, setFilter] = useState<Filter>("all");
  const [limit, setLimit] = useState(PAGE);
  const tasks = useLoad(
    () => unwrap(api.GET("/api/v1/tasks", { params: { query: { status: statusQuery(filter), limit } } })),
    [filter, limit],
    POLL_MS,
  );
  const page = tasks.data;
  const live = streamed(page?.items ?? []);

  return (
    <div className="downloads">
      <h1>{t("title")}</h1>
      <SubmitForm onSubmitted={tasks.reload} />

      <section aria-labelledby="dl-tasks-title">
        <div className="row dl-list-head">
          <h2 id="dl-tasks-title" className="grow">
            {t("list.title")}
            {page && page.total > 0 && (
              <span className="muted small"> · {t("list.shown", { shown: page.items.length, total: page.total })}</span>
            )}
          </h2>
          <label className="inline">
            {t("list.filter")}
            <select
              value={filter}
              data-testid="status-filter"
              onChange={(e) => {
                setFilter(e.target.value as Filter);
                setLimit(PAGE);
              }}
            >
              {FILTERS.map((f) => (
                <option key={f} value={f}>
                  {f === "all" || f === "active" ? t(`list.${f}`) : t(`status.${f}`)}
                </option>
              ))}
            </select>
          </label>
        </div>

        <ErrorMessage error={tasks.error} onRetry={tasks.reload} />
        {!page && tasks.loading && <p className="muted">{t("loading", { ns: "common" })}</p>}
        {page && page.items.length === 0 && (
          <p className="muted">{filter === "all" ? t("list.empty") : t("list.emptyFiltered")}</p>
        )}
        {page && page.items.length > 0 && (
          <ul className="dl-list">
            {page.items.map((task) => (
              <TaskCard key={task.id} task={task} onChanged={tasks.reload} stream={live.has(task.id)} />
            ))}
          </ul>
        )}
        {page && page.total > page.items.length && limit < 200 && (
          <button type="button" className="secondary" onClick={() => setLimit((n) => Math.min(200, n + PAGE))}>
            {t("list.more")}
          </button>
        )}
      </section>
    </div>
  );
}
