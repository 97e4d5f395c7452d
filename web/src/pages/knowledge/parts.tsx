// Small pieces the knowledge page's views share: errors in the page's words, a confirm-before-delete button,
// highlighted text.
import { useState } from "react";
import { useTranslation } from "react-i18next";

import { ApiError } from "../../api/client";
import { ErrorMessage } from "../../components/ErrorMessage";
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
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
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
                onClick={async () => {
                  setBusy(true);
                  setError(null);
                  try {
                    await onConfirm();
                    setOpen(false);
                  } catch (exc) {
                    setError(exc);
                  } finally {
                    setBusy(false);
                  }
                }}
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
