import { defineConfig } from "vitest/config";

// End-to-end tests: a real browser (Debian's Chromium through playwright-core) against a real running service.
// tests/integration/test_console_e2e.py starts the service and the media server, then runs this with their addresses.
export default defineConfig({
  test: {
    environment: "node",
    include: ["e2e/**/*.e2e.ts"],
    testTimeout: 240_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
