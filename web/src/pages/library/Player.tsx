// The player: a knowledge-base document's video (or audio) with its transcript, following playback and marking what a
// citation quoted (?t=START&end=END&q=QUOTE); or a loose download's file, which has no transcript.
import { type ReactNode, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams, useSearchParams } from "react-router";

import { api, type Task, unwrap, withKey } from "../../api/client";
import { ErrorMessage } from "../../components/ErrorMessage";
import { clock, span } from "../../lib/format";
import { useLoad } from "../../lib/hooks";
import { playableFile, text } from "./items";
import "./library.css";
import { citedLines, type Line, lineAt, quoteRanges, type Range, seconds, splitMarked } from "./transcript";

// After the user scrolls the transcript themselves, it stops following playback for this long.
const USER_SCROLL_GRACE_MS = 5000;

export default function PlayerPage() {
  const { t } = useTranslation("library");
  const { kind, id } = useParams();
  if (kind === "document" && id) return <DocumentPlayer id={id} />;
  if (kind === "task" && id) return <TaskPlayer id={id} />;
  return (
    <div className="notice">
      {t("player.badKind")} <Link to="/library">{t("player.back")}</Link>
    </div>
  );
}

/** Plays a line from its start (a click on the transcript or on the cited passage). */
function playFrom(media: HTMLMediaElement | null, time: number) {
  if (!media) return;
  media.currentTime = time;
  void media.play().catch(() => {
    /* the browser may refuse playback without a gesture it counts; the position is set anyway */
  });
}

function DocumentPlayer({ id }: { id: string }) {
  const { t } = useTranslation("library");
  const { t: tc } = useTranslation("common");
  const [params] = useSearchParams();
  const start = seconds(params.get("t"));
  const end = seconds(params.get("end"));
  const quote = params.get("q") ?? "";

  const [indexing, setIndexing] = useState(false);
  const player = useLoad(
    () => unwrap(api.GET("/api/v1/documents/{document_id}/player", { params: { path: { document_id: id } } })),
    [id],
    indexing ? 5000 : undefined, // the transcript appears when indexing ends
  );
  const status = player.data?.document.indexing_status;
  useEffect(() => setIndexing(status != null && status !== "completed" && status !== "error"), [status]);
  const datasetId = player.data?.dataset_id;
  const dataset = useLoad(
    () =>
      datasetId
        ? unwrap(api.GET("/api/v1/datasets/{dataset_id}", { params: { path: { dataset_id: datasetId } } }))
        : Promise.resolve(null),
    [datasetId],
  );

  const mediaRef = useRef<HTMLMediaElement | null>(null);
  const lines = useMemo(() => [...(player.data?.segments ?? [])].sort((a, b) => a.start - b.start), [player.data]);
  const cited = useMemo(() => citedLines(lines, start, end), [lines, start, end]);
  const marks = useMemo(() => {
    const out = new Map<number, Range[]>();
    if (!quote.trim() || cited.length === 0) return out;
    quoteRanges(
      cited.map((i) => lines[i]!.text),
      quote,
    ).forEach((ranges, k) => out.set(cited[k]!, ranges));
    return out;
  }, [lines, cited, quote]);

  // Seek to the cited second once the media knows its duration (and again if the link changes); never autoplay.
  const seekedFor = useRef<string | null>(null);
  const seekToCitation = useCallback(
    (loaded: boolean) => {
      const media = mediaRef.current;
      const key = `${id}@${start}`;
      if (!media || start == null || seekedFor.current === key || !(loaded || media.readyState >= 1)) return;
      seekedFor.current = key;
      media.currentTime = start;
    },
    [id, start],
  );
  useEffect(() => {
    seekToCitation(false);
  }, [seekToCitation, player.data]);

  if (player.error) return <ErrorMessage error={player.error} onRetry={player.reload} />;
  if (!player.data) return <p className="muted">{tc("loading")}</p>;

  const { document: doc, media_url: mediaUrl, media_type: mediaType } = player.data;
  const meta = doc.metadata ?? {};
  const title = text(meta.title) ?? doc.name;
  const duration = typeof meta.duration === "number" ? meta.duration : null;
  const exportUrl = (format: string) =>
    withKey(
      `/api/v1/datasets/${encodeURIComponent(player.data!.dataset_id)}/documents/${encodeURIComponent(doc.id)}/transcript?format=${format}`,
    );

  return (
    <PlayerLayout title={title}>
      <div className="player-media">
        <Media
          ref={mediaRef}
          url={mediaUrl}
          type={mediaType}
          poster={player.data.thumbnail_url}
          onLoadedMetadata={() => seekToCitation(true)}
        />
        {start != null && (
          <div className="notice row">
            <span>{t("player.cited", { span: span(start, end) })}</span>
            <button type="button" className="link" onClick={() => playFrom(mediaRef.current, start)}>
              {t("player.seekTo", { time: clock(start) })}
            </button>
          </div>
        )}
      </div>
      <Transcript lines={lines} cited={cited} marks={marks} mediaRef={mediaRef} />
      <Details
        rows={[
          [
            t("player.knowledgeBase"),
            <Link key="kb" to={`/knowledge/${encodeURIComponent(player.data.dataset_id)}`}>
              {dataset.data?.name ?? player.data.dataset_id}
            </Link>,
          ],
          [t("player.duration"), duration != null ? clock(duration) : null],
          [t("player.source"), doc.source_url ? <ExternalLink url={doc.source_url} /> : null],
        ]}
      >
        <a className="button secondary" href={withKey(`${mediaUrl}?download=true`)} download>
          {t("player.download")}
        </a>
        {lines.length > 0 && (
          <span className="row player-exports">
            <span className="muted small">{t("player.export")}</span>
            {["srt", "vtt", "txt"].map((f) => (
              <a key={f} href={exportUrl(f)} download data-testid={`transcript-export-${f}`}>
                {f.toUpperCase()}
              </a>
            ))}
          </span>
        )}
      </Details>
    </PlayerLayout>
  );
}

