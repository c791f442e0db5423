import { test, expect } from "./fixtures/guard";
import { MultiClientPage } from "./fixtures/stream-panel";

test.describe("multi-client page", () => {
  test("starts with two disconnected panels and explains the panel limit", async ({ page }) => {
    const multi = new MultiClientPage(page);
    await multi.open();
    await expect(multi.panels).toHaveCount(2);
    await expect(multi.panel(0).status).toHaveText("disconnected");
    await expect(multi.panel(1).status).toHaveText("disconnected");
    await expect(page.getByText("6 HTTP/1.1 connections")).toBeVisible();
  });

  test("is also served at /test-multi-client.html", async ({ page }) => {
    const multi = new MultiClientPage(page);
    await multi.open("/test-multi-client.html");
    await expect(multi.panels).toHaveCount(2);
  });

  test("two panels on one id show identical events and the indicator agrees", async ({ page }) => {
    const multi = new MultiClientPage(page);
    await multi.open();
    await multi.panel(0).connect("e2e-same");
    await multi.panel(1).connect("e2e-same");
    await multi.panel(0).waitForEvents(4);
    await multi.panel(1).waitForEvents(4);
    await multi.disconnectAll();
    const a = await multi.panel(0).eventsByTimestamp();
    const b = await multi.panel(1).eventsByTimestamp();
    const shared = [...a.keys()].filter((ts) => b.has(ts));
    expect(shared.length).toBeGreaterThanOrEqual(3);
    for (const ts of shared) expect(b.get(ts)).toBe(a.get(ts));
    // Disconnected panels are not compared; reconnect both and check the verdict live.
    await multi.connectAll();
    await multi.panel(0).waitForEvents(2);
    await multi.panel(1).waitForEvents(2);
    await expect(multi.consistency).toHaveAttribute("data-state", "identical");
    await expect(multi.consistency).toContainText("0 differences");
  });

  test("two panels on different ids show their own ids", async ({ page }) => {
    const multi = new MultiClientPage(page);
    await multi.open();
    await multi.panel(0).connect("e2e-left");
    await multi.panel(1).connect("e2e-right");
    await multi.panel(0).waitForEvents(3);
    await multi.panel(1).waitForEvents(3);
    expect(new Set(await multi.panel(0).rowStreamIds())).toEqual(new Set(["e2e-left"]));
    expect(new Set(await multi.panel(1).rowStreamIds())).toEqual(new Set(["e2e-right"]));
    await expect(multi.consistency).toHaveAttribute("data-state", "idle");
  });

  test("panels can be added up to four and removed; Connect all connects each", async ({ page }) => {
    const multi = new MultiClientPage(page);
    await multi.open();
    await multi.addPanel();
    await multi.addPanel();
    await expect(multi.panels).toHaveCount(4);
    await expect(page.getByTestId("add-panel")).toBeDisabled();
    await multi.panel(3).input.fill("e2e-fourth");
    await multi.connectAll();
    for (let i = 0; i < 4; i++) await expect(multi.panel(i).status).toHaveText("connected");
    await multi.panel(3).waitForEvents(1);
    expect(new Set(await multi.panel(3).rowStreamIds())).toEqual(new Set(["e2e-fourth"]));
    await multi.panel(3).root.getByTestId("remove-panel").click();
    await expect(multi.panels).toHaveCount(3);
    // The removed panel's stream closed with it.
    await expect
      .poll(async () => (await (await page.request.get("/api/streams")).json()).map((s: { id: string }) => s.id))
      .toEqual(["demo"]);
    await multi.disconnectAll();
    for (let i = 0; i < 3; i++) await expect(multi.panel(i).status).toHaveText("disconnected");
  });

  test("works on a 375 px wide phone with panels stacked", async ({ page }) => {
    await page.setViewportSize({ width: 375, height: 740 });
    const multi = new MultiClientPage(page);
    await multi.open();
    const first = await multi.panels.nth(0).boundingBox();
    const second = await multi.panels.nth(1).boundingBox();
    expect(second!.y).toBeGreaterThan(first!.y + first!.height - 1);
    await multi.connectAll();
    await multi.panel(0).waitForEvents(1);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  });
});
