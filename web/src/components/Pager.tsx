import { useTranslation } from "react-i18next";

/** Previous / "page N of M" / next; nothing when everything fits on one page. */
export function Pager({ page, pages, onPage, className }: {
  page: number;
  pages: number;
  onPage: (page: number) => void;
  className?: string;
}) {
  const { t } = useTranslation("common");
  if (pages <= 1) return null;
  const label = t("pager.page", { page, pages });
  return (
    <nav className={`row ${className ?? ""}`} aria-label={label}>
      <button type="button" className="secondary" disabled={page <= 1} onClick={() => onPage(page - 1)}>
        {t("pager.previous")}
      </button>
      <span className="small muted">{label}</span>
      <button type="button" className="secondary" disabled={page >= pages} onClick={() => onPage(page + 1)}>
        {t("pager.next")}
      </button>
    </nav>
  );
}
