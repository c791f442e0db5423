import { test, expect } from "./fixtures/guard";
import { HomePage } from "./fixtures/stream-panel";
import { OwnServer } from "./fixtures/server";

test.describe("home page", () => {
  test("renders and hydrates without console errors, starting disconnected", async ({ page }) => {
    const home = new HomePage(page);
    await home.open();
    await expect(page).toHaveTitle("sse-hub");
    await expect(page.getByLabel("Stream ID")).toBeVisible();
    await expect(home.panel.status).toHaveText("disconnected");
    await expect(home.panel.events).toHaveCount(0);
  });

  test("connect shows live events in range and status connected", async ({ page }) => {
    const home = new HomePage(page);
    await home.open();
    await home.panel.connect("e2e-home");
    await expect(home.panel.status).toHaveText("connected");
    await home.panel.waitForEvents(3);
    const numbers = await home.panel.numbers();
    for (const n of numbers) {
      expect(n).toBeGreaterThanOrEqual(1);
      expect(n).toBeLessThanOrEqual(1000);
    }
    // The big number is the newest row's (read both in one go: events keep coming).
    const [latest, newest] = await page.evaluate(() => [
      document.querySelector('[data-testid="latest"]')?.textContent,
      document.querySelector('[data-testid="event-number"]')?.textContent,
    ]);
    expect(latest).toBe(newest);
    expect(Number(await home.panel.count.textContent())).toBeGreaterThanOrEqual(3);
    expect(new Set(await home.panel.rowStreamIds())).toEqual(new Set(["e2e-home"]));
    await expect(page.getByTestId("announcer")).toContainText("Latest number");
  });

  test("Enter in the input connects", async ({ page }) => {
    const home = new HomePage(page);
    await home.open();
    await home.panel.input.fill("e2e-enter");
    await home.panel.input.press("Enter");
    await expect(home.panel.status).toHaveText("connected");
    await home.panel.waitForEvents(1);
  });

  test("disconnect stops updates and shows disconnected", async ({ page }) => {
    const home = new HomePage(page);
    await home.open();
    await home.panel.connect("e2e-stop");
    await home.panel.waitForEvents(2);
    await home.panel.disconnectButton.click();
    await expect(home.panel.status).toHaveText("disconnected");
    const countAfterStop = await home.panel.events.count();
    // The server's own list proves the stream closed; then five intervals pass.
    await expect
      .poll(async () => (await (await page.request.get("/api/streams")).json()).length)
      .toBe(0);
    await page.waitForTimeout(1000);
    await expect(home.panel.events).toHaveCount(countAfterStop);
  });

  test("switching ids clears the history and new rows carry the new id", async ({ page }) => {
    const home = new HomePage(page);
    await home.open();
    await home.panel.connect("e2e-first");
    await home.panel.waitForEvents(2);
    await home.panel.connect("e2e-second");
    await expect(home.panel.status).toHaveText("connected");
    await home.panel.waitForEvents(2);
    const ids = await home.panel.rowStreamIds();
    expect(new Set(ids)).toEqual(new Set(["e2e-second"]));
    // The first stream was closed: only one stream is active on the server.
    await expect
      .poll(async () => (await (await page.request.get("/api/streams")).json()).map((s: { id: string }) => s.id))
      .toEqual(["e2e-second"]);
  });

  test("Clear empties the history", async ({ page }) => {
    const home = new HomePage(page);
    await home.open();
    await home.panel.connect("e2e-clear");
    await home.panel.waitForEvents(2);
    await home.panel.clearButton.click();
    expect(await home.panel.events.count()).toBeLessThanOrEqual(1);
  });

  for (const [label, id] of [
    ["an empty id", ""],
    ["an id with a space", "bad id"],
    ["an id with a slash", "a/b"],
    ["an id over 128 characters", "x".repeat(129)],
  ]) {
    test(`${label} shows an inline message and opens no stream`, async ({ page }) => {
      const streamRequests: string[] = [];
      page.on("request", (request) => {
        if (new URL(request.url()).pathname.startsWith("/sse/")) streamRequests.push(request.url());
      });
      const home = new HomePage(page);
      await home.open();
      await home.panel.connect(id);
      await expect(home.panel.idError).toBeVisible();
      await expect(home.panel.idError).not.toBeEmpty();
      await expect(home.panel.input).toHaveAttribute("aria-invalid", "true");
      await expect(home.panel.status).toHaveText("disconnected");
      expect(streamRequests).toEqual([]);
    });
  }

  test("the history never exceeds 100 rows", async ({ page }) => {
    const fast = await OwnServer.start(["--interval-ms", "10"]);
    try {
      const home = new HomePage(page);
      await home.open(fast.baseURL);
      await home.panel.connect("e2e-many");
      await expect.poll(() => home.panel.count.textContent().then(Number)).toBeGreaterThan(130);
      await expect(home.panel.events).toHaveCount(100);
    } finally {
      await leavePage(page);
      await fast.stop();
    }
  });

  test("a restarted server: reconnecting, then connected with new events", async ({ page, guard }) => {
    // The browser logs its failed reconnection attempts while the server is down.
    guard.allow(/ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET/);
    const server = await OwnServer.start(["--interval-ms", "100", "--retry-ms", "200"]);
    try {
      const home = new HomePage(page);
      await home.open(server.baseURL);
      await home.panel.connect("e2e-restart");
      await home.panel.waitForEvents(2);
      await server.stop();
      await expect(home.panel.status).toHaveText("reconnecting");
      const before = Number(await home.panel.count.textContent());
      await server.startAgain();
      await expect(home.panel.status).toHaveText("connected");
      await expect.poll(() => home.panel.count.textContent().then(Number)).toBeGreaterThan(before);
    } finally {
      await leavePage(page);
      await server.stop();
    }
  });

  test("works on a 375 px wide phone", async ({ page }) => {
    await page.setViewportSize({ width: 375, height: 740 });
    const home = new HomePage(page);
    await home.open();
    await home.panel.connect("e2e-phone");
    await home.panel.waitForEvents(2);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await expect(home.panel.latest).toBeInViewport();
    await expect(home.panel.connectButton).toBeInViewport();
  });
});

/** Navigates away so the page's stream closes before its server stops. */
async function leavePage(page: import("@playwright/test").Page) {
  await page.goto("about:blank");
}

