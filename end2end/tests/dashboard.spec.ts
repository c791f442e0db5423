import { test, expect } from "./fixtures/guard";
import { HomePage, pageTransition } from "./fixtures/stream-panel";
import { dashboardFeeds, OwnServer } from "./fixtures/server";
import { DashboardPage } from "./fixtures/dashboard";
import type { BrowserContext, Page } from "@playwright/test";
import type { Guard } from "./fixtures/guard";

/**
 * Opens the dashboard in `page` and waits until its feed is connected and
 * counted by the server (one test runs at a time, so the count is this
 * page's); returns the page object and a reader of that count.
 */
async function openWithFeed(page: Page): Promise<{ dashboard: DashboardPage; feeds: () => Promise<number> }> {
  const feeds = () => dashboardFeeds(page.request);
  const dashboard = new DashboardPage(page);
  await dashboard.open();
  await expect(dashboard.status).toHaveText("connected");
  await expect.poll(feeds).toBe(1);
  return { dashboard, feeds };
}

/** A new page of `context`, guarded, connected to stream `id` from the home page. */
async function streamPage(context: BrowserContext, guard: Guard, id: string): Promise<HomePage> {
  const page = await context.newPage();
  guard.watch(page);
  const home = new HomePage(page);
  await home.open();
  await home.panel.connect(id);
  await expect(home.panel.status).toHaveText("connected");
  return home;
}

