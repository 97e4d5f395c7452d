// The library page's words, English and Simplified Chinese (keys must match; src/i18n/i18n.test.ts checks).
export const messages = {
  en: {
    title: "library",
  },
  "zh-CN": {
    title: "library",
  },
};
