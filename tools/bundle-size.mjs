// Prints the WASM bundle's size raw, gzipped (level 9) and Brotli-compressed
// (quality 11), as a browser downloads it, and fails (exit 1) when the gzip
// size exceeds the ceiling given in KiB, so the bundle cannot creep back.
//
//   node tools/bundle-size.mjs target/site/pkg/sse-hub.wasm 160
import { readFileSync } from "node:fs";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const [file, ceilingKiB] = process.argv.slice(2);
if (!file || !ceilingKiB || Number.isNaN(Number(ceilingKiB))) {
  console.error("usage: node tools/bundle-size.mjs FILE.wasm GZIP_CEILING_KIB");
  process.exit(2);
}
const bytes = readFileSync(file);
const gzip = gzipSync(bytes, { level: 9 }).length;
const brotli = brotliCompressSync(bytes, {
  params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
}).length;
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`${file}: ${kib(bytes.length)} raw, ${kib(gzip)} gzip, ${kib(brotli)} Brotli`);
if (gzip > Number(ceilingKiB) * 1024) {
  console.error(`bundle: ${kib(gzip)} gzip is over the ${ceilingKiB} KiB ceiling`);
  process.exit(1);
}
