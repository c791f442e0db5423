import { test, expect } from "./fixtures/guard";
import { countMutations, HomePage, MultiClientPage, pageTransition } from "./fixtures/stream-panel";
import { activeStreams, OwnServer, subscribers } from "./fixtures/server";
import { ControlStream } from "./fixtures/control-stream";
import type { Page } from "@playwright/test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/** The sequence ids of the home panel's history, newest first. */
async function seqs(home: HomePage): Promise<number[]> {
  const ids = await home.panel.events.evaluateAll((items) => items.map((item) => item.getAttribute("data-seq")));
  return ids.map(Number);
}

test.describe("home page", () => {
  test("renders and hydrates without console errors, starting disconnected", async ({ page }) => {
    const home = new HomePage(page);
    await home.open();
    await expect(page).toHaveTitle("sse-hub");
    await expect(page.getByLabel("Stream ID")).toBeVisible();
    await expect(home.panel.status).toHaveText("disconnected");
    await expect(home.panel.events).toHaveCount(0);
    await expect(home.panel.emptyHistory).toHaveText("No events yet.");
    await expect(home.panel.latest).toHaveText("–");
    expect(await home.panel.sparklinePointCount()).toBe(0);
    // Connect is served disabled (a click before the app runs would submit
    // the form natively and reload the page) and enabled once the app runs.
    const served = await (await page.request.get("/")).text();
    expect(served).toMatch(/<button[^>]*data-testid="connect"[^>]*disabled/);
    await expect(home.panel.connectButton).toBeEnabled();
    // The icon the page links to exists and is an image.
    await expect(page.locator('link[rel="icon"]')).toHaveAttribute("href", "/favicon.ico");
    const favicon = await page.request.get("/favicon.ico");
    expect(favicon.status()).toBe(200);
    expect(favicon.headers()["content-type"]).toMatch(/^image\//);
  });

  test("connect shows live events in range, status connected and a sparkline", async ({ page }) => {
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
    // Each event is announced, named after its panel and numbered, so that two
    // equal numbers in a row are both spoken.
    await expect(home.panel.announcer).toHaveText(/^Stream: latest number \d+ \(event \d+\)$/);
    // The sparkline draws one point per event, up to its 40.
    await expect.poll(() => home.panel.sparklinePointCount()).toBeGreaterThanOrEqual(3);
    await expect(home.panel.sparkline.locator("polyline")).toHaveAttribute("points", /^[\d.]+,[\d.]+( [\d.]+,[\d.]+)+$/);
    // The status is a polite live region that names the panel.
    await expect(home.panel.statusRegion).toHaveAttribute("aria-live", "polite");
    await expect(home.panel.statusRegion).toHaveText(/Stream status: .*connected/);
  });

  test("the status region changes only when the status does", async ({ page }) => {
    const home = new HomePage(page);
    await home.open();
    await home.panel.connect("e2e-quiet-status");
    await expect(home.panel.status).toHaveText("connected");
    const mutations = await countMutations(home.panel.statusRegion);
    const before = Number(await home.panel.count.textContent());
    await expect.poll(() => home.panel.count.textContent().then(Number)).toBeGreaterThanOrEqual(before + 5);
    expect(await mutations()).toBe(0);
    await home.panel.disconnectButton.click();
    await expect(home.panel.statusRegion).toHaveText(/Stream status: .*disconnected/);
    expect(await mutations()).toBeGreaterThan(0);
  });

  test("Enter in the input connects", async ({ page }) => {
    const home = new HomePage(page);
    await home.open();
    await home.panel.input.fill("e2e-enter");
    await home.panel.input.press("Enter");
    await expect(home.panel.status).toHaveText("connected");
    await home.panel.waitForEvents(1);
  });

  test("spaces around the id are ignored, and removed from the input", async ({ page }) => {
    const home = new HomePage(page);
    await home.open();
    await home.panel.connect("  e2e-spaces ");
    await expect(home.panel.status).toHaveText("connected");
    await expect(home.panel.input).toHaveValue("e2e-spaces");
    await home.panel.waitForEvents(1);
    expect(new Set(await home.panel.rowStreamIds())).toEqual(new Set(["e2e-spaces"]));
  });

  test("disconnect stops updates and shows disconnected", async ({ page, baseURL }) => {
    const home = new HomePage(page);
    await home.open();
    await home.panel.connect("e2e-stop");
    await home.panel.waitForEvents(2);
    // A second client of the same stream keeps it running after the page leaves.
    const control = await ControlStream.open(baseURL!, "e2e-stop");
    try {
      await expect.poll(() => subscribers(page.request, "e2e-stop")).toBe(2);
      await home.panel.disconnectButton.click();
      await expect(home.panel.status).toHaveText("disconnected");
      // Disconnect disables itself; keyboard focus moves to Connect.
      await expect(home.panel.connectButton).toBeFocused();
      const countAfterStop = await home.panel.events.count();
      const receivedAfterStop = await home.panel.count.textContent();
      // The server sees the page's connection go.
      await expect.poll(() => subscribers(page.request, "e2e-stop")).toBe(1);
      // The stream goes on: five more events reach the other client, none the page.
      await control.waitForMore(5);
      await expect(home.panel.events).toHaveCount(countAfterStop);
      await expect(home.panel.count).toHaveText(receivedAfterStop!);
    } finally {
      control.close();
    }
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
    await expect.poll(async () => (await activeStreams(page.request)).map((s) => s.id)).toEqual(["e2e-second"]);
  });

  test("Clear empties the history; Latest, the count and the sparkline stay", async ({ page }) => {
    const home = new HomePage(page);
    await home.open();
    await home.panel.connect("e2e-clear");
    await home.panel.waitForEvents(3);
    await home.panel.disconnectButton.click();
    await expect(home.panel.status).toHaveText("disconnected");
    const latest = await home.panel.latest.textContent();
    const newest = (await home.panel.numbers())[0];
    const received = await home.panel.count.textContent();
    const points = await home.panel.sparklinePointCount();
    expect(latest).toBe(String(newest));
    expect(points).toBeGreaterThanOrEqual(3);

    await home.panel.clearButton.click();
    await expect(home.panel.events).toHaveCount(0);
    await expect(home.panel.emptyHistory).toBeVisible();
    await expect(home.panel.emptyHistory).toContainText("History cleared");
    await expect(home.panel.latest).toHaveText(latest!);
    await expect(home.panel.count).toHaveText(received!);
    expect(await home.panel.sparklinePointCount()).toBe(points);
  });

  test("after Clear while connected, new rows appear and Latest follows them", async ({ page }) => {
    const home = new HomePage(page);
    await home.open();
    await home.panel.connect("e2e-clear-live");
    await home.panel.waitForEvents(3);
    const received = Number(await home.panel.count.textContent());
    await home.panel.clearButton.click();
    // Events keep coming: the list starts again from the newest and stays short.
    await expect.poll(() => home.panel.count.textContent().then(Number)).toBeGreaterThanOrEqual(received + 3);
    expect(await home.panel.events.count()).toBeLessThan(Number(await home.panel.count.textContent()));
    await home.panel.disconnectButton.click();
    await expect(home.panel.status).toHaveText("disconnected");
    await expect(home.panel.emptyHistory).toBeHidden();
    await expect(home.panel.latest).toHaveText(String((await home.panel.numbers())[0]));
  });

  for (const [label, id] of [
    ["an empty id", ""],
    ["an id with a space", "bad id"],
    ["an id with a slash", "a/b"],
    ["the id '.'", "."],
    ["the id '..'", ".."],
    ["an id over 128 characters", "x".repeat(129)],
  ]) {
    test(`${label} shows an inline message and opens no stream`, async ({ page }) => {
      const streamRequests = recordStreamRequests(page);
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

  test("editing the id clears a stale inline message", async ({ page }) => {
    const streamRequests = recordStreamRequests(page);
    const home = new HomePage(page);
    await home.open();
    await home.panel.connect("bad id");
    await expect(home.panel.idError).toBeVisible();
    await expect(home.panel.input).toHaveAttribute("aria-invalid", "true");
    // One keystroke ("bad i"): the message was about what was submitted, not what is typed now.
    await home.panel.input.press("End");
    await home.panel.input.press("Backspace");
    await expect(home.panel.input).toHaveValue("bad i");
    await expect(home.panel.idError).toBeHidden();
    await expect(home.panel.input).toHaveAttribute("aria-invalid", "false");
    // Submitting an id that is still invalid brings it back, and still opens nothing.
    await home.panel.connectButton.click();
    await expect(home.panel.idError).toBeVisible();
    await expect(home.panel.input).toHaveAttribute("aria-invalid", "true");
    expect(streamRequests).toEqual([]);
    // A valid id connects and leaves no message behind.
    await home.panel.input.fill("e2e-fixed");
    await expect(home.panel.idError).toBeHidden();
    await home.panel.connectButton.click();
    await expect(home.panel.status).toHaveText("connected");
    await expect(home.panel.idError).toBeHidden();
  });

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
      await expect(home.panel.outage).toBeHidden();
      await server.stop();
      await expect(home.panel.status).toHaveText("reconnecting");
      // Beside the badge: since when, and the tries that failed, so that
      // a server gone for good is told apart from a blip.
      await expect(home.panel.outage).toContainText(/^No connection since \d\d:\d\d:\d\d\.\d{3}; /);
      await expect(home.panel.outage).toContainText(/\([1-9]\d* tr(y has|ies have) failed so far\)/);
      const before = Number(await home.panel.count.textContent());
      await server.startAgain();
      await expect(home.panel.status).toHaveText("connected");
      await expect(home.panel.outage).toBeHidden();
      await expect.poll(() => home.panel.count.textContent().then(Number)).toBeGreaterThan(before);
    } finally {
      await leavePage(page);
      await server.stop();
    }
  });

  test("with the disk store a restart continues the history with no gap", async ({ page, guard }) => {
    guard.allow(/ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET/);
    const store = mkdtempSync(path.join(tmpdir(), "sse-hub-e2e-store-"));
    const server = await OwnServer.start(["--interval-ms", "100", "--retry-ms", "200", "--store", store]);
    try {
      const home = new HomePage(page);
      await home.open(server.baseURL);
      await home.panel.connect("e2e-durable");
      await home.panel.waitForEvents(3);
      await server.stop();
      await expect(home.panel.status).toHaveText("reconnecting");
      const before = await seqs(home);
      await server.startAgain();
      await expect(home.panel.status).toHaveText("connected");
      // The browser reconnects by itself with its Last-Event-ID: the events
      // go on from the next id, with no gap notice.
      await expect.poll(async () => (await seqs(home)).length).toBeGreaterThan(before.length + 2);
      const after = await seqs(home);
      expect(after.slice(-before.length)).toEqual(before);
      const ascending = [...after].reverse();
      for (let n = 1; n < ascending.length; n++) expect(ascending[n]).toBe(ascending[n - 1] + 1);
      await expect(home.panel.root.getByTestId("gap-row")).toHaveCount(0);
    } finally {
      await leavePage(page);
      await server.stop();
      rmSync(store, { recursive: true, force: true });
    }
  });

  test("leaving the page through the app's own links closes its stream", async ({ page }) => {
    const documents: string[] = [];
    const streams: string[] = [];
    page.on("request", (request) => {
      if (request.resourceType() === "document") documents.push(request.url());
      const path = new URL(request.url()).pathname;
      if (path.startsWith("/sse/")) streams.push(path);
    });
    const home = new HomePage(page);
    await home.open();
    await home.panel.connect("e2e-unmount");
    await home.panel.waitForEvents(2);
    await expect.poll(() => subscribers(page.request, "e2e-unmount")).toBe(1);
    await page.getByRole("link", { name: /Compare clients side by side/ }).click();
    const multi = new MultiClientPage(page);
    await expect(multi.panels).toHaveCount(2);
    await expect(page).toHaveURL(/\/test-multi-client$/);
    // The home panel unmounted and closed its EventSource: the server lost the subscriber.
    await expect.poll(() => subscribers(page.request, "e2e-unmount")).toBe(0);

    // The same on the way back, from a panel of the multi-client page.
    await multi.panel(0).connect("e2e-unmount-multi");
    await multi.panel(0).waitForEvents(1);
    await expect.poll(() => subscribers(page.request, "e2e-unmount-multi")).toBe(1);
    await page.getByRole("link", { name: /Single client/ }).click();
    await expect(home.panel.status).toHaveText("disconnected");
    await expect.poll(() => subscribers(page.request, "e2e-unmount-multi")).toBe(0);

    // Each page is an island of its own: a link loads the next page.
    expect(documents).toHaveLength(3);

    // Leaving by the address bar (or a reload) closes the stream too, and
    // the page does not take the closing for a refusal to ask the server
    // about (which opened the stream again as the page went). The page's
    // own requests are noted in the tab's storage, which outlives it.
    await page.addInitScript(() => {
      const fetch = window.fetch;
      window.fetch = function (input, init) {
        const url = input instanceof Request ? input.url : String(input);
        const fetched = JSON.parse(sessionStorage.getItem("e2e-fetched") ?? "[]");
        sessionStorage.setItem("e2e-fetched", JSON.stringify([...fetched, new URL(url, location.href).pathname]));
        return fetch.call(this, input, init);
      };
    });
    await home.open();
    await home.panel.connect("e2e-unmount-away");
    await home.panel.waitForEvents(1);
    await page.goto("/dashboard");
    await expect.poll(() => subscribers(page.request, "e2e-unmount-away")).toBe(0);
    const fetched: string[] = JSON.parse((await page.evaluate(() => sessionStorage.getItem("e2e-fetched"))) ?? "[]");
    expect(fetched.filter((path) => path.startsWith("/sse/"))).toEqual([]);
    // The browser closes a page's streams as it leaves: that is no refusal,
    // and the page must not ask the server why (which opened the stream
    // again, and counted a subscriber that was not there).
    expect(streams.filter((path) => path !== "/sse/e2e-unmount-away")).toEqual(["/sse/e2e-unmount", "/sse/e2e-unmount-multi"]);
  });

  test("a page hidden into the back/forward cache closes its stream, and comes back disconnected", async ({ page }) => {
    const home = new HomePage(page);
    await home.open();
    await home.panel.connect("e2e-bfcache");
    await home.panel.waitForEvents(1);
    await expect.poll(() => subscribers(page.request, "e2e-bfcache")).toBe(1);
    await pageTransition(page, "pagehide");
    await expect.poll(() => subscribers(page.request, "e2e-bfcache")).toBe(0);
    await expect(home.panel.status).toHaveText("disconnected");
    const kept = await home.panel.events.count();
    await pageTransition(page, "pageshow");
    await expect(home.panel.status).toHaveText("disconnected");
    expect(await home.panel.events.count()).toBe(kept);
    expect(kept).toBeGreaterThan(0);
    // Connect opens it again.
    await home.panel.connectButton.click();
    await expect(home.panel.status).toHaveText("connected");
    await expect.poll(() => subscribers(page.request, "e2e-bfcache")).toBe(1);
  });

  test("renders in dark mode with the dark palette and no console errors", async ({ page }) => {
    await page.emulateMedia({ colorScheme: "dark" });
    const home = new HomePage(page);
    await home.open();
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(background).toBe("rgb(15, 18, 23)");
    await home.panel.connect("e2e-dark");
    await expect(home.panel.status).toHaveText("connected");
    await expect(home.panel.statusRegion).toBeVisible();
    const badgeColour = await home.panel.statusRegion.evaluate((badge) => getComputedStyle(badge).color);
    expect(badgeColour).toBe("rgb(74, 222, 128)");
    await home.panel.waitForEvents(2);
    await expect(home.panel.latest).toBeVisible();
  });

  test("with reduced motion the newest row keeps a static highlight", async ({ page }) => {
    await page.emulateMedia({ reducedMotion: "reduce" });
    const home = new HomePage(page);
    await home.open();
    await home.panel.connect("e2e-still");
    await home.panel.waitForEvents(2);
    await home.panel.disconnectButton.click();
    await expect(home.panel.status).toHaveText("disconnected");
    const [first, second] = await home.panel.events.evaluateAll((rows) =>
      rows.slice(0, 2).map((row) => {
        const style = getComputedStyle(row);
        return { animation: style.animationName, background: style.backgroundColor, bar: style.boxShadow };
      }),
    );
    expect(first.animation).toBe("none");
    expect(first.background).toBe("rgb(255, 244, 194)");
    expect(first.bar).toContain("inset");
    expect(second.animation).toBe("none");
    expect(second.background).toBe("rgba(0, 0, 0, 0)");
  });

  for (const width of [360, 375]) {
    test(`works on a ${width} px wide phone`, async ({ page }) => {
      await page.setViewportSize({ width, height: 740 });
      const home = new HomePage(page);
      await home.open();
      await home.panel.connect("e2e-phone");
      await home.panel.waitForEvents(2);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await expect(home.panel.latest).toBeInViewport();
      await expect(home.panel.connectButton).toBeInViewport();
      await expect(home.panel.disconnectButton).toBeInViewport();
      await expect(home.panel.sparkline).toBeInViewport();
    });
  }
});

/** Records every request the page makes to `/sse/`. */
function recordStreamRequests(page: Page): string[] {
  const requests: string[] = [];
  page.on("request", (request) => {
    if (new URL(request.url()).pathname.startsWith("/sse/")) requests.push(request.url());
  });
  return requests;
}

/** Navigates away so the page's stream closes before its server stops. */
async function leavePage(page: Page) {
  await page.goto("about:blank");
}
