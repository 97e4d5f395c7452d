import { useTranslation } from "react-i18next";

export default function KnowledgePage() {
  const { t } = useTranslation("knowledge");
  return <h1>{t("title")}</h1>;
}
