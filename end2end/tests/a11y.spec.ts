import AxeBuilder from "@axe-core/playwright";
import { test, expect } from "./fixtures/guard";
import { HomePage, MultiClientPage } from "./fixtures/stream-panel";
import { DashboardPage } from "./fixtures/dashboard";
import type { Page } from "@playwright/test";
import type { Guard } from "./fixtures/guard";

/** WCAG 2.2 level A and AA, as axe-core tags them. */
const TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

/** What fails a page: anything axe rates this bad. */
const BLOCKING = new Set(["serious", "critical"]);

/** Each page, opened with live data on screen. */
const PAGES: { name: string; open: (page: Page, guard: Guard) => Promise<void> }[] = [
  {
    name: "home",
    open: async (page) => {
      const home = new HomePage(page);
      await home.open();
      await home.panel.connect("a11y-home");
      // Enough rows for the history to scroll.
      await home.panel.waitForEvents(20);
    },
  },
  {
    name: "multi-client",
    open: async (page) => {
      const multi = new MultiClientPage(page);
      await multi.open();
      await multi.connectAll();
      await multi.panel(0).waitForEvents(20);
    },
  },
  {
    name: "dashboard",
    open: async (page, guard) => {
      // Another page keeps a stream open, so that the table has rows.
      const other = await page.context().newPage();
      guard.watch(other);
      const home = new HomePage(other);
      await home.open();
      await home.panel.connect("a11y-dashboard");
      await home.panel.waitForEvents(2);
      const dashboard = new DashboardPage(page);
      await dashboard.open();
      await expect(dashboard.row("a11y-dashboard")).toBeVisible();
      // A second frame: rates and a trend drawn.
      await expect(dashboard.row("a11y-dashboard").getByTestId("row-rate")).toHaveText(/\/s$/);
    },
  },
  {
    name: "not found",
    open: async (page, guard) => {
      // The page itself answers 404, which the browser also logs.
      guard.allow(/HTTP 404 for .*\/no-such-page$/);
      guard.allow(/Failed to load resource: the server responded with a status of 404/);
      // Static: no island, nothing to hydrate.
      await page.goto("/no-such-page", { waitUntil: "load" });
    },
  },
];

for (const colorScheme of ["light", "dark"] as const) {
  test.describe(`axe, ${colorScheme}`, () => {
    for (const { name, open } of PAGES) {
      test(`${name} has no serious or critical WCAG 2.2 AA violation`, async ({ page, guard }) => {
        await page.emulateMedia({ colorScheme });
        await open(page, guard);
        const results = await new AxeBuilder({ page }).withTags(TAGS).analyze();
        const blocking = results.violations.filter((violation) => BLOCKING.has(violation.impact ?? ""));
        console.log(
          `${name} (${colorScheme}): ${results.passes.length} rules passed, ${results.violations.length} violated, ` +
            `${results.incomplete.length} need review (${results.incomplete.map((rule) => rule.id).join(", ")})`,
        );
        for (const review of results.incomplete) {
          for (const node of review.nodes) {
            console.log(`  review ${review.id}: ${node.target.join(" ")}: ${node.any.map((check) => check.message).join("; ")}`);
          }
        }
        for (const violation of results.violations) {
          const targets = violation.nodes.map((node) => node.target.join(" ")).join(" | ");
          console.log(`${name} (${colorScheme}): ${violation.impact} ${violation.id}: ${targets}`);
        }
        expect(
          blocking.map((violation) => ({
            id: violation.id,
            impact: violation.impact,
            nodes: violation.nodes.map((node) => ({ target: node.target.join(" "), summary: node.failureSummary })),
          })),
        ).toEqual([]);
      });
    }
  });
}
