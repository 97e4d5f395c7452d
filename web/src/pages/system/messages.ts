// The system page's words, English and Simplified Chinese (keys must match; src/i18n/i18n.test.ts checks).
export const messages = {
  en: {
    title: "system",
  },
  "zh-CN": {
    title: "system",
  },
};
