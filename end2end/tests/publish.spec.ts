import { test, expect } from "./fixtures/guard";
import { HomePage, MultiClientPage, waitForHydration } from "./fixtures/stream-panel";
import { PublishCard, publishedRows, publishViaApi } from "./fixtures/publish";
import { mintToken } from "./fixtures/tokens";
import type { Page } from "@playwright/test";

test.describe("publishing from the page", () => {
  test("an event published from the home page arrives in the connected client with its type", async ({ page }) => {
    const urls = recordRequestUrls(page);
    const home = new HomePage(page);
    const card = new PublishCard(page);
    await home.open();
    await home.panel.connect("e2e-pub-home");
    await expect(home.panel.status).toHaveText("connected");
    // The card publishes to the stream the client connected to, and says so.
    await expect(card.stream).toHaveValue("e2e-pub-home");
    await expect(card.target).toContainText("connected to this stream");
    await home.panel.waitForEvents(1);

    const token = mintToken({ publish: ["e2e-pub-*"] });
    await card.token.fill(token);
    await card.publish("order.paid", '{"order": 42, "paid": true}');
    await expect(card.answer).toHaveAttribute("data-state", "published");
    const id = await card.answer.getAttribute("data-id");
    expect(Number(id)).toBeGreaterThan(0);
    await expect(card.answer).toHaveText(`Published as event ${id} on stream e2e-pub-home.`);
    await expect(card.answer).toHaveAttribute("aria-live", "polite");

    // The event arrives with its type as a tag and its data laid out as JSON.
    const row = home.panel.published.first();
    await expect(row).toHaveAttribute("data-seq", id!);
    await expect(row.getByTestId("event-type")).toHaveText("order.paid");
    expect(await row.getByTestId("event-data").textContent()).toBe('{\n  "order": 42,\n  "paid": true\n}');
    // Publishing the type made the client listen for it.
    await expect(home.panel.listenedTypes).toContainText("order.paid");
    // Generated numbers go on beside it: Latest, the count and the trend are still theirs.
    const count = Number(await home.panel.count.textContent());
    await expect.poll(() => home.panel.count.textContent().then(Number)).toBeGreaterThan(count + 2);
    await expect(home.panel.latest).toHaveText(/^\d+$/);
    expect(await home.panel.sparklinePointCount()).toBeGreaterThanOrEqual(2);

    // The token is kept for the tab, never put in a URL, and restored on reload.
    expect(await page.evaluate(() => sessionStorage.getItem("sse-hub.token"))).toBe(token);
    expect(urls.filter((url) => url.includes(token))).toEqual([]);
    await page.reload();
    await waitForHydration(page);
    await expect(card.token).toHaveValue(token);
    expect(page.url()).not.toContain(token);
  });

  test("without a token the server's refusal and its code are shown", async ({ page, guard }) => {
    // The refused publish is the point of this test.
    guard.allow(/\b401\b/);
    const home = new HomePage(page);
    const card = new PublishCard(page);
    await home.open();
    await card.publish("", '"hello"');
    await expect(card.answer).toHaveAttribute("data-state", "refused");
    await expect(card.answer).toHaveAttribute("data-code", "missing_token");
    await expect(card.answer).toContainText("(missing_token, HTTP 401)");
  });

  test("bad JSON or a bad event type is refused inline, without a request", async ({ page, baseURL }) => {
    const posts: string[] = [];
    page.on("request", (request) => {
      if (request.method() === "POST") posts.push(request.url());
    });
    const home = new HomePage(page);
    const card = new PublishCard(page);
    await home.open();
    await card.token.fill(mintToken({ publish: ["*"] }));

    await card.data.fill('{"order": 42,');
    await expect(card.dataError).toBeVisible();
    await expect(card.dataError).toContainText("not valid JSON");
    await expect(card.dataError).toContainText("line 1 column");
    await expect(card.data).toHaveAttribute("aria-invalid", "true");
    await expect(card.publishButton).toBeDisabled();
    await expect(card.blocked).toBeVisible();
    // Neither Enter in a field nor a click on the disabled button sends it.
    await card.eventType.press("Enter");
    await card.publishButton.click({ force: true });

    await card.data.fill("   ");
    await expect(card.dataError).toContainText("empty");
    await expect(card.publishButton).toBeDisabled();

    // What JSON.parse takes but the server's reader refuses is refused here too.
    // (The data travels inside the body's object: 126 levels of its own.)
    await card.data.fill(`${"[".repeat(127)}1${"]".repeat(127)}`);
    await expect(card.dataError).toContainText("more than 126 levels deep");
    await expect(card.publishButton).toBeDisabled();
    await card.data.fill('{"half": "\\ud800"}');
    await expect(card.dataError).toContainText("half of a surrogate pair");
    await expect(card.publishButton).toBeDisabled();
    await card.data.fill(`${"[".repeat(126)}1${"]".repeat(126)}`);
    await expect(card.dataError).toBeHidden();

    await card.data.fill('{"ok": true}');
    await expect(card.dataError).toBeHidden();
    await expect(card.publishButton).toBeEnabled();
    for (const bad of ["order paid", "gap", "x".repeat(65)]) {
      await card.eventType.fill(bad);
      await expect(card.typeError).toBeVisible();
      await expect(card.eventType).toHaveAttribute("aria-invalid", "true");
      await expect(card.publishButton).toBeDisabled();
      await card.eventType.press("Enter");
    }

    // Fixed: the one request made is this one.
    await card.eventType.fill("order.paid");
    await expect(card.typeError).toBeHidden();
    await card.publishButton.click();
    await expect(card.answer).toHaveAttribute("data-state", "published");
    expect(posts).toEqual([`${baseURL}/api/streams/test1/events`]);
  });

  test("published markup shows as text and runs nothing", async ({ page }) => {
    const dialogs: string[] = [];
    page.on("dialog", async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.dismiss();
    });
    const home = new HomePage(page);
    const card = new PublishCard(page);
    await home.open();
    await home.panel.connect("e2e-pub-xss");
    await expect(home.panel.status).toHaveText("connected");
    await card.token.fill(mintToken({ publish: ["e2e-pub-xss"] }));

    await card.publish("xss.test", '"<img src=x onerror=alert(1)>"');
    await expect(card.answer).toHaveAttribute("data-state", "published");
    const typed = home.panel.published.first();
    expect(await typed.getByTestId("event-data").textContent()).toBe('"<img src=x onerror=alert(1)>"');

    // Unnamed, with markup in a key and a value.
    await card.publish("", '{"<script>alert(2)</script>": "<b onmouseover=alert(3)>bold</b>"}');
    await expect(home.panel.published).toHaveCount(2);
    const unnamed = home.panel.published.first();
    await expect(unnamed.getByTestId("event-type")).toHaveText("message");
    expect(await unnamed.getByTestId("event-data").textContent()).toBe(
      '{\n  "<script>alert(2)</script>": "<b onmouseover=alert(3)>bold</b>"\n}',
    );
    await unnamed.hover();

    await expect(home.panel.history.locator("img, script, b")).toHaveCount(0);
    await expect(page.locator("img")).toHaveCount(0);
    expect(dialogs).toEqual([]);
  });

  test("long data is folded behind a toggle, and fits a 360 px phone", async ({ page }) => {
    await page.setViewportSize({ width: 360, height: 740 });
    const home = new HomePage(page);
    const card = new PublishCard(page);
    await home.open();
    await home.panel.connect("e2e-pub-long");
    await expect(home.panel.status).toHaveText("connected");
    await card.token.fill(mintToken({ publish: ["e2e-pub-long"] }));

    const list = Array.from({ length: 30 }, (_, i) => i + 1);
    await card.publish("line.long", JSON.stringify("x".repeat(2000)));
    await expect(home.panel.published).toHaveCount(1);
    await card.publish("list.long", JSON.stringify(list));
    await expect(home.panel.published).toHaveCount(2);
    // Still, so that the rows stop moving under the clicks.
    await home.panel.disconnectButton.click();
    const row = home.panel.published.first();
    const data = row.getByTestId("event-data");
    const toggle = row.getByTestId("fold-toggle");
    await expect(toggle).toHaveText("Show all 32 lines");
    await expect(toggle).toHaveAttribute("aria-expanded", "false");
    const folded = (await data.textContent()) ?? "";
    expect(folded.split("\n")).toHaveLength(8);
    expect(folded.endsWith("…")).toBe(true);
    await toggle.click();
    await expect(toggle).toHaveAttribute("aria-expanded", "true");
    await expect(toggle).toHaveText("Show less");
    expect(await data.textContent()).toBe(JSON.stringify(list, null, 2));
    await toggle.click();
    await expect(toggle).toHaveAttribute("aria-expanded", "false");

    // One long unbroken string folds by length and wraps instead of overflowing.
    const line = home.panel.published.nth(1).getByTestId("fold-toggle");
    await expect(line).toHaveText("Show all 2002 characters");
    await line.click();
    await expect(line).toHaveAttribute("aria-expanded", "true");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    // On a phone the card comes after the client, which keeps the top of the page.
    const panelBox = await home.panel.root.boundingBox();
    const cardBox = await card.root.boundingBox();
    expect(cardBox!.y).toBeGreaterThan(panelBox!.y + panelBox!.height - 1);
  });

  test("the card sits beside the client on a wide screen, in light and dark", async ({ page }) => {
    await page.setViewportSize({ width: 1280, height: 900 });
    for (const colorScheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme });
      const home = new HomePage(page);
      const card = new PublishCard(page);
      await home.open();
      const panelBox = await home.panel.root.boundingBox();
      const cardBox = await card.root.boundingBox();
      expect(cardBox!.x).toBeGreaterThan(panelBox!.x + panelBox!.width - 1);
      expect(Math.abs(cardBox!.y - panelBox!.y)).toBeLessThan(2);
      // Every field has a label.
      for (const field of [card.stream, card.eventType, card.data, card.token]) {
        await expect(field).toHaveAccessibleName(/.+/);
      }
      const [background, text] = await card.root.evaluate((element) => {
        const style = getComputedStyle(element);
        return [style.backgroundColor, style.color];
      });
      expect(background).toBe(colorScheme === "dark" ? "rgb(23, 27, 35)" : "rgb(255, 255, 255)");
      expect(text).toBe(colorScheme === "dark" ? "rgb(231, 234, 240)" : "rgb(27, 31, 42)");
    }
  });
});