/** The player page's frame: the way back to the library, the title, and the media, transcript and details. */
function PlayerLayout({ title, children }: { title: string; children: ReactNode }) {
  const { t } = useTranslation("library");
  return (
    <div className="player">
      <p className="small">
        <Link to="/library">← {t("player.back")}</Link>
      </p>
      <h1>{title}</h1>
      <div className="player-layout">{children}</div>
    </div>
  );
}

function Transcript({
  lines,
  cited,
  marks,
  mediaRef,
}: {
  lines: Line[];
  cited: number[];
  marks: Map<number, Range[]>;
  mediaRef: React.RefObject<HTMLMediaElement | null>;
}) {
  const { t } = useTranslation("library");
  const listRef = useRef<HTMLOListElement>(null);
  const [current, setCurrent] = useState(-1);
  const userScrolledAt = useRef(0);
  const citedSet = useMemo(() => new Set(cited), [cited]);

  // Follow playback: the media element's timeupdate picks the line (a binary search) and React renders only changes.
  useEffect(() => {
    const media = mediaRef.current;
    if (!media) return;
    const update = () => setCurrent(lineAt(lines, media.currentTime));
    update();
    media.addEventListener("timeupdate", update);
    media.addEventListener("seeked", update);
    return () => {
      media.removeEventListener("timeupdate", update);
      media.removeEventListener("seeked", update);
    };
  }, [lines, mediaRef]);

  /** Scrolls the transcript box itself (not the page, so the video stays where it is) to show line `index`. */
  const reveal = useCallback((index: number, always: boolean) => {
    const list = listRef.current;
    const item = list?.querySelector<HTMLElement>(`[data-index="${index}"]`);
    if (!list || !item) return;
    const top = item.getBoundingClientRect().top - list.getBoundingClientRect().top + list.scrollTop;
    const visible = top >= list.scrollTop && top + item.offsetHeight <= list.scrollTop + list.clientHeight;
    if (always || !visible) list.scrollTo({ top: Math.max(0, top - list.clientHeight / 3), behavior: "smooth" });
  }, []);

  useEffect(() => {
    if (cited[0] !== undefined) reveal(cited[0], true);
  }, [cited, reveal]);

  useEffect(() => {
    if (current < 0 || Date.now() - userScrolledAt.current < USER_SCROLL_GRACE_MS) return;
    reveal(current, false);
  }, [current, reveal]);

  const userScrolls = () => {
    userScrolledAt.current = Date.now();
  };

  return (
    <section className="panel player-transcript" aria-labelledby="player-transcript">
      <h2 id="player-transcript">{t("player.transcript")}</h2>
      {lines.length === 0 ? (
        <p className="muted player-pad">
          {t("player.noTranscript")}
        </p>
      ) : (
        <ol
          ref={listRef}
          className="transcript-lines"
          onWheel={userScrolls}
          onTouchMove={userScrolls}
          onKeyDown={userScrolls}
          onPointerDown={userScrolls}
        >
          {lines.map((line, i) => {
            const classes = ["transcript-line", i === current && "current", citedSet.has(i) && "cited"].filter(Boolean);
            return (
              <li key={`${line.start}-${i}`} data-index={i}>
                <button
                  type="button"
                  className={classes.join(" ")}
                  data-testid="transcript-line"
                  data-start={line.start}
                  data-end={line.end}
                  aria-current={i === current ? "true" : undefined}
                  title={t("player.seekTo", { time: clock(line.start) })}
                  onClick={() => {
                    userScrolledAt.current = 0; // a click means "follow from here"
                    playFrom(mediaRef.current, line.start);
                  }}
                >
                  <span className="time mono">{clock(line.start)}</span>
                  <span className="text">
                    {splitMarked(line.text, marks.get(i) ?? []).map((piece, k) =>
                      piece.mark ? (
                        <mark key={k} data-testid="cited-mark">
                          {piece.text}
                        </mark>
                      ) : (
                        <span key={k}>{piece.text}</span>
                      ),
                    )}
                  </span>
                </button>
              </li>
            );
          })}
        </ol>
      )}
    </section>
  );
}

