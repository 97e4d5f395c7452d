import { useTranslation } from "react-i18next";

export default function SystemPage() {
  const { t } = useTranslation("system");
  return <h1>{t("title")}</h1>;
}
