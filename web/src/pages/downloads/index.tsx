import { useTranslation } from "react-i18next";

export default function DownloadsPage() {
  const { t } = useTranslation("downloads");
  return <h1>{t("title")}</h1>;
}
