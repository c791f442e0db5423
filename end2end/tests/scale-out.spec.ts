import { test, expect } from "./fixtures/guard";
import { HomePage, MultiClientPage } from "./fixtures/stream-panel";
import { freePort, OwnServer } from "./fixtures/server";
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/**
 * Two instances on one Redis behind nginx, configured with the `nginx` block
 * of README.md exactly as written (only its ports are replaced), so that the
 * README's proxy configuration is the one that is tested.
 */

const readme = readFileSync(path.resolve(__dirname, "../../README.md"), "utf8");

/** The README's nginx block with the test's ports. */
function readmeNginx(listen: number, upstreams: [number, number]): string {
  const block = /```nginx\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error("README.md has no nginx block");
  if (!block.includes("127.0.0.1:3001") || !block.includes("127.0.0.1:3002") || !block.includes("listen 8080;")) {
    throw new Error("the README's nginx block no longer names 3001, 3002 and 8080");
  }
  return block
    .replace("127.0.0.1:3001", `127.0.0.1:${upstreams[0]}`)
    .replace("127.0.0.1:3002", `127.0.0.1:${upstreams[1]}`)
    .replace("listen 8080;", `listen 127.0.0.1:${listen};`);
}

/** Waits until `check` resolves true (every 50 ms, 10 s at most). */
async function until(what: string, check: () => Promise<boolean>) {
  const deadline = Date.now() + 10_000;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let dir: string;
let redis: ChildProcess;
let nginx: ChildProcess;
let instances: OwnServer[] = [];
let proxy: string;

test.beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "sse-hub-scale-out-"));
  // nginx's workers may run as another user: its directories are open to them.
  chmodSync(dir, 0o777);
  const redisPort = await freePort();
  redis = spawn(
    "redis-server",
    ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    { stdio: "ignore" },
  );
  await until("redis answers", async () => {
    const answer = execFileSync("redis-cli", ["-p", String(redisPort), "PING"], { stdio: ["ignore", "pipe", "ignore"] });
    return answer.toString().trim() === "PONG";
  });
  for (const name of ["hub-1", "hub-2"]) {
    instances.push(
      await OwnServer.start([
        "--store", `redis://127.0.0.1:${redisPort}`,
        "--instance-id", name,
        "--interval-ms", "200",
      ]),
    );
  }
  const listen = await freePort();
  for (const sub of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) {
    mkdirSync(path.join(dir, sub), { mode: 0o777 });
  }
  const conf = [
    "daemon off;",
    "worker_processes 1;",
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    "events { worker_connections 256; }",
    "http {",
    "  access_log off;",
    `  client_body_temp_path ${dir}/body;`,
    `  proxy_temp_path ${dir}/proxy;`,
    `  fastcgi_temp_path ${dir}/fastcgi;`,
    `  uwsgi_temp_path ${dir}/uwsgi;`,
    `  scgi_temp_path ${dir}/scgi;`,
    readmeNginx(listen, [instances[0].port, instances[1].port]),
    "}",
  ].join("\n");
  writeFileSync(path.join(dir, "nginx.conf"), conf);
  const binary = ["/usr/sbin/nginx", "nginx"].find((candidate) => {
    try {
      execFileSync(candidate, ["-v"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  });
  if (!binary) throw new Error("nginx is not installed (make setup installs nginx-light)");
  nginx = spawn(binary, ["-p", dir, "-c", path.join(dir, "nginx.conf")], { stdio: "inherit" });
  proxy = `http://127.0.0.1:${listen}`;
  await until("nginx answers", async () => (await fetch(`${proxy}/healthz`)).ok);
});

test.afterAll(async () => {
  nginx?.kill("SIGTERM");
  for (const instance of instances) await instance.stop();
  instances = [];
  redis?.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** Open SSE connections of one instance. */
async function connections(instance: OwnServer): Promise<number> {
  const stats = await (await fetch(`${instance.baseURL}/api/stats`)).json();
  return stats.connections;
}

test.describe("two instances behind the README's nginx configuration", () => {
  test("the multi-client page's panels agree though they landed on different instances", async ({ page }) => {
    const multi = new MultiClientPage(page);
    await multi.open(`${proxy}/test-multi-client`);
    await multi.addPanel();
    await multi.addPanel();
    await expect(multi.panels).toHaveCount(4);
    await multi.connectAll();
    for (let i = 0; i < 4; i++) await expect(multi.panel(i).status).toHaveText("connected");
    // Balanced by open connections: both instances serve some panels.
    await until("both instances serve panels", async () => {
      const open = await Promise.all(instances.map(connections));
      return open.every((count) => count >= 1) && open[0] + open[1] === 4;
    });
    for (let i = 0; i < 4; i++) await multi.panel(i).waitForEvents(4);
    await expect(multi.consistency).toHaveAttribute("data-state", "identical");
    await expect(multi.consistency).toContainText("0 differences");
    // One generator for the stream, wherever its clients are.
    const leading = await Promise.all(
      instances.map(async (instance) => (await (await fetch(`${instance.baseURL}/api/stats`)).json()).leading_streams),
    );
    expect(leading[0] + leading[1]).toBe(1);
    await multi.disconnectAll();
  });

  test("the home page connects through the proxy and receives events", async ({ page }) => {
    const home = new HomePage(page);
    await home.open(proxy);
    await home.panel.connect("through-nginx");
    await home.panel.waitForEvents(2);
    expect(new Set(await home.panel.rowStreamIds())).toEqual(new Set(["through-nginx"]));
  });
});
