// Small pieces the knowledge page's views share: errors in the page's words, a confirm-before-delete button,
// highlighted text, tabs, a list's heading with its search box.
import { type ReactNode, useState } from "react";
import { useTranslation } from "react-i18next";

import { ApiError } from "../../api/client";
import { ErrorMessage } from "../../components/ErrorMessage";
import { useSubmit } from "../../lib/hooks";
import { highlight } from "./logic";

/** Errors with the knowledge page's words for its own codes (dataset_name_taken, no_text...), else the common ones. */
export function KbError({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useTranslation("knowledge");
  if (error == null) return null;
  const words = error instanceof ApiError ? t(`errors.${error.code}`, { defaultValue: "" }) : "";
  if (!words) return <ErrorMessage error={error} onRetry={onRetry} />;
  return (
    <div className="error" role="alert">
      <span>{words}</span>
      {onRetry && (
        <button type="button" className="link" onClick={onRetry}>
          {t("retry", { ns: "common" })}
        </button>
      )}
    </div>
  );
}

/** A document's failure in words: ours for the stable code, with the service's message after it. */
export function documentErrorText(
  t: (key: string, options?: Record<string, unknown>) => string,
  code: string | null | undefined,
  message: string | null | undefined,
): string {
  const known = code ? t(`errors.${code}`, { defaultValue: "" }) : "";
  if (known) return message ? `${known} (${message})` : known;
  return message || t("errors.unknown");
}

/** A button that asks before it does something that cannot be undone (a dialog, not window.confirm). */
export function ConfirmButton({
  label,
  question,
  onConfirm,
  className = "danger",
  testId,
}: {
  label: string;
  question: string;
  onConfirm: () => Promise<void> | void;
  className?: string;
  testId?: string;
}) {
  const { t } = useTranslation("common");
  const [open, setOpen] = useState(false);
  const { busy, error, submit } = useSubmit();
  return (
    <>
      <button type="button" className={className} onClick={() => setOpen(true)} data-testid={testId}>
        {label}
      </button>
      {open && (
        <div
          className="modal-backdrop"
          role="presentation"
          onKeyDown={(e) => {
            if (e.key === "Escape" && !busy) setOpen(false);
          }}
        >
          <div className="modal" role="dialog" aria-modal="true" aria-label={question}>
            <p>{question}</p>
            <KbError error={error} />
            <div className="row">
              <button
                type="button"
                className="danger kb-confirm"
                data-testid="confirm-ok"
                disabled={busy}
                onClick={() =>
                  void submit(async () => {
                    await onConfirm();
                    setOpen(false);
                  })
                }
              >
                {label}
              </button>
              <button type="button" className="secondary" onClick={() => setOpen(false)} disabled={busy} autoFocus>
                {t("cancel")}
              </button>
            </div>
          </div>
        </div>
      )}
    </>
  );
}

/** Text with the query's terms in <mark>. */
export function Highlighted({ text, terms }: { text: string; terms: string[] }) {
  return (
    <>
      {highlight(text, terms).map((p, i) => (p.hit ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))}
    </>
  );
}

/** A row of tab buttons (the page's tabs, the kinds of source): `current` is marked active. */
export function TabList<K extends string>({
  tabs,
  current,
  onSelect,
  text,
  label,
  className,
  tabClassName,
  testId,
}: {
  tabs: readonly K[];
  current: K;
  onSelect: (tab: K) => void;
  text: (tab: K) => string;
  label: string;
  className: string;
  tabClassName?: string;
  /** each tab's test id is `${testId}-${tab}` */
  testId: string;
}) {
  return (
    <div className={className} role="tablist" aria-label={label}>
      {tabs.map((tab) => (
        <button
          key={tab}
          type="button"
          role="tab"
          aria-selected={current === tab}
          className={[tabClassName, current === tab && "active"].filter(Boolean).join(" ")}
          data-testid={`${testId}-${tab}`}
          onClick={() => onSelect(tab)}
        >
          {text(tab)}
        </button>
      ))}
    </div>
  );
}

/** A list's heading with its total, and a search box that applies on submit; `children` are more filters beside it. */
export function ListHeader({
  title,
  total,
  search,
  onSearch,
  searchTestId,
  children,
}: {
  title: string;
  total: number | undefined;
  /** the search box's label and placeholder */
  search: string;
  onSearch: (keyword: string) => void;
  searchTestId?: string;
  children?: ReactNode;
}) {
  const { t } = useTranslation("knowledge");
  const [keyword, setKeyword] = useState("");
  return (
    <div className="row">
      <h2 className="kb-form-title grow">
        {title} {total != null && <span className="muted small">({total})</span>}
      </h2>
      <form
        className="row"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          onSearch(keyword.trim());
        }}
      >
        <input
          type="search"
          aria-label={search}
          placeholder={search}
          value={keyword}
          data-testid={searchTestId}
          onChange={(e) => setKeyword(e.target.value)}
        />
        {children}
        <button type="submit" className="secondary">
          {t("docs.searchButton")}
        </button>
      </form>
    </div>
  );
}
