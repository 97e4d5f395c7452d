// i18next with one namespace per page (each page keeps its words beside it in messages.ts) plus `common`.
import i18n from "i18next";
import { initReactI18next } from "react-i18next";

import { messages as ask } from "../pages/ask/messages";
import { messages as downloads } from "../pages/downloads/messages";
import { messages as knowledge } from "../pages/knowledge/messages";
import { messages as library } from "../pages/library/messages";
import { messages as system } from "../pages/system/messages";
import { messages as common } from "./common";

export const LANGUAGES = { en: "English", "zh-CN": "简体中文" } as const;
export type Language = keyof typeof LANGUAGES;
export const NAMESPACES = { common, downloads, library, knowledge, ask, system } as const;
const STORAGE = "vidrag.language";

export function initialLanguage(): Language {
  const saved = typeof localStorage !== "undefined" ? localStorage.getItem(STORAGE) : null;
  if (saved && saved in LANGUAGES) return saved as Language;
  const nav = typeof navigator !== "undefined" ? navigator.language : "en";
  return nav.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export function setLanguage(lang: Language): void {
  localStorage.setItem(STORAGE, lang);
  document.documentElement.lang = lang;
  void i18n.changeLanguage(lang);
}

const resources = Object.fromEntries(
  Object.keys(LANGUAGES).map((lang) => [
    lang,
    Object.fromEntries(Object.entries(NAMESPACES).map(([ns, m]) => [ns, m[lang as Language]])),
  ]),
);

void i18n.use(initReactI18next).init({
  resources,
  lng: initialLanguage(),
  fallbackLng: "en",
  defaultNS: "common",
  ns: Object.keys(NAMESPACES),
  interpolation: { escapeValue: false }, // React escapes
});

export default i18n;
