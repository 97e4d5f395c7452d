import { Component, type ReactNode } from "react";
import { useTranslation } from "react-i18next";

function Broken({ error }: { error: Error }) {
  const { t } = useTranslation("common");
  return (
    <div className="error" role="alert">
      <p>{t("broken", { message: error.message })}</p>
      <button type="button" onClick={() => window.location.reload()}>
        {t("reload")}
      </button>
    </div>
  );
}

/** A page that throws (or whose code chunk is gone after an upgrade) shows words and a reload button, not a blank
 * console. Keyed by the page (the first path segment) in App, so moving to another page tries again. */
export class ErrorBoundary extends Component<{ children: ReactNode }, { error: Error | null }> {
  state = { error: null as Error | null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  render() {
    return this.state.error ? <Broken error={this.state.error} /> : this.props.children;
  }
}
