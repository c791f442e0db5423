import { test, expect } from "./fixtures/guard";
import { countMutations, MultiClientPage } from "./fixtures/stream-panel";
import { activeStreams, subscribers } from "./fixtures/server";

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

  test("the consistency announcer speaks when the verdict changes, not on every event", async ({ page }) => {
    const multi = new MultiClientPage(page);
    await multi.open();
    await expect(multi.consistencyAnnouncer).toHaveAttribute("role", "status");
    // The visible line, whose counts change with every event, is not a live region.
    await expect(multi.consistency).not.toHaveAttribute("role", /.+/);
    await expect(multi.consistency).not.toHaveAttribute("aria-live", /.+/);
    await multi.panel(0).connect("e2e-verdict");
    await multi.panel(1).connect("e2e-verdict");
    await expect(multi.consistency).toHaveAttribute("data-state", "identical");
    await expect(multi.consistencyAnnouncer).toHaveText(/identical events/);
    const mutations = await countMutations(multi.consistencyAnnouncer);
    const line = await multi.consistency.textContent();
    // More shared events: the visible count moves on, the announcer stays quiet.
    await expect(multi.consistency).not.toHaveText(line!);
    const count = Number(await multi.panel(0).count.textContent());
    await expect.poll(() => multi.panel(0).count.textContent().then(Number)).toBeGreaterThanOrEqual(count + 5);
    await expect(multi.consistency).toHaveAttribute("data-state", "identical");
    expect(await mutations()).toBe(0);
    // A change of verdict is announced.
    await multi.disconnectAll();
    await expect(multi.consistency).toHaveAttribute("data-state", "idle");
    await expect(multi.consistencyAnnouncer).toHaveText("");
    expect(await mutations()).toBeGreaterThan(0);
    // Each panel's status region names its panel.
    await expect(multi.panel(0).statusRegion).toHaveText(/Client 1 status: .*disconnected/);
    await expect(multi.panel(1).statusRegion).toHaveText(/Client 2 status: .*disconnected/);
  });

  test("a difference between panels is counted, and Clear does not hide it", async ({ page }) => {
    // The same event (id and timestamp) with a different number for each
    // panel: what a broken hub would send.
    let requests = 0;
    await page.route("**/sse/e2e-differ", (route) => {
      requests += 1;
      const number = requests === 1 ? 5 : 6;
      route.fulfill({
        status: 200,
        contentType: "text/event-stream",
        body:
          "retry: 600000\n\n" +
          'id: 1\ndata: {"number":3,"timestamp":"2026-01-01T00:00:01.000Z","id":"e2e-differ"}\n\n' +
          `id: 2\ndata: {"number":${number},"timestamp":"2026-01-01T00:00:02.000Z","id":"e2e-differ"}\n\n`,
      });
    });
    const multi = new MultiClientPage(page);
    await multi.open();
    await multi.panel(0).connect("e2e-differ");
    await multi.panel(0).waitForEvents(2);
    await multi.panel(1).connect("e2e-differ");
    await multi.panel(1).waitForEvents(2);
    await expect(multi.consistency).toHaveAttribute("data-state", "different");
    await expect(multi.consistency).toHaveText("✕ 1 difference in 2 shared events");
    await expect(multi.consistencyAnnouncer).toHaveText(/different events/);
    // Clearing the lists does not make the difference go away.
    await multi.panel(0).clearButton.click();
    await multi.panel(1).clearButton.click();
    await expect(multi.panel(0).events).toHaveCount(0);
    await expect(multi.consistency).toHaveText("✕ 1 difference in 2 shared events");
  });

  test("Clear in one panel keeps the comparison going", async ({ page }) => {
    const multi = new MultiClientPage(page);
    await multi.open();
    await multi.panel(0).connect("e2e-clear-verdict");
    await multi.panel(1).connect("e2e-clear-verdict");
    await expect(multi.consistency).toHaveAttribute("data-state", "identical");
    const compared = async () => Number((await multi.consistency.textContent())?.match(/(\d+) shared/)?.[1]);
    await expect.poll(compared).toBeGreaterThanOrEqual(3);
    const before = await compared();
    const cleared = multi.panel(0);
    await cleared.clearButton.click();
    // Once the list shows fewer rows than events received (it was cleared;
    // events keep coming), the comparison has not started over: it still
    // counts the events compared before.
    await expect
      .poll(async () => {
        const received = Number(await cleared.count.textContent());
        return (await cleared.events.count()) < received;
      })
      .toBe(true);
    expect(await compared()).toBeGreaterThanOrEqual(before);
    await expect(multi.consistency).toHaveAttribute("data-state", "identical");
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
    // Keyboard focus follows: into the input of the panel just added…
    await expect(multi.panel(3).input).toBeFocused();
    await multi.panel(3).input.fill("e2e-fourth");
    await multi.connectAll();
    for (let i = 0; i < 4; i++) await expect(multi.panel(i).status).toHaveText("connected");
    await multi.panel(3).waitForEvents(1);
    expect(new Set(await multi.panel(3).rowStreamIds())).toEqual(new Set(["e2e-fourth"]));
    await multi.panel(3).root.getByTestId("remove-panel").click();
    await expect(multi.panels).toHaveCount(3);
    // …and, when the panel holding it goes, to "Add panel" (enabled again).
    await expect(multi.addPanelButton).toBeFocused();
    // The removed panel's stream closed with it.
    await expect.poll(async () => (await activeStreams(page.request)).map((s) => s.id)).toEqual(["demo"]);
    await multi.disconnectAll();
    for (let i = 0; i < 3; i++) await expect(multi.panel(i).status).toHaveText("disconnected");
  });

  test("connected panels can be removed and added again, many times", async ({ page }) => {
    const multi = new MultiClientPage(page);
    await multi.open();
    for (let round = 0; round < 4; round++) {
      await multi.addPanel();
      await expect(multi.panels).toHaveCount(3);
      const added = multi.panel(2);
      await added.connect(`e2e-cycle-${round}`);
      await added.waitForEvents(1);
      await added.removeButton.click();
      await expect(multi.panels).toHaveCount(2);
      // Its stream closed with it (the guard fails the test on any error).
      await expect
        .poll(async () => (await activeStreams(page.request)).map((s) => s.id))
        .not.toContain(`e2e-cycle-${round}`);
    }
    await multi.panel(1).connect("e2e-cycle-after");
    await multi.panel(1).waitForEvents(1);
  });

  test("Remove is named per panel and disabled for the last panel", async ({ page }) => {
    const multi = new MultiClientPage(page);
    await multi.open();
    await expect(page.getByRole("button", { name: "Remove client 1" })).toBeEnabled();
    await expect(page.getByRole("button", { name: "Remove client 2" })).toBeEnabled();
    await multi.panel(1).connect("e2e-removed");
    await expect(multi.panel(1).status).toHaveText("connected");
    await page.getByRole("button", { name: "Remove client 2" }).click();
    await expect(multi.panels).toHaveCount(1);
    await expect(multi.panel(0).root.getByRole("heading", { level: 2 })).toHaveText("Client 1");
    await expect.poll(async () => (await activeStreams(page.request)).map((s) => s.id)).not.toContain("e2e-removed");
    // The last panel cannot be removed, and the button says so by being disabled.
    await expect(multi.panel(0).removeButton).toBeDisabled();
    await expect(multi.panel(0).removeButton).toHaveAttribute("aria-label", "Remove client 1");
    // A new panel (the removed one's place, shown again) makes both
    // removable again.
    await multi.addPanel();
    await expect(multi.panels).toHaveCount(2);
    await expect(page.getByRole("button", { name: "Remove client 2" })).toBeEnabled();
    await expect(multi.panel(0).removeButton).toBeEnabled();
  });

  test("a panel added after one was removed starts as a new panel", async ({ page }) => {
    const multi = new MultiClientPage(page);
    await multi.open();
    const second = multi.panel(1);
    await second.eventTypes.fill("e2e.kind");
    await second.connect("e2e-reused");
    await second.waitForEvents(1);
    // Both on one stream: a verdict the removed panel takes part in.
    await multi.panel(0).connect("e2e-reused");
    await expect(multi.consistency).toHaveAttribute("data-state", "identical");
    // An id the panel refuses, so that there is an error to forget.
    await second.input.fill("bad id!");
    await second.connectButton.click();
    await expect(second.idError).toBeVisible();
    await second.removeButton.click();
    await expect(multi.panels).toHaveCount(1);
    await expect(multi.consistency).toHaveAttribute("data-state", "idle");
    // The removed panel's connection closed; the first panel's stays.
    await expect.poll(() => subscribers(page.request, "e2e-reused")).toBe(1);
    await multi.addPanel();
    await expect(multi.panels).toHaveCount(2);
    const added = multi.panel(1);
    await expect(added.input).toBeFocused();
    await expect(added.input).toHaveValue("demo");
    await expect(added.status).toHaveText("disconnected");
    await expect(added.count).toHaveText("0");
    await expect(added.latest).toHaveText("–");
    await expect(added.events).toHaveCount(0);
    await expect(added.eventTypes).toHaveValue("");
    await expect(added.listenedTypes).toHaveText(/unnamed messages only/);
    await expect(added.announcer).toHaveText("");
    await expect(added.idError).toBeHidden();
    await expect(added.input).toHaveAttribute("aria-invalid", "false");
  });

  for (const width of [360, 375]) {
    test(`works on a ${width} px wide phone with panels stacked`, async ({ page }) => {
      await page.setViewportSize({ width, height: 740 });
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
  }
});
