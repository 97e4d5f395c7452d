import { type FormEvent, useState } from "react";
import { useTranslation } from "react-i18next";

import { apiKey } from "../api/client";

/** Asks for the API key when the service answered 401; the key lives in sessionStorage for this session. */
export function ApiKeyPrompt({ onDone }: { onDone: () => void }) {
  const { t } = useTranslation("common");
  const [value, setValue] = useState("");
  const hadKey = apiKey.get() !== null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!value.trim()) return;
    apiKey.set(value.trim());
    onDone();
  };
  return (
    <div className="modal-backdrop">
      <form className="modal" onSubmit={submit} aria-labelledby="api-key-title">
        <h2 id="api-key-title">{t("apiKey.title")}</h2>
        <p>{t("apiKey.explain")}</p>
        {hadKey && <p className="error">{t("apiKey.wrong")}</p>}
        <label>
          {t("apiKey.label")}
          <input
            type="password"
            autoComplete="current-password"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            autoFocus
            name="api_key"
          />
        </label>
        <button type="submit">{t("apiKey.submit")}</button>
      </form>
    </div>
  );
}
