import { test, expect } from "./fixtures/guard";
import { HomePage, MultiClientPage, waitForHydration } from "./fixtures/stream-panel";
import { DashboardPage } from "./fixtures/dashboard";
import { OwnServer, REPO_ROOT } from "./fixtures/server";
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

// The release binary carries its site: copied alone into an empty directory
// and run from there, it serves both pages and the dashboard, hydrated and live, and its files
// compressed, with ETag/304 and no-cache.
test.describe("the release binary on its own", () => {
  let dir: string;
  let server: OwnServer;

  test.beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "sse-hub-alone-"));
    const binary = path.join(dir, "sse-hub");
    copyFileSync(path.join(REPO_ROOT, "target/release/sse-hub"), binary);
    server = await OwnServer.start(["--interval-ms", "100"], { binary, cwd: dir });
  });

  test.afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("serves and hydrates both pages and the dashboard with nothing beside it", async ({ page }) => {
    expect(readdirSync(dir)).toEqual(["sse-hub"]);
    const home = new HomePage(page);
    await home.open(server.baseURL);
    await home.panel.connect("alone");
    await expect(home.panel.status).toHaveText("connected");
    await home.panel.waitForEvents(2);

    const multi = new MultiClientPage(page);
    await multi.open(`${server.baseURL}/test-multi-client`);
    await multi.connectAll();
    const panels = await multi.panels.count();
    expect(panels).toBeGreaterThanOrEqual(2);
    for (let index = 0; index < panels; index++) {
      await multi.panel(index).waitForEvents(2);
    }
    await expect(multi.consistency).toHaveAttribute("data-state", "identical");

    // The dashboard, in a second tab while the panels stay connected.
    const second = await page.context().newPage();
    const dashboard = new DashboardPage(second);
    await second.goto(`${server.baseURL}/dashboard`);
    await waitForHydration(second);
    await expect(dashboard.status).toHaveText("connected");
    await expect(dashboard.rows.first()).toBeVisible();
    await expect(dashboard.connections).not.toHaveText("0");
    await second.close();
    // It wrote nothing beside itself either (the memory store).
    expect(readdirSync(dir)).toEqual(["sse-hub"]);
  });

  test("answers Accept-Encoding, ETag and If-None-Match for its files", async ({ request }) => {
    const wasm = `${server.baseURL}/pkg/sse-hub.wasm`;
    const plain = await request.get(wasm, { headers: { "Accept-Encoding": "identity" } });
    expect(plain.status()).toBe(200);
    expect(plain.headers()["content-encoding"]).toBeUndefined();
    expect(plain.headers()["content-type"]).toBe("application/wasm");
    expect(plain.headers()["cache-control"]).toBe("no-cache");
    const etag = plain.headers()["etag"];
    expect(etag).toBeTruthy();
    const size = (await plain.body()).length;

    for (const encoding of ["br", "gzip"]) {
      const packed = await request.get(wasm, { headers: { "Accept-Encoding": encoding } });
      expect(packed.status()).toBe(200);
      expect(packed.headers()["content-encoding"]).toBe(encoding);
      expect(Number(packed.headers()["content-length"])).toBeLessThan(size / 2);
    }

    const again = await request.get(wasm, { headers: { "If-None-Match": etag } });
    expect(again.status()).toBe(304);
    for (const file of ["/pkg/sse-hub.js", "/pkg/sse-hub.css", "/favicon.ico"]) {
      const answer = await request.get(`${server.baseURL}${file}`);
      expect(answer.status(), file).toBe(200);
    }
    // A missing file is the app's 404 page, not an empty answer.
    const missing = await request.get(`${server.baseURL}/pkg/nothing.js`);
    expect(missing.status()).toBe(404);
  });
});
