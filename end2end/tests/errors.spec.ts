import { test, expect } from "./fixtures/guard";
import { HomePage, MultiClientPage } from "./fixtures/stream-panel";
import { OwnServer } from "./fixtures/server";

test.describe("errors the user should understand", () => {
  test("a stream the server refuses shows status error with the server's reason", async ({ page, guard }) => {
    // The refused request is the point of this test.
    guard.allow(/503/);
    const server = await OwnServer.start(["--max-streams", "1", "--interval-ms", "100"]);
    try {
      const multi = new MultiClientPage(page);
      await multi.open(`${server.baseURL}/test-multi-client`);
      await multi.panel(0).connect("e2e-allowed");
      await expect(multi.panel(0).status).toHaveText("connected");
      await multi.panel(1).connect("e2e-refused");
      await expect(multi.panel(1).status).toHaveText("error");
      await expect(multi.panel(1).root.getByTestId("error")).toContainText("maximum of 1 streams");
      await expect(multi.panel(1).root.getByTestId("error")).toContainText("503");
      await expect(multi.panel(0).status).toHaveText("connected");
    } finally {
      await page.goto("about:blank");
      await server.stop();
    }
  });

  test("malformed event data adds a visible error row and the app keeps working", async ({ page }) => {
    await page.route("**/sse/e2e-garbage", (route) =>
      route.fulfill({
        status: 200,
        contentType: "text/event-stream",
        body: 'retry: 600000\n\ndata: {"number": "not a number"}\n\ndata: \u0000\u0001 garbage\n\nid: 7\ndata: {"number":5,"timestamp":"2026-01-01T00:00:00.000Z","id":"e2e-garbage"}\n\n',
      }),
    );
    const home = new HomePage(page);
    await home.open();
    await home.panel.connect("e2e-garbage");
    await expect(home.panel.root.getByTestId("error-row")).toHaveCount(2);
    await expect(home.panel.root.getByTestId("error-row").first()).toContainText("could not read event data");
    await expect(home.panel.events).toHaveCount(1);
    await expect(home.panel.latest).toHaveText("5");
    // Still interactive: a real stream works afterwards.
    await page.unroute("**/sse/e2e-garbage");
    await home.panel.connect("e2e-after-garbage");
    await expect(home.panel.status).toHaveText("connected");
    await home.panel.waitForEvents(1);
  });

  test("a gap notice shows as its own row and is announced", async ({ page }) => {
    await page.route("**/sse/e2e-gap", (route) =>
      route.fulfill({
        status: 200,
        contentType: "text/event-stream",
        body:
          "retry: 600000\n\n" +
          'id: 2\ndata: {"number":7,"timestamp":"2026-01-01T00:00:02.000Z","id":"e2e-gap"}\n\n' +
          'event: gap\ndata: {"first":3,"last":9}\n\n' +
          'id: 10\ndata: {"number":8,"timestamp":"2026-01-01T00:00:10.000Z","id":"e2e-gap"}\n\n' +
          'event: gap\ndata: {"first":11,"last":12}\n\n',
      }),
    );
    const home = new HomePage(page);
    await home.open();
    await home.panel.connect("e2e-gap");
    const gaps = home.panel.root.getByTestId("gap-row");
    await expect(gaps).toHaveCount(2);
    await expect(gaps.first()).toContainText("Missed events 11 to 12");
    await expect(gaps.last()).toContainText("Missed events 3 to 9");
    await expect(home.panel.events).toHaveCount(2);
    // A gap is not an event: the count and Latest are the events'.
    await expect(home.panel.count).toHaveText("2");
    await expect(home.panel.latest).toHaveText("8");
    await expect(home.panel.announcer).toHaveText("Stream: missed events 11 to 12");
  });

  test("a flood of error rows pushes events out of the list but not out of Latest", async ({ page }) => {
    const event = (seq: number, n: number) =>
      `id: ${seq}\ndata: {"number":${n},"timestamp":"2026-01-01T00:00:0${seq}.000Z","id":"e2e-flood"}\n\n`;
    await page.route("**/sse/e2e-flood", (route) =>
      route.fulfill({
        status: 200,
        contentType: "text/event-stream",
        body: "retry: 600000\n\n" + event(1, 11) + event(2, 22) + "data: not json\n\n".repeat(100),
      }),
    );
    const home = new HomePage(page);
    await home.open();
    await home.panel.connect("e2e-flood");
    await expect(home.panel.root.getByTestId("error-row")).toHaveCount(100);
    await expect(home.panel.events).toHaveCount(0);
    await expect(home.panel.latest).toHaveText("22");
    await expect(home.panel.count).toHaveText("2");
    expect(await home.panel.sparklinePointCount()).toBe(2);
  });
});
