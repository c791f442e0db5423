import { test, expect } from "./fixtures/guard";
import { waitForHydration } from "./fixtures/stream-panel";
import { REPO_ROOT } from "./fixtures/server";
import { readFileSync } from "node:fs";
import path from "node:path";

// The front end is a split build: each page loads the main module and the
// chunks of its own island, never another page's code. tools/bundle-size.mjs
// (in make test) weighs each page by the chunks cargo-leptos' manifest lists
// for its island; this checks that the manifest is what the browser really
// fetches, so that the weights it prints are the ones users download.
const manifest: Record<string, string[]> = JSON.parse(
  readFileSync(path.join(REPO_ROOT, "target/site/pkg/__wasm_split_manifest.json"), "utf8"),
);

/** The WASM files the manifest says the page with `island` loads. */
function expectedFiles(island: string): string[] {
  const loader = Object.keys(manifest).find((name) => name.startsWith(`${island}_loader_`));
  expect(loader, `no loader for ${island} in the manifest`).toBeDefined();
  return ["sse-hub", ...manifest[loader!]].map((name) => `${name}.wasm`).sort();
}

for (const [url, island] of [
  ["/", "home_page"],
  ["/test-multi-client", "multi_client_page"],
  ["/dashboard", "dashboard_page"],
] as const) {
  test(`${url} downloads only the WASM of its own island`, async ({ page }) => {
    const fetched = new Set<string>();
    page.on("response", (response) => {
      const name = new URL(response.url()).pathname.split("/").pop() ?? "";
      if (name.endsWith(".wasm")) fetched.add(name);
    });
    await page.goto(url);
    await waitForHydration(page);
    expect([...fetched].sort()).toEqual(expectedFiles(island));
  });
}
