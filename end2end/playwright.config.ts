import { defineConfig, devices } from "@playwright/test";
import { JWT_SECRET } from "./tests/fixtures/tokens";

/** Port of the server Playwright starts for the suite (override with E2E_PORT). */
const port = Number(process.env.E2E_PORT ?? 3199);

/** Chromium flags that keep it quiet on a closed network (see TOOLCHAIN.md). */
export const chromiumArgs = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

export default defineConfig({
  testDir: "./tests",
  testIgnore: process.env.SCREENSHOTS ? [] : ["**/screenshots.spec.ts"],
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      args: chromiumArgs,
    },
    headless: true,
  },
  projects: [{ name: "chromium", use: { ...devices["Desktop Chrome"] } }],
  webServer: {
    // The release build, run from the repo root so it finds target/site.
    // Tokens are signed with a secret the tests know (tests/fixtures/tokens.ts
    // mints them); streams named private-* need one with a subscribe grant.
    command:
      `./target/release/sse-hub --addr 127.0.0.1:${port} --interval-ms 200 --retry-ms 300 --log warn --store memory` +
      ` --jwt-secret ${JWT_SECRET} --private-streams 'private-*'`,
    cwd: "..",
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 30_000,
    stdout: "ignore",
    stderr: "pipe",
  },
});
