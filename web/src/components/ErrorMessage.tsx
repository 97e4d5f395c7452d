import { useTranslation } from "react-i18next";

import { ApiError } from "../api/client";

/** The words for an error: ours for the codes we know (what to do), the service's message otherwise. */
export function errorText(t: (key: string, options?: Record<string, unknown>) => string, error: unknown): string {
  if (error instanceof ApiError) {
    const known = t(`errors.${error.code}`, { ns: "common", defaultValue: "" });
    if (known) return error.message && error.code !== "network" ? `${known} (${error.message})` : known;
    return t("errors.fallback", { ns: "common", message: error.message });
  }
  return t("errors.fallback", { ns: "common", message: error instanceof Error ? error.message : String(error) });
}

export function ErrorMessage({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useTranslation("common");
  if (error == null) return null;
  return (
    <div className="error" role="alert">
      <span>{errorText(t, error)}</span>
      {onRetry && (
        <button type="button" className="link" onClick={onRetry}>
          {t("retry")}
        </button>
      )}
    </div>
  );
}
