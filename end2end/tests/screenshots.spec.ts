import { test } from "./fixtures/guard";
import { HomePage, MultiClientPage } from "./fixtures/stream-panel";
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
