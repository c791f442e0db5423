// Prints the WASM each page downloads, raw, gzipped (level 9) and
// Brotli-compressed (quality 11), as a browser gets it, and fails (exit 1)
// when one page's gzip size exceeds the ceiling given in KiB, so the pages
// cannot creep back.
//
//   node tools/bundle-size.mjs target/site/pkg 160
//
// The front end is a split build (`cargo leptos build --split`): every page
// loads the main module (sse-hub.wasm), then the chunks its island needs,
// which cargo-leptos lists per island loader in __wasm_split_manifest.json.
// Each file travels compressed on its own, so a page's size is the sum of
// its files' compressed sizes.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const [pkg, ceilingKiB] = process.argv.slice(2);
if (!pkg || !ceilingKiB || Number.isNaN(Number(ceilingKiB))) {
  console.error("usage: node tools/bundle-size.mjs PKG_DIR GZIP_CEILING_KIB");
  process.exit(2);
}

const sizes = new Map();
/** Raw, gzip and Brotli bytes of one file of pkg/, measured once. */
function measure(name) {
  if (!sizes.has(name)) {
    const bytes = readFileSync(join(pkg, name));
    sizes.set(name, {
      raw: bytes.length,
      gzip: gzipSync(bytes, { level: 9 }).length,
      brotli: brotliCompressSync(bytes, {
        params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
      }).length,
    });
  }
  return sizes.get(name);
}

let manifest;
try {
  manifest = JSON.parse(readFileSync(join(pkg, "__wasm_split_manifest.json"), "utf8"));
} catch (error) {
  console.error(`bundle: cannot read ${pkg}/__wasm_split_manifest.json (${error.message}); is the front end a split build?`);
  process.exit(2);
}

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
let over = false;
// "home_page_loader_1537…" names the home page's island.
const pages = Object.entries(manifest)
  .map(([loader, chunks]) => [loader.replace(/_loader_\d+$/, ""), ["sse-hub", ...chunks].map((c) => `${c}.wasm`)])
  .sort(([a], [b]) => a.localeCompare(b));
for (const [page, files] of pages) {
  const total = { raw: 0, gzip: 0, brotli: 0 };
  for (const file of files) {
    const size = measure(file);
    total.raw += size.raw;
    total.gzip += size.gzip;
    total.brotli += size.brotli;
  }
  console.log(
    `${page}: ${kib(total.raw)} raw, ${kib(total.gzip)} gzip, ${kib(total.brotli)} Brotli in ${files.length} files`,
  );
  if (total.gzip > Number(ceilingKiB) * 1024) {
    console.error(`bundle: the ${page} downloads ${kib(total.gzip)} gzip, over the ${ceilingKiB} KiB ceiling`);
    over = true;
  }
}
const all = [...sizes.values()].reduce((sum, size) => sum + size.gzip, 0);
console.log(`all ${sizes.size} files: ${kib(all)} gzip`);
process.exit(over ? 1 : 0);