test.describe("named event types", () => {
  test("types typed into a panel's field are shown, on an open connection too", async ({ page, request }) => {
    const home = new HomePage(page);
    await home.open();
    await home.panel.connect("e2e-pub-typed");
    await expect(home.panel.status).toHaveText("connected");
    await home.panel.waitForEvents(1);
    const token = mintToken({ publish: ["e2e-pub-typed"] });

    // Not listened for yet: a named event is not delivered to the page. Once
    // a generated event after it has arrived, it has been passed over.
    const unheard = await publishViaApi(request, "e2e-pub-typed", { event: "build.done", data: { build: 1 } }, token);
    expect(unheard.status).toBe(201);
    await expect
      .poll(async () => Math.max(0, ...(await home.panel.events.evaluateAll((rows) => rows.map((row) => Number(row.getAttribute("data-seq")))))))
      .toBeGreaterThan(unheard.body.id!);
    await expect(home.panel.published).toHaveCount(0);
    // Listening from now on, without reconnecting.
    await home.panel.eventTypes.fill("build.done, not valid");
    await expect(home.panel.root.getByTestId("event-types-error")).toContainText('"not valid"');
    await expect(home.panel.listenedTypes).toHaveText("Shows unnamed messages and: build.done.");
    // On a phone, a long type (and a long refused one) wraps in the field's
    // help and error lines instead of widening the page.
    await page.setViewportSize({ width: 360, height: 740 });
    await home.panel.eventTypes.fill(`build.done, ${"t".repeat(64)}, ${"bad ".repeat(18)}`);
    await expect(home.panel.root.getByTestId("event-types-error")).toBeVisible();
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    await page.setViewportSize({ width: 1280, height: 800 });
    await home.panel.eventTypes.fill("build.done");
    await expect(home.panel.listenedTypes).toHaveText("Shows unnamed messages and: build.done.");
    const heard = await publishViaApi(request, "e2e-pub-typed", { event: "build.done", data: { build: 2 } }, token);
    await expect(home.panel.published).toHaveCount(1);
    await expect(home.panel.published.first()).toHaveAttribute("data-seq", String(heard.body.id));
    expect(await home.panel.published.first().getByTestId("event-data").textContent()).toBe('{\n  "build": 2\n}');
    // The connection stayed the same one: nothing was missed or reset.
    await expect(home.panel.status).toHaveText("connected");
  });
});

