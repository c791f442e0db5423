import { test } from "./fixtures/guard";
import { HomePage, MultiClientPage } from "./fixtures/stream-panel";
import { DashboardPage } from "./fixtures/dashboard";
import path from "node:path";

// Run by `make screenshots` (SCREENSHOTS=1), not by `make test`.
const docs = path.resolve(__dirname, "../../docs");

test("home page with live data", async ({ page }) => {
  await page.setViewportSize({ width: 1100, height: 900 });
  const home = new HomePage(page);
  await home.open();
  await home.panel.connect("test1");
  await home.panel.waitForEvents(12);
  await page.screenshot({ path: `${docs}/home.png`, fullPage: false });
});

test("multi-client page with live data", async ({ page }) => {
  await page.setViewportSize({ width: 1400, height: 900 });
  const multi = new MultiClientPage(page);
  await multi.open();
  await multi.connectAll();
  await multi.panel(0).waitForEvents(8);
  await page.screenshot({ path: `${docs}/multi-client.png`, fullPage: false });
});

test("dashboard with live data", async ({ page, context, guard }) => {
  // A few streams with different numbers of clients, from other pages.
  // Four: a browser opens at most 6 connections to one site, and the
  // dashboard holds one.
  const clients: [string, number][] = [["test1", 2], ["orders-eu", 1], ["prices", 1]];
  for (const [id, count] of clients) {
    for (let i = 0; i < count; i++) {
      const other = await context.newPage();
      guard.watch(other);
      const home = new HomePage(other);
      await home.open();
      await home.panel.connect(id);
    }
  }
  await page.setViewportSize({ width: 1100, height: 760 });
  const dashboard = new DashboardPage(page);
  await dashboard.open();
  await dashboard.row("test1").waitFor();
  // Enough frames for the sparklines to say something.
  await page.waitForFunction(
    () => (document.querySelector('[data-stream="test1"] polyline')?.getAttribute("points") ?? "").split(" ").length >= 12,
    undefined,
    { timeout: 20_000 },
  );
  await page.screenshot({ path: `${docs}/dashboard.png`, fullPage: false });
});
