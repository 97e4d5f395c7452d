import { lazy, Suspense, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { NavLink, Navigate, Route, Routes, useLocation } from "react-router";

import { apiKey, onUnauthorized } from "./api/client";
import { ApiKeyPrompt } from "./components/ApiKeyPrompt";
import { ErrorBoundary } from "./components/ErrorBoundary";
import { LANGUAGES, type Language, setLanguage } from "./i18n";

// One chunk per page: the console loads what it shows.
const Downloads = lazy(() => import("./pages/downloads"));
const Library = lazy(() => import("./pages/library"));
const Player = lazy(() => import("./pages/library/Player"));
const Knowledge = lazy(() => import("./pages/knowledge"));
const Ask = lazy(() => import("./pages/ask"));
const System = lazy(() => import("./pages/system"));

const NAV = ["downloads", "library", "knowledge", "ask", "system"] as const;

export default function App() {
  const { t, i18n } = useTranslation("common");
  const [askKey, setAskKey] = useState(false);
  // A key change remounts the pages, so they load again with the new key.
  const [generation, setGeneration] = useState(0);
  const { pathname } = useLocation();

  useEffect(() => onUnauthorized(() => setAskKey(true)), []);

  return (
    <div className="shell">
      <header className="topbar">
        <span className="brand">{t("appName")}</span>
        <nav aria-label="main">
          {NAV.map((page) => (
            <NavLink key={page} to={`/${page}`} data-testid={`nav-${page}`}>
              {t(`nav.${page}`)}
            </NavLink>
          ))}
        </nav>
        <div className="topbar-end">
          <label className="language">
            <span className="sr-only">{t("language")}</span>
            <select
              aria-label={t("language")}
              value={i18n.language}
              onChange={(e) => setLanguage(e.target.value as Language)}
            >
              {Object.entries(LANGUAGES).map(([code, name]) => (
                <option key={code} value={code}>
                  {name}
                </option>
              ))}
            </select>
          </label>
          {apiKey.get() && (
            <button
              type="button"
              className="link"
              onClick={() => {
                apiKey.clear();
                setGeneration((g) => g + 1);
              }}
            >
              {t("apiKey.forget")}
            </button>
          )}
        </div>
      </header>
      <main key={generation}>
        <ErrorBoundary key={pathname.split("/")[1]}>
          <Suspense fallback={<p className="muted">{t("loading")}</p>}>
            <Routes>
              <Route path="/" element={<Navigate to="/downloads" replace />} />
              <Route path="/downloads" element={<Downloads />} />
              <Route path="/library" element={<Library />} />
              <Route path="/play/:kind/:id" element={<Player />} />
              <Route path="/knowledge/*" element={<Knowledge />} />
              <Route path="/ask" element={<Ask />} />
              <Route path="/system" element={<System />} />
              <Route path="*" element={<Navigate to="/downloads" replace />} />
            </Routes>
          </Suspense>
        </ErrorBoundary>
      </main>
      {askKey && (
        <ApiKeyPrompt
          onDone={() => {
            setAskKey(false);
            setGeneration((g) => g + 1);
          }}
        />
      )}
    </div>
  );
}
