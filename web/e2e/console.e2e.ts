// The console end to end, in Debian's Chromium through playwright-core, against a real vidrag with real media.
// tests/integration/test_console_e2e.py starts the service (with an API key), serves a spoken test video on
// 127.0.0.1 and runs this file with:
//   VIDRAG_E2E_BASE       the service, e.g. http://127.0.0.1:41234
//   VIDRAG_E2E_KEY        the API key the console must ask for
//   VIDRAG_E2E_VIDEO      the video's URL
//   VIDRAG_E2E_QUESTION   a question one sentence of the video answers
//   VIDRAG_E2E_ARTIFACTS  where screenshots go (not committed)
import { mkdirSync } from "node:fs";
import { join } from "node:path";

import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this through tests/integration/test_console_e2e.py`);
  return value;
};
const BASE = env("VIDRAG_E2E_BASE");
const KEY = env("VIDRAG_E2E_KEY");
const VIDEO = env("VIDRAG_E2E_VIDEO");
const QUESTION = env("VIDRAG_E2E_QUESTION");
const ARTIFACTS = env("VIDRAG_E2E_ARTIFACTS");
const LONG = 180_000;

let browser: Browser;
let page: Page;
let datasetId = "";
let playerUrl = ""; // the player as a citation opened it: a cited span, a highlighted quote
const pageErrors: string[] = []; // an uncaught error in the page fails the run, even if the flow carried on

/** WCAG relative luminance of a computed CSS colour, "rgb(r, g, b)" or "rgba(r, g, b, a)". */
function luminance(css: string): number {
  const [r, g, b] = (css.match(/[\d.]+/g) ?? []).slice(0, 3).map((v) => {
    const c = Number(v) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * (r ?? 0) + 0.7152 * (g ?? 0) + 0.0722 * (b ?? 0);
}

/** The page's background and text colours as the browser computed them (the theme sets both on :root). */
async function pageColours(): Promise<{ background: number; text: number }> {
  const [background, text] = await page.evaluate(() => {
    const style = getComputedStyle(document.documentElement);
    return [style.backgroundColor, style.color];
  });
  return { background: luminance(background), text: luminance(text) };
}

async function shot(name: string, target: Page = page): Promise<void> {
  await target.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--autoplay-policy=no-user-gesture-required"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-US" });
  page = await context.newPage();
  page.on("pageerror", (err) => pageErrors.push(err.stack ?? err.message));
});

afterAll(async () => {
  await browser?.close();
});

describe("the console", () => {
  afterAll(() => {
    expect(pageErrors).toEqual([]);
  });

  it("asks for the API key and keeps it for the session", async () => {
    await page.goto(BASE);
    await page.waitForURL(/\/downloads$/);
    const prompt = page.locator("input[name=api_key]");
    await prompt.waitFor();
    await shot("00-api-key-prompt");
    await prompt.fill(KEY);
    await prompt.press("Enter");
    await prompt.waitFor({ state: "detached" });
    expect(await page.evaluate(() => sessionStorage.getItem("vidrag.apiKey"))).toBe(KEY);
  });

  it("downloads a URL and shows progress reaching 100 %", async () => {
    expect(await page.getByTestId("task-row").count()).toBe(0); // a fresh service: the row that appears is ours
    await page.getByTestId("url-input").fill(VIDEO);
    await page.getByTestId("submit-urls").click();
    const row = page.getByTestId("task-row").first();
    await row.waitFor();
    expect(await page.getByTestId("task-row").count()).toBe(1);
    await expect
      .poll(() => row.getAttribute("data-status"), { timeout: LONG, interval: 250 })
      .toBe("completed");
    await expect.poll(() => row.getByTestId("task-progress").innerText(), { timeout: 10_000 }).toContain("100%");
    await expect(row.getByTestId("task-file-link").first().getAttribute("href")).resolves.toContain("api_key=");
    await shot("01-downloads");
  }, LONG);

  it("creates a knowledge base and ingests the video into it", async () => {
    await page.getByTestId("nav-knowledge").click();
    await page.getByTestId("kb-create-name").fill("E2E talks");
    await page.getByTestId("kb-create-chunk-tokens").fill("16"); // about a sentence: citations pin one down
    await page.getByTestId("kb-create-submit").click();
    const item = page.getByTestId("kb-item").filter({ hasText: "E2E talks" }).first();
    await item.waitFor();
    datasetId = (await item.getAttribute("data-dataset-id")) ?? "";
    expect(datasetId).not.toBe("");
    await item.click();
    await page.getByTestId("source-url-input").fill(VIDEO);
    await page.getByTestId("source-url-submit").click();
    const doc = page.getByTestId("document-row").first();
    await doc.waitFor();
    await expect
      .poll(() => doc.getAttribute("data-status"), { timeout: LONG, interval: 500 })
      .toBe("completed");
    await shot("02-knowledge-base");
    await page.getByTestId("kb-tab-hit").click();
    await page.getByTestId("hit-query").fill(QUESTION);
    await page.getByTestId("hit-submit").click();
    await page.getByTestId("hit-result").first().waitFor();
    await shot("03-hit-testing");
  }, LONG);

  it("answers a question and a citation opens the video inside the cited span", async () => {
    await page.goto(`${BASE}/ask?dataset=${encodeURIComponent(datasetId)}`);
    await page.getByTestId("ask-input").fill(QUESTION);
    await page.getByTestId("ask-submit").click();
    const answer = page.getByTestId("answer").last();
    await expect
      .poll(() => answer.getAttribute("data-streaming"), { timeout: 60_000 })
      .toBe("false");
    const chip = answer.getByTestId("citation-chip").first();
    await chip.waitFor();
    const start = Number(await chip.getAttribute("data-start"));
    const end = Number(await chip.getAttribute("data-end"));
    expect(end).toBeGreaterThan(start);
    await shot("04-ask");

    await chip.click();
    await page.waitForURL(/\/play\/document\//);
    const video = page.getByTestId("player-video");
    await video.waitFor();
    await expect
      .poll(() => video.evaluate((v: HTMLMediaElement) => v.readyState), { timeout: 30_000 })
      .toBeGreaterThanOrEqual(1);
    expect(start).toBeGreaterThan(0); // the answering sentence is not the talk's first: the seek must really move
    await expect
      .poll(() => video.evaluate((v: HTMLMediaElement) => v.currentTime), { timeout: 10_000 })
      .toBeGreaterThan(0);
    const current = await video.evaluate((v: HTMLMediaElement) => v.currentTime);
    expect(current).toBeGreaterThanOrEqual(start);
    expect(current).toBeLessThanOrEqual(end);
    const cited = page.locator("[data-testid=transcript-line].cited");
    expect(await cited.count()).toBeGreaterThan(0);
    expect(await page.getByTestId("cited-mark").count()).toBeGreaterThan(0);
    playerUrl = page.url();
    await shot("05-player");

    // click a transcript line: the video seeks there and that line becomes the current one
    const line = page.getByTestId("transcript-line").first();
    const lineStart = Number(await line.getAttribute("data-start"));
    await line.click();
    await expect
      .poll(() => video.evaluate((v: HTMLMediaElement) => v.currentTime), { timeout: 10_000 })
      .toBeLessThan(start);
    const now = await video.evaluate((v: HTMLMediaElement) => v.currentTime);
    expect(now).toBeGreaterThanOrEqual(lineStart);
    await expect.poll(() => line.getAttribute("class"), { timeout: 10_000 }).toMatch(/current/);
  }, LONG);

  it("shows the library and the system page", async () => {
    await page.getByTestId("nav-library").click();
    await page.getByTestId("library-item").first().waitFor();
    await shot("06-library");
    await page.getByTestId("nav-system").click();
    await expect.poll(() => page.getByTestId("system-health").innerText(), { timeout: 20_000 }).toMatch(/healthy/i);
    await shot("07-system");
  }, LONG);

  it("switches to Chinese and works on a phone-sized screen", async () => {
    await page.getByLabel("Language").selectOption("zh-CN");
    await expect.poll(() => page.getByTestId("nav-downloads").innerText()).toBe("下载");
    await page.setViewportSize({ width: 390, height: 844 });
    for (const name of ["downloads", "library", "knowledge", "ask", "system"]) {
      await page.getByTestId(`nav-${name}`).click();
      await page.locator("main h1").first().waitFor();
      await page.waitForTimeout(500); // let lists load: a page's width is only known once its content is in
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, `${name} is wider than the phone's screen`).toBeLessThanOrEqual(1);
      await shot(`08-phone-zh-${name}`);
    }
  }, LONG);

  it("follows the operating system's dark theme", async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByLabel("语言").selectOption("en"); // still Chinese from the phone test
    expect((await pageColours()).background).toBeGreaterThan(0.8); // light until the system says otherwise
    await page.emulateMedia({ colorScheme: "dark" });
    const dark = await pageColours();
    expect(dark.background).toBeLessThan(0.2);
    expect(dark.text).toBeGreaterThan(0.5);

    await page.goto(playerUrl);
    const video = page.getByTestId("player-video");
    await expect
      .poll(() => video.evaluate((v: HTMLMediaElement) => v.readyState), { timeout: 30_000 })
      .toBeGreaterThanOrEqual(1);
    // the seek to the cited span has landed: the cited line (with its highlighted quote) is the current one
    await page.locator("[data-testid=transcript-line].cited.current").first().waitFor({ timeout: 10_000 });
    await shot("09-dark-player");
    await page.getByTestId("nav-downloads").click();
    await page.getByTestId("task-row").first().waitFor();
    expect((await pageColours()).background).toBeLessThan(0.2);
    await shot("09-dark-downloads");
  }, LONG);
});
