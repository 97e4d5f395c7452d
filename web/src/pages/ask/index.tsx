import { useTranslation } from "react-i18next";

export default function AskPage() {
  const { t } = useTranslation("ask");
  return <h1>{t("title")}</h1>;
}