test.describe("dashboard", () => {
  test("shows a stream with its subscribers while pages are connected, and drops it after", async ({
    page,
    context,
    guard,
  }) => {
    const id = `e2e-dash-${Date.now()}`;
    const dashboard = new DashboardPage(page);
    await dashboard.open();
    await expect(dashboard.row(id)).toHaveCount(0);

    const first = await streamPage(context, guard, id);
    await expect(dashboard.subscribers(id)).toHaveText("1");
    const second = await streamPage(context, guard, id);
    await expect(dashboard.subscribers(id)).toHaveText("2");
    // Its figures move on their own: events arrive, and a rate appears.
    const events = Number(await dashboard.row(id).getByTestId("row-events").textContent());
    await expect.poll(async () => Number(await dashboard.row(id).getByTestId("row-events").textContent())).toBeGreaterThan(events);
    await expect(dashboard.row(id).getByTestId("row-rate")).toHaveText(/^\d+\.\d\/s$/);
    await expect(dashboard.eventsRate).toHaveText(/^\d[\d,]*(\.\d)?\/s$/);
    await expect(dashboard.deliveriesRate).toHaveText(/^\d[\d,]*(\.\d)?\/s$/);
    expect(Number(await dashboard.connections.textContent())).toBeGreaterThanOrEqual(2);

    await second.page.close();
    await expect(dashboard.subscribers(id)).toHaveText("1");
    await first.page.close();
    await expect(dashboard.row(id)).toHaveCount(0);
  });

  test("a stream keeps its row from frame to frame: its figures change in place, a selection in it stays", async ({
    page,
    context,
    guard,
  }) => {
    const id = `e2e-dash-keep-${Date.now()}`;
    await streamPage(context, guard, id);
    const dashboard = new DashboardPage(page);
    await dashboard.open();
    const row = dashboard.row(id);
    await expect(row).toBeVisible();
    // The whole id is the id cell's tooltip (a long one is cut).
    await expect(row.getByTestId("row-id")).toHaveAttribute("title", id);
    // Mark the row's element and select its id, as a user copying it would.
    await row.evaluate((element) => {
      element.setAttribute("data-kept", "yes");
      const cell = element.querySelector('[data-testid="row-id"]');
      if (cell) window.getSelection()?.selectAllChildren(cell);
    });
    const events = Number(await row.getByTestId("row-events").textContent());
    await expect.poll(async () => Number(await row.getByTestId("row-events").textContent())).toBeGreaterThan(events + 1);
    // Several frames later: the same element, the selection intact.
    await expect(row).toHaveAttribute("data-kept", "yes");
    expect(await page.evaluate(() => window.getSelection()?.toString())).toBe(id);
  });

  test("while the feed is down the figures are marked as frozen, since when, and live again once it is back", async ({
    page,
    guard,
  }) => {
    guard.allow(/ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET/);
    const server = await OwnServer.start(["--interval-ms", "100", "--retry-ms", "200"]);
    try {
      const dashboard = new DashboardPage(page);
      await dashboard.open(server.baseURL);
      await expect(dashboard.connections).toHaveText(/^\d/);
      await expect(dashboard.outage).toBeHidden();
      await expect(dashboard.figures).not.toHaveClass(/\bstale\b/);
      await server.stop();
      await expect(dashboard.status).toHaveText("reconnecting");
      await expect(dashboard.outage).toContainText(/^No feed since \d\d:\d\d:\d\d\.\d{3}; /);
      await expect(dashboard.outage).toContainText(/\([1-9]\d* tr(y has|ies have) failed so far\)\. The figures shown are from then\./);
      await expect(dashboard.figures).toHaveClass(/\bstale\b/);
      await expect(dashboard.table).toHaveClass(/\bstale\b/);
      await server.startAgain();
      await expect(dashboard.status).toHaveText("connected");
      await expect(dashboard.outage).toBeHidden();
      await expect(dashboard.figures).not.toHaveClass(/\bstale\b/);
    } finally {
      // The feed closes before its server stops.
      await page.goto("about:blank");
      await server.stop();
    }
  });

  test("sorts by any column with the header buttons, announcing the order", async ({ page, context, guard }) => {
    const stamp = Date.now();
    const busy = `e2e-sort-b-${stamp}`;
    const quiet = `e2e-sort-a-${stamp}`;
    await streamPage(context, guard, busy);
    await streamPage(context, guard, busy);
    await streamPage(context, guard, quiet);
    const dashboard = new DashboardPage(page);
    await dashboard.open();
    await expect(dashboard.subscribers(busy)).toHaveText("2");
    await expect(dashboard.subscribers(quiet)).toHaveText("1");
    const ours = async () => (await dashboard.ids()).filter((id) => id === busy || id === quiet);

    // Most subscribers first at the start.
    await expect(dashboard.header("Subscribers")).toHaveAttribute("aria-sort", "descending");
    expect(await ours()).toEqual([busy, quiet]);

    // Every column header is a button in a th that says how it sorts.
    const names = ["Stream", "Subscribers", "Events", "Rate", "Last event", "Last minute"];
    await expect(dashboard.table.locator("thead th button")).toHaveCount(names.length);
    for (const name of names) {
      await dashboard.page.getByRole("button", { name, exact: true }).click();
      await expect(dashboard.header(name)).toHaveAttribute("aria-sort", /^(ascending|descending)$/);
      for (const other of names.filter((n) => n !== name)) {
        await expect(dashboard.header(other)).toHaveAttribute("aria-sort", "none");
      }
    }

    await dashboard.page.getByRole("button", { name: "Stream", exact: true }).click();
    await expect(dashboard.header("Stream")).toHaveAttribute("aria-sort", "ascending");
    await expect.poll(ours).toEqual([quiet, busy]);
    await dashboard.page.getByRole("button", { name: "Stream", exact: true }).click();
    await expect(dashboard.header("Stream")).toHaveAttribute("aria-sort", "descending");
    await expect.poll(ours).toEqual([busy, quiet]);
    // From the keyboard too.
    await dashboard.page.getByRole("button", { name: "Subscribers", exact: true }).focus();
    await dashboard.page.keyboard.press("Enter");
    await expect(dashboard.header("Subscribers")).toHaveAttribute("aria-sort", "descending");
    await dashboard.page.keyboard.press("Enter");
    await expect(dashboard.header("Subscribers")).toHaveAttribute("aria-sort", "ascending");
    await expect.poll(ours).toEqual([quiet, busy]);
  });

  test("at 360 px the table scrolls inside its box and the page does not", async ({ page, context, guard }) => {
    const id = `e2e-dash-narrow-with-a-long-stream-id-${Date.now()}`;
    await streamPage(context, guard, id);
    await page.setViewportSize({ width: 360, height: 740 });
    const dashboard = new DashboardPage(page);
    await dashboard.open();
    await expect(dashboard.row(id)).toBeVisible();
    const widths = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      viewport: window.innerWidth,
    }));
    expect(widths.page).toBeLessThanOrEqual(widths.viewport);
    // The scroll box is reachable from the keyboard.
    await expect(page.getByRole("region", { name: "Streams table", exact: true })).toHaveAttribute("tabindex", "0");
  });

  test("counts refused requests by their error code", async ({ page }) => {
    const refused = await page.request.get("/sse/not%20valid");
    expect(refused.status()).toBe(400);
    const dashboard = new DashboardPage(page);
    await dashboard.open();
    await expect(dashboard.rejections).toContainText(/invalid_stream_id: [1-9]/);
  });

  test("leaving the page closes its stats stream", async ({ page }) => {
    const { feeds } = await openWithFeed(page);
    await page.getByRole("link", { name: "← Single client" }).click();
    await expect(page).toHaveURL(/\/$/);
    await expect.poll(feeds).toBe(0);
  });

  test("hidden into the back/forward cache, the page closes its feed and opens it again when restored", async ({ page }) => {
    const { dashboard, feeds } = await openWithFeed(page);
    await pageTransition(page, "pagehide");
    await expect.poll(feeds).toBe(0);
    await expect(dashboard.status).toHaveText("disconnected");
    await pageTransition(page, "pageshow");
    await expect(dashboard.status).toHaveText("connected");
    await expect.poll(feeds).toBe(1);
  });

  test("the home page links to the dashboard", async ({ page }) => {
    const home = new HomePage(page);
    await home.open();
    await page.getByRole("link", { name: "Dashboard →" }).click();
    await expect(page).toHaveURL(/\/dashboard$/);
    await expect(new DashboardPage(page).status).toHaveText("connected");
  });
});