test.describe("published events on the multi-client page", () => {
  test("an event published while two panels listen arrives in both and the verdict agrees", async ({ page, request }) => {
    const multi = new MultiClientPage(page);
    await multi.open();
    for (const index of [0, 1]) {
      await multi.panel(index).eventTypes.fill("build.done");
      await multi.panel(index).connect("e2e-pub-multi");
      await expect(multi.panel(index).status).toHaveText("connected");
    }
    await multi.panel(0).waitForEvents(1);
    await multi.panel(1).waitForEvents(1);

    const token = mintToken({ publish: ["e2e-pub-multi"] });
    const typed = await publishViaApi(request, "e2e-pub-multi", { event: "build.done", data: { build: 7, ok: true } }, token);
    expect(typed.status).toBe(201);
    const unnamed = await publishViaApi(request, "e2e-pub-multi", { data: ["plain", 1] }, token);
    expect(unnamed.status).toBe(201);

    for (const index of [0, 1]) await expect(multi.panel(index).published).toHaveCount(2);
    const first = await publishedRows(multi.panel(0).published);
    const second = await publishedRows(multi.panel(1).published);
    expect(first).toEqual([
      { seq: String(unnamed.body.id), type: "message", data: '[\n  "plain",\n  1\n]' },
      { seq: String(typed.body.id), type: "build.done", data: '{\n  "build": 7,\n  "ok": true\n}' },
    ]);
    expect(second).toEqual(first);
    // Generated and published events share one id sequence, and both panels keep counting numbers.
    await multi.panel(0).waitForEvents(3);
    await expect(multi.consistency).toHaveAttribute("data-state", "identical");
    await expect(multi.consistency).toContainText("0 differences");
  });
});

