import "./ask.css";

import { type FormEvent, type KeyboardEvent, useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";

import { api, ApiError, unwrap } from "../../api/client";
import { postStream } from "../../api/sse";
import { ErrorMessage } from "../../components/ErrorMessage";
import { useLoad } from "../../lib/hooks";
import {
  applyEvent,
  type Citation,
  citationLabel,
  citationLink,
  historyOf,
  splitCitations,
  type StreamEvent,
  type Turn,
} from "./logic";

function CitationChip({ c }: { c: Citation }) {
  const { t } = useTranslation("ask");
  const link = citationLink(c);
  const label = citationLabel(c, (page) => t("page", { page }));
  const attrs = {
    className: "chip",
    "data-testid": "citation-chip",
    "data-document-id": c.document.id,
    "data-start": c.start ?? undefined,
    "data-end": c.end ?? undefined,
    title: c.quote,
  };
  return link ? (
    <Link to={link} {...attrs} aria-label={t("openAt", { title: c.document.name, time: label })}>
      <b>[{c.n}]</b> {label}
    </Link>
  ) : (
    <span {...attrs}>
      <b>[{c.n}]</b> {label}
    </span>
  );
}

function AnswerText({ turn }: { turn: Turn }) {
  const byNumber = new Map((turn.sources ?? []).map((c) => [c.n, c]));
  return (
    <p className="answer-text">
      {splitCitations(turn.content).map((piece, i) => {
        if ("text" in piece) return <span key={i}>{piece.text}</span>;
        const c = byNumber.get(piece.cite);
        const link = c && citationLink(c);
        return link ? (
          <Link key={i} to={link} className="cite-marker" title={c.quote}>
            [{piece.cite}]
          </Link>
        ) : (
          <sup key={i}>[{piece.cite}]</sup>
        );
      })}
    </p>
  );
}

function Message({ turn }: { turn: Turn }) {
  const { t } = useTranslation("ask");
  if (turn.role === "user") {
    return (
      <div className="msg user">
        <span className="who">{t("you")}</span>
        <p>{turn.content}</p>
      </div>
    );
  }
  const error = turn.error as { code?: string; message?: string } | undefined;
  return (
    <div className="msg assistant" data-testid="answer" data-streaming={turn.streaming ? "true" : "false"}>
      <span className="who">{t("assistant")}</span>
      {turn.content ? <AnswerText turn={turn} /> : turn.streaming && <p className="muted">{t("thinking")}</p>}
      {turn.supported === false && <p className="notice small">{t("unsupported")}</p>}
      {turn.mode === "extractive" && !turn.streaming && <p className="muted small">{t("extractive")}</p>}
      {turn.stopped && <p className="muted small">{t("stopped")}</p>}
      {error && <ErrorMessage error={new ApiError(0, error.code ?? "error", error.message ?? String(error))} />}
      {turn.citations && turn.citations.length > 0 && (
        <div className="citations" aria-label={t("sources")}>
          {turn.citations.map((c) => (
            <CitationChip key={c.n} c={c} />
          ))}
        </div>
      )}
    </div>
  );
}

export default function AskPage() {
  const { t } = useTranslation("ask");
  const [params, setParams] = useSearchParams();
  const datasets = useLoad(() => unwrap(api.GET("/api/v1/datasets", { params: { query: { limit: 100 } } })), []);
  const dataset = params.get("dataset") ?? datasets.data?.data[0]?.id ?? "";
  const [turns, setTurns] = useState<Turn[]>([]);
  const [question, setQuestion] = useState("");
  const [busy, setBusy] = useState(false);
  const abort = useRef<AbortController | null>(null);
  const bottom = useRef<HTMLDivElement>(null);

  useEffect(() => {
    bottom.current?.scrollIntoView?.({ block: "end" });
  }, [turns]);
  useEffect(() => () => abort.current?.abort(), []);

  // Only the answer being written changes; if the conversation was cleared meanwhile, the update is dropped.
  const updateLast = (f: (turn: Turn) => Turn) =>
    setTurns((all) => {
      const last = all[all.length - 1];
      return last?.role === "assistant" && last.streaming ? [...all.slice(0, -1), f(last)] : all;
    });

  const ask = async (e?: FormEvent) => {
    e?.preventDefault();
    const query = question.trim();
    if (!query || !dataset || busy) return;
    const history = historyOf(turns);
    setTurns((all) => [...all, { role: "user", content: query }, { role: "assistant", content: "", streaming: true }]);
    setQuestion("");
    setBusy(true);
    const controller = new AbortController();
    abort.current = controller;
    try {
      const body = { dataset, query, stream: true, history, top_k: 5 };
      for await (const event of postStream("/api/v1/chat", body, controller.signal)) {
        updateLast((turn) => applyEvent(turn, { event: event.event, data: JSON.parse(event.data) } as StreamEvent));
      }
      updateLast((turn) => ({ ...turn, streaming: false }));
    } catch (exc) {
      if (controller.signal.aborted) updateLast((turn) => ({ ...turn, streaming: false, stopped: true }));
      else updateLast((turn) => ({ ...turn, streaming: false, error: exc instanceof ApiError ? exc : { message: String(exc) } }));
    } finally {
      setBusy(false);
      abort.current = null;
    }
  };

  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void ask();
    }
  };

  const list = datasets.data?.data ?? [];
  return (
    <div className="ask">
      <div className="row ask-head">
        <h1>{t("title")}</h1>
        <label className="grow">
          <span className="sr-only">{t("knowledgeBase")}</span>
          <select
            data-testid="ask-dataset"
            aria-label={t("knowledgeBase")}
            value={dataset}
            disabled={busy}
            onChange={(e) => {
              abort.current?.abort();
              setParams({ dataset: e.target.value });
              setTurns([]);
            }}
          >
            {!dataset && <option value="">{t("chooseKnowledgeBase")}</option>}
            {list.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name}
              </option>
            ))}
          </select>
        </label>
        {turns.length > 0 && (
          <button type="button" className="secondary" onClick={() => setTurns([])} disabled={busy}>
            {t("clear")}
          </button>
        )}
      </div>
      <ErrorMessage error={datasets.error} onRetry={datasets.reload} />
      {!datasets.loading && !datasets.error && list.length === 0 && (
        <p className="notice">
          <Link to="/knowledge">{t("noKnowledgeBases")}</Link>
        </p>
      )}
      <div className="conversation">
        {turns.map((turn, i) => (
          <Message key={i} turn={turn} />
        ))}
        <div ref={bottom} />
      </div>
      <form className="ask-form panel" onSubmit={ask}>
        <textarea
          data-testid="ask-input"
          aria-label={t("placeholder")}
          placeholder={t("placeholder")}
          value={question}
          onChange={(e) => setQuestion(e.target.value)}
          onKeyDown={onKey}
          rows={2}
          maxLength={4000}
        />
        <div className="row">
          <span className="muted small grow hide-phone">{t("hint")}</span>
          {busy ? (
            <button type="button" className="danger" onClick={() => abort.current?.abort()}>
              {t("stop")}
            </button>
          ) : (
            <button type="submit" data-testid="ask-submit" disabled={!question.trim() || !dataset}>
              {t("send")}
            </button>
          )}
        </div>
      </form>
    </div>
  );
}