function Media({
  ref,
  url,
  type,
  poster,
  onLoadedMetadata,
}: {
  ref: React.Ref<HTMLMediaElement>;
  url: string;
  type: string | null | undefined;
  poster?: string | null;
  onLoadedMetadata?: () => void;
}) {
  const { t } = useTranslation("library");
  const [failed, setFailed] = useState(false);
  const src = withKey(url);
  const common = {
    src,
    controls: true,
    preload: "metadata" as const,
    "data-testid": "player-video",
    onLoadedMetadata,
    onError: () => setFailed(true),
  };
  return (
    <>
      {type?.startsWith("audio/") ? (
        <audio ref={ref as React.Ref<HTMLAudioElement>} {...common} />
      ) : (
        <video ref={ref as React.Ref<HTMLVideoElement>} playsInline poster={poster ? withKey(poster) : undefined} {...common} />
      )}
      {failed && (
        <div className="error" role="alert">
          {t("player.unsupported")}
        </div>
      )}
    </>
  );
}

function ExternalLink({ url }: { url: string }) {
  return /^https?:\/\//i.test(url) ? (
    <a href={url} target="_blank" rel="noreferrer noopener">
      {url}
    </a>
  ) : (
    <span>{url}</span>
  );
}

function Details({ rows, children }: { rows: Array<[string, ReactNode]>; children?: ReactNode }) {
  return (
    <div className="panel player-meta">
      <dl>
        {rows
          .filter(([, value]) => value != null)
          .map(([label, value]) => (
            <div key={label}>
              <dt>{label}</dt>
              <dd>{value}</dd>
            </div>
          ))}
      </dl>
      <div className="row player-links">{children}</div>
    </div>
  );
}

function TaskPlayer({ id }: { id: string }) {
  const { t } = useTranslation("library");
  const { t: tc } = useTranslation("common");
  const task = useLoad(() => unwrap(api.GET("/api/v1/tasks/{task_id}", { params: { path: { task_id: id } } })), [id]);
  if (task.error) return <ErrorMessage error={task.error} onRetry={task.reload} />;
  if (!task.data) return <p className="muted">{tc("loading")}</p>;
  return <TaskView task={task.data} notice={t("player.taskNoTranscript")} />;
}

function TaskView({ task, notice }: { task: Task; notice: string }) {
  const { t } = useTranslation("library");
  const info = task.video_info ?? {};
  const title = text(info.title) ?? task.url ?? task.id;
  const duration = typeof info.duration === "number" ? info.duration : null;
  const file = playableFile(task);
  return (
    <PlayerLayout title={title}>
      <div className="player-media">
        {file ? (
          <Media
            url={file.url}
            type={file.content_type}
            poster={file.kind === "video" ? `${file.url}/thumbnail` : null}
            ref={null}
          />
        ) : (
          <div className="notice">{t("player.noPlayableFile")}</div>
        )}
      </div>
      <section className="panel player-transcript" aria-labelledby="player-transcript">
        <h2 id="player-transcript">{t("player.transcript")}</h2>
        <div className="player-pad">
          <p>{notice}</p>
          <Link className="button" to="/knowledge">
            {t("player.toKnowledge")}
          </Link>
        </div>
      </section>
      <Details
        rows={[
          [t("player.duration"), duration != null ? clock(duration) : null],
          [t("player.source"), task.url ? <ExternalLink url={task.url} /> : null],
        ]}
      >
        {file && (
          <a className="button secondary" href={withKey(`${file.url}?download=true`)} download>
            {t("player.download")}
          </a>
        )}
      </Details>
    </PlayerLayout>
  );
}