test.describe("private streams", () => {
  test("a private stream refused without a token says why, and opens with one", async ({ page, guard }) => {
    // The refusals are the point of this test.
    guard.allow(/\b40[13]\b/);
    const home = new HomePage(page);
    const card = new PublishCard(page);
    await home.open();

    await home.panel.connect("private-x");
    await expect(home.panel.status).toHaveText("error");
    await expect(home.panel.error).toContainText("missing_token");
    await expect(home.panel.error).toContainText("HTTP 401");

    await card.token.fill(mintToken({ subscribe: ["private-*"], secret: "not the server's secret" }));
    await home.panel.connectButton.click();
    await expect(home.panel.status).toHaveText("error");
    await expect(home.panel.error).toContainText("invalid_token");

    await card.token.fill(mintToken({ subscribe: ["private-y"] }));
    await home.panel.connectButton.click();
    await expect(home.panel.error).toContainText("forbidden");
    await expect(home.panel.error).toContainText("HTTP 403");

    const token = mintToken({ subscribe: ["private-*"] });
    // The line the server prints at start, pasted whole.
    await card.token.fill(`token: ${token}`);
    await expect(page.getByTestId("publish-token-error")).toBeHidden();
    await home.panel.connectButton.click();
    await expect(home.panel.status).toHaveText("connected");
    await expect(home.panel.error).toBeHidden();
    await home.panel.waitForEvents(2);
    // The token travels as the cookie the brief names, for the whole site only.
    const cookie = (await page.context().cookies()).find((c) => c.name === "sse_hub_token");
    expect(cookie).toMatchObject({ value: token, path: "/sse/", sameSite: "Strict" });

    // Emptying the field clears the cookie: the next connect is refused again.
    await card.token.fill("");
    await expect
      .poll(async () => (await page.context().cookies()).some((c) => c.name === "sse_hub_token"))
      .toBe(false);
    await home.panel.connectButton.click();
    await expect(home.panel.error).toContainText("missing_token");
  });

  test("a second tab opened with no token leaves the first tab's private stream open", async ({ page, context, guard }) => {
    guard.allow(/\b40[13]\b/);
    const home = new HomePage(page);
    const card = new PublishCard(page);
    await home.open();
    await card.token.fill(mintToken({ subscribe: ["private-*"] }));
    await home.panel.connect("private-tabs");
    await expect(home.panel.status).toHaveText("connected");

    const other = await context.newPage();
    await new HomePage(other).open();
    await expect(other.getByTestId("publish-token")).toHaveValue("");
    // The cookie is the browser's: the new tab must not have cleared it, or
    // the first tab's next reconnect would be refused.
    expect((await context.cookies()).some((c) => c.name === "sse_hub_token")).toBe(true);
    await other.close();
    await home.panel.disconnectButton.click();
    await home.panel.connectButton.click();
    await expect(home.panel.status).toHaveText("connected");
    await home.panel.waitForEvents(1);
  });
});

/** Records the URL of every request the page makes. */
function recordRequestUrls(page: Page): string[] {
  const urls: string[] = [];
  page.on("request", (request) => urls.push(request.url()));
  return urls;
}
