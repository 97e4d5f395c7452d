// One task: live progress from its event stream while queued or running, its files and actions once finished.
import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { api, type Task, type TaskFile, unwrap, withKey } from "../../api/client";
import { ErrorMessage } from "../../components/ErrorMessage";
import { bytes, clock, dateTime } from "../../lib/format";
import { useEventStream } from "../../lib/hooks";
import { type Action, actionsFor, applyEvent, isActive, type Live, liveOf, merge, progressView } from "./progress";

// The service's own words for a stage (src/vidrag/services/download_job.py): the stage name already says them.
const STAGE_MESSAGES = new Set(["Queued", "Downloading", "Extracting audio", "Saving files", "Done"]);

/** The task's live state: the list's copy, overtaken by its event stream while it is active. */
export function useLiveTask(task: Task, onFinished: () => void, stream = true): Live {
  const polled = liveOf(task);
  const [streamed, setStreamed] = useState<Live | null>(null);
  const wasActive = useRef(isActive(task.status));
  const finished = useRef(onFinished);
  finished.current = onFinished;

  // Run again (retried here or elsewhere): forget what the last run's stream said.
  useEffect(() => {
    if (isActive(task.status) && !wasActive.current) setStreamed(null);
    wasActive.current = isActive(task.status);
  }, [task.status]);

  const live = merge(polled, stream ? streamed : null); // a row that lost its stream shows the poll
  const active = isActive(live.status);
  useEventStream(task.events_url, active && stream, (data) => setStreamed((s) => applyEvent(s ?? liveOf(task), data)));

  // Finished while we watched: load the list again for the files it made.
  const watched = useRef(active);
  useEffect(() => {
    if (watched.current && !active) finished.current();
    watched.current = active;
  }, [active]);

  return live;
}

function titleOf(task: Task, t: (k: string) => string): string {
  const title = task.video_info?.title;
  if (typeof title === "string" && title) return title;
  if (task.url) return task.url;
  return t("task.upload");
}

function Thumbnail({ file, title }: { file: TaskFile | undefined; title: string }) {
  const { t } = useTranslation("downloads");
  const [failed, setFailed] = useState(false);
  if (!file || failed) return <div className="dl-thumb dl-thumb-empty" aria-hidden="true" />;
  return (
    <img
      className="dl-thumb thumb"
      src={withKey(`/api/v1/files/${encodeURIComponent(file.name)}/thumbnail`)}
      alt={t("task.thumbnail", { title })}
      loading="lazy"
      onError={() => setFailed(true)}
    />
  );
}

export interface TaskCardProps {
  task: Task;
  onChanged: () => void;
  /** Follow the task's event stream (the page opens a few at most: a browser has ~6 connections per host). */
  stream?: boolean;
}

export function TaskCard({ task, onChanged, stream = true }: TaskCardProps) {
  const { t } = useTranslation("downloads");
  const live = useLiveTask(task, onChanged, stream);
  const [busy, setBusy] = useState<Action | null>(null);
  const [error, setError] = useState<unknown>(null);
  const view = progressView(live);
  const active = isActive(live.status);
  const title = titleOf(task, t);
  const duration = typeof task.video_info?.duration === "number" ? task.video_info.duration : null;
  const video = task.files.find((f) => f.kind === "video");
  const playable = task.files.some((f) => f.kind === "video" || f.kind === "audio");
  const files = task.files.filter((f) => f.kind !== "thumbnail");
  const stage = live.stage ? t(`stage.${live.stage}`, { defaultValue: live.stage }) : "";

  async function act(action: Action) {
    if (action === "delete" && !window.confirm(t("task.confirmDelete"))) return;
    setBusy(action);
    setError(null);
    try {
      const path = { params: { path: { task_id: task.id } } };
      if (action === "cancel") await unwrap(api.POST("/api/v1/tasks/{task_id}/cancel", path));
      else if (action === "retry") await unwrap(api.POST("/api/v1/tasks/{task_id}/retry", path));
      else await unwrap(api.DELETE("/api/v1/tasks/{task_id}", path));
      onChanged();
    } catch (exc) {
      setError(exc);
    } finally {
      setBusy(null);
    }
  }

  return (
    <li className="panel dl-task" data-testid="task-row" data-task-id={task.id} data-status={live.status}>
      <Thumbnail key={video?.name} file={live.status === "completed" ? video : undefined} title={title} />
      <div className="dl-body">
        <div className="dl-head">
          <span className={`badge ${live.status}`}>{t(`status.${live.status}`)}</span>
          <span className="dl-title" title={task.url ?? title}>
            {task.url && title !== task.url ? (
              <a href={task.url} target="_blank" rel="noreferrer noopener">
                {title}
              </a>
            ) : (
              title
            )}
          </span>
        </div>
        {task.url && title !== task.url && <span className="small muted dl-url">{task.url}</span>}
        <div className="dl-meta small muted">
          {duration != null && <span>{t("task.duration", { time: clock(duration) })}</span>}
          <span>{t("task.created", { time: dateTime(task.created_at) })}</span>
        </div>

        {(active || live.status === "completed") && (
          <div className="dl-progress">
            <div className="progress" role="progressbar" aria-valuenow={view.percent} aria-valuemin={0} aria-valuemax={100}>
              <span style={{ width: `${view.percent}%` }} />
            </div>
            <span className="mono dl-percent" data-testid="task-progress">
              {view.text}
            </span>
          </div>
        )}
        {active && (
          <div className="dl-meta small">
            {stage && <span>{stage}</span>}
            {live.message && !STAGE_MESSAGES.has(live.message) && <span className="muted">{live.message}</span>}
            {view.size && <span className="mono">{view.size}</span>}
            {view.speed && (
              <span className="mono">
                {t("task.speed")} {view.speed}
              </span>
            )}
            {view.eta && (
              <span className="mono">
                {t("task.eta")} {view.eta}
              </span>
            )}
          </div>
        )}

        {live.error && !active && (
          <div className="error small dl-error" role="status">
            <span>{t(`taskError.${live.error.code}`, { defaultValue: t("taskError.fallback") })}</span>
            <span className="dl-error-detail">{live.error.message}</span>
          </div>
        )}

        {live.status === "completed" && files.length > 0 && (
          <ul className="dl-files small" aria-label={t("task.files")}>
            {files.map((f) => (
              <li key={f.name}>
                <a
                  href={withKey(`/api/v1/files/${encodeURIComponent(f.name)}?download=true`)}
                  download={f.name}
                  data-testid="task-file-link"
                >
                  {t(`task.kind.${f.kind}`, { defaultValue: f.kind })} · {f.name.split(".").pop()}
                </a>{" "}
                <span className="muted mono">{bytes(f.size_bytes)}</span>
              </li>
            ))}
          </ul>
        )}

        <ErrorMessage error={error} />

        <div className="row dl-actions">
          {live.status === "completed" && playable && (
            <Link className="button secondary" to={`/play/task/${task.id}`}>
              {t("task.play")}
            </Link>
          )}
          {actionsFor(live.status).map((action) => (
            <button
              key={action}
              type="button"
              className={action === "delete" ? "danger" : "secondary"}
              data-testid={`task-${action}`}
              disabled={busy != null}
              onClick={() => void act(action)}
            >
              {t(`task.${action}`)}
            </button>
          ))}
        </div>
      </div>
    </li>
  );
}
