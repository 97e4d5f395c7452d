import { useTranslation } from "react-i18next";

export default function PlayerPage() {
  const { t } = useTranslation("library");
  return <h1>{t("title")}</h1>;
}
