#!/usr/bin/env python3
"""Runs the benchmark scenarios against sse-hub and the Express reference.

Usage: python3 run.py full|quick [--only KEYS] [--against OLD_BINARY [--rounds N]]

For each scenario it starts sse-hub, runs the load generator, stops it, then
does the same with the Express reference, and finally prints one table with
both servers' figures and their ratio. `full` also rewrites RESULTS.md; both
modes keep the raw JSON summaries and the servers' logs under target/bench/.

The capacity and throughput scenarios also run against sse-hub-redis: two
sse-hub instances sharing a private redis-server, with the clients of one
load generator run split over both; a failover measurement kills a stream's
leader among them (`kill -9`) and times the takeover. `--only` picks
scenarios (`capacity`), one server of one (`capacity/sse-hub-redis`), or the
separate measurements (`failover`, `restart`).

With `--against`, it instead compares this tree's sse-hub with another
sse-hub binary (a build of an earlier commit, say): both run every scenario,
alternating (A B, then B A, ...), and one table shows each run and the ratio
of the means; the report goes to target/bench/COMPARE-<mode>.md.

Only the Python standard library is used. The server binary must already be
built (the root Makefile's `bench` target does that); the Makefile in this
directory builds the load generator and installs the reference's packages.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import resource
import shutil
import signal
import socket
import subprocess
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
HUB_BIN = ROOT / "target" / "release" / "sse-hub"
LOADGEN = BENCH / "target" / "release" / "sse-loadgen"
FLOOR_BIN = BENCH / "target" / "release" / "sse-floor"
EXPRESS_DIR = BENCH / "reference-express"
OUT_DIR = BENCH / "target" / "bench"
RESULTS_MD = BENCH / "RESULTS.md"

SERVERS = ("sse-hub", "express")
# sse-hub again with its default embedded disk store (the "sse-hub" runs use
# --store memory); each run gets an empty store of its own under OUT_DIR.
DISK = "sse-hub-disk"
HUB_SERVERS = ("sse-hub", DISK)
# sse-hub as REDIS_INSTANCES instances sharing one private redis-server
# (--store redis://…): one load generator run spreads its clients over all of
# them (`sse-loadgen hold --url A --url B`), so that its per-tick consistency
# check compares what the instances sent.
REDIS = "sse-hub-redis"
REDIS_INSTANCES = ("a", "b")
# The instances' --lease-ms (sse-hub's default): how long a dead leader's
# lease on a stream holds before another instance takes the stream over.
REDIS_LEASE_MS = 3000
# How often the Redis command counters are read during a run.
REDIS_SAMPLE_S = 0.25
# The failover measurement: trials, and the streams' interval.
FAILOVER_TRIALS = {"full": 20, "quick": 5}
FAILOVER_INTERVAL_MS = 100
# The other sse-hub binary of a comparison run (`--against`).
BEFORE = "before"
AGAINST_BIN: Path | None = None
# The bare write loop (src/bin/sse-floor.rs): the least work any server must do
# per delivery on this machine. It runs where a target asks for less than that.
FLOOR = "floor"
FLOOR_WRITERS = 2
# sse-hub forgets an idle stream's replay buffer after this long; the churn
# scenario runs it short and waits it out before measuring memory.
CHURN_RETENTION_MS = 1000
# Churn runs its cycles twice: memory that keeps growing in the second round
# is a leak, memory that stays level is the allocator's high-water mark.
CHURN_ROUNDS = 2
PAUSE_BETWEEN_RUNS_S = 1.0
# The machine is shared: before each full run, wait until everything else uses
# less than this much CPU (percent of one core), and run again once when other
# processes used more than CONTAMINATED_PCT during the measured window. Quick
# mode does neither (it must stay short) but flags disturbed runs all the same.
QUIET_PCT = 25.0
CONTAMINATED_PCT = 25.0
QUIET_WAIT_S = {"full": 900.0, "quick": 0.0}
RERUN_DISTURBED = {"full": True, "quick": False}


@dataclass
class Scenario:
    """One scenario: the server settings and the load generator's arguments."""

    key: str
    title: str
    interval_ms: int
    loadgen_args: list[str]
    timeout_s: float
    hub_args: list[str] = field(default_factory=list)
    description: str = ""
    servers: tuple[str, ...] = (*SERVERS, DISK)


def terminate(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within 10 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def scenarios(mode: str) -> list[Scenario]:
    """The scenarios of this run (`--only`), at full or quick size."""
    every = all_scenarios(mode)
    return [s for s in every if selected(s.key) or selected_servers(s)]


def selected(key: str) -> bool:
    """Whether `--only` asks for `key` whole (or nothing was asked)."""
    return not ONLY or key in ONLY


def selected_servers(scenario: Scenario) -> tuple[str, ...]:
    """The servers of a scenario that this run runs: all of them when its key
    is selected, else those named as `key/server` in `--only`."""
    if selected(scenario.key):
        return scenario.servers
    return tuple(name for name in scenario.servers if f"{scenario.key}/{name}" in ONLY)


# The token secret of the publish scenario's servers.
PUBLISH_SECRET = "bench-publish-secret-0123456789"

# Scenario keys to run (`--only`), each a key (`capacity`: every server of
# it), a key and a server (`capacity/sse-hub-redis`), or one of the separate
# measurements `restart` and `failover`; empty: all.
ONLY: set[str] = set()


def all_scenarios(mode: str) -> list[Scenario]:
    """The four scenarios at full or quick size."""
    full = mode == "full"
    cap_n, fan_n = (19_500, 19_500) if full else (500, 500)
    tp_streams, tp_clients = (100, 100) if full else (10, 50)
    churn_cycles = 20_000 if full else 2_000
    pubs, pub_subs, pub_for, pub_s = (50, 1000, "20s", 20) if full else (20, 200, "5s", 5)
    hold = "30s" if full else "8s"
    hold_s = 30 if full else 8
    ramp = 2000 if full else 1000
    stats = ["--stats-path", "/api/stats"]

    def hold_scenario(
        key: str, title: str, interval_ms: int, n: int, streams: int, description: str,
        servers: tuple[str, ...] = (*SERVERS, DISK, REDIS),
    ) -> Scenario:
        """N connections over S streams, ramped up, then held and measured."""
        return Scenario(
            servers=servers,
            key=key,
            title=title,
            interval_ms=interval_ms,
            loadgen_args=["hold", "-n", str(n), "-s", str(streams), "--ramp", str(ramp), "--hold", hold, *stats],
            timeout_s=n / ramp + hold_s + 90,
            description=description,
        )

    return [
        hold_scenario(
            "capacity",
            f"Capacity: {cap_n:,} connections over 100 streams, 1 s interval, held {hold}",
            1000, cap_n, 100,
            f"ramp {ramp:,}/s; also as {len(REDIS_INSTANCES)} sse-hub instances on one Redis, "
            f"{len(REDIS_INSTANCES)} × {cap_n // len(REDIS_INSTANCES):,} connections",
        ),
        hold_scenario(
            "fanout",
            f"Fan-out: 1 stream, {fan_n:,} clients, 1 s interval, held {hold}",
            1000, fan_n, 1, f"ramp {ramp:,}/s; also against the bare write loop",
            servers=(*SERVERS, DISK, FLOOR),
        ),
        hold_scenario(
            "throughput",
            f"Throughput: {tp_streams} streams x {tp_clients} clients, 10 ms interval, held {hold}",
            10, tp_streams * tp_clients, tp_streams,
            f"nominal {tp_streams * tp_clients * 100:,} events/s; ramp {ramp:,}/s; also as "
            f"{len(REDIS_INSTANCES)} sse-hub instances on one Redis, the clients split over both",
        ),
        Scenario(
            key="publish",
            title=(
                f"Publish: {pubs} keep-alive publishers as fast as acknowledged for {pub_for} "
                f"to 100 streams, {pub_subs:,} subscribers"
            ),
            interval_ms=10_000,
            loadgen_args=[
                "publish", "-s", "100", "--publishers", str(pubs),
                "--subscribers", str(pub_subs), "--duration", pub_for,
            ],
            hub_args=["--jwt-secret", PUBLISH_SECRET, "--max-publish-rate", "0", "--generate", "none"],
            timeout_s=pub_s + 120,
            description="published events only (--generate none); sse-hub with memory and with disk",
            servers=HUB_SERVERS,
        ),
        Scenario(
            key="churn",
            title=(
                f"Churn: {churn_cycles:,} connect/disconnect cycles over 1,000 ids, 200 in flight, "
                f"{CHURN_ROUNDS} rounds"
            ),
            interval_ms=100,
            loadgen_args=[
                "churn", "-c", str(churn_cycles), "--ids", "1000", "--concurrency", "200",
                "--warmup", "200", "--rounds", str(CHURN_ROUNDS),
                "--settle", f"{CHURN_RETENTION_MS * 3}ms",
            ],
            hub_args=["--retention-ms", str(CHURN_RETENTION_MS)],
            timeout_s=CHURN_ROUNDS * churn_cycles / 50 + 120,
            description=(
                f"100 ms interval; sse-hub with --retention-ms {CHURN_RETENTION_MS}; "
                "200 warm-up cycles before the baseline"
            ),
        ),
    ]


class Server:
    """A server process under test, started for one run."""

    def __init__(self, name: str, scenario: Scenario, mode: str) -> None:
        self.name = name
        self.scenario = scenario
        stem = OUT_DIR / f"{mode}-{scenario.key}-{name}"
        self.stdout_path = stem.with_suffix(".stdout.log")
        self.stderr_path = stem.with_suffix(".stderr.log")
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.early_exit: int | None = None

    def command(self) -> tuple[list[str], Path, dict[str, str]]:
        env = dict(os.environ)
        if self.name in HUB_SERVERS or self.name.startswith(BEFORE):
            binary = AGAINST_BIN if self.name.startswith(BEFORE) else HUB_BIN
            # The load comes from one address: lift the per-address socket
            # share and connection rate (through the environment, which a
            # --against binary from before these flags ignores).
            env.update({
                "SSE_HUB_MAX_SOCKETS_PER_IP": "0",
                "SSE_HUB_MAX_CONNECTION_RATE_PER_IP": "0",
            })
            args = [
                str(binary), "--addr", "127.0.0.1:0",
                "--interval-ms", str(self.scenario.interval_ms), "--log", "warn",
                *self.scenario.hub_args,
            ]
            if self.name == DISK:
                store = self.store_dir()
                shutil.rmtree(store, ignore_errors=True)
                args += ["--store", str(store)]
            else:
                # Older binaries have no --store and keep everything in memory.
                env["SSE_HUB_STORE"] = "memory"
            return args, ROOT, env
        if self.name == FLOOR:
            args = [
                str(FLOOR_BIN), "--addr", "127.0.0.1:0",
                "--interval-ms", str(self.scenario.interval_ms), "--writers", str(FLOOR_WRITERS),
            ]
            return args, BENCH, env
        env.update({"PORT": "0", "INTERVAL_MS": str(self.scenario.interval_ms)})
        return ["node", "server.js"], EXPRESS_DIR, env

    def store_dir(self) -> Path:
        """The disk store of this run (emptied before it starts)."""
        return OUT_DIR / f"store-{self.scenario.key}"

    def start(self, settle_s: float = 1.0, append: bool = False) -> None:
        """Starts the server and waits for its `listening on` line; `append`
        keeps the logs of an earlier start of it (a restart)."""
        args, cwd, env = self.command()
        offset = self.stdout_path.stat().st_size if append and self.stdout_path.exists() else 0
        mode = "ab" if append else "wb"
        with open(self.stdout_path, mode) as out, open(self.stderr_path, mode) as err:
            self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=err)
        self.early_exit = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with open(self.stdout_path, "rb") as out:
                out.seek(offset)
                first = out.read().decode(errors="replace").splitlines()
            if first and first[0].startswith("listening on "):
                self.url = first[0].removeprefix("listening on ").strip()
                # Let the fresh process settle before its memory baseline.
                time.sleep(settle_s)
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not start; see {self.stderr_path}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is None:
            return
        self.early_exit = self.proc.poll()
        if self.early_exit is None:
            terminate(self.proc)

    def log_summary(self) -> dict[str, Any]:
        """Warnings and errors the server logged during the run."""
        lines = self.stderr_path.read_text(errors="replace").splitlines()
        if self.name in HUB_SERVERS or self.name.startswith(BEFORE):
            notable = [line for line in lines if " WARN " in line or " ERROR " in line]
        else:
            notable = lines
        return {"lines": len(notable), "sample": notable[:5]}


class HubInstance(Server):
    """One of several sse-hub instances sharing a Redis store (REDIS)."""

    def __init__(self, scenario: Scenario, mode: str, instance: str, redis: "RedisServer") -> None:
        super().__init__(f"{REDIS}-{instance}", scenario, mode)
        self.instance = instance
        self.redis = redis

    def command(self) -> tuple[list[str], Path, dict[str, str]]:
        env = dict(os.environ, SSE_HUB_MAX_SOCKETS_PER_IP="0", SSE_HUB_MAX_CONNECTION_RATE_PER_IP="0")
        args = [
            str(HUB_BIN), "--addr", "127.0.0.1:0",
            "--interval-ms", str(self.scenario.interval_ms), "--log", "warn",
            "--store", self.redis.url, "--instance-id", self.instance,
            "--lease-ms", str(REDIS_LEASE_MS),
            *self.scenario.hub_args,
        ]
        return args, ROOT, env

    def log_summary(self) -> dict[str, Any]:
        lines = self.stderr_path.read_text(errors="replace").splitlines()
        notable = [f"{self.instance}: {line}" for line in lines if " WARN " in line or " ERROR " in line]
        return {"lines": len(notable), "sample": notable[:5]}


def redis_cli(port: int, *args: Any, timeout: float = 5.0) -> str:
    """Runs one command with Debian's `redis-cli` against the private Redis
    on `port`; its answer as text (raises on a Redis error or no answer)."""
    done = subprocess.run(
        ["redis-cli", "-p", str(port), *[str(arg) for arg in args]],
        capture_output=True, text=True, timeout=timeout,
    )
    if done.returncode != 0 or done.stdout.startswith(("ERR", "(error)")):
        raise RuntimeError(f"redis-cli {args[0]}: {done.stdout.strip()} {done.stderr.strip()}")
    return done.stdout.strip()


def redis_info(port: int, *sections: str) -> dict[str, str]:
    """`INFO sections…` of the Redis on `port` as a dict of its `name:value` lines."""
    text = redis_cli(port, "INFO", *sections)
    return dict(
        line.split(":", 1) for line in text.splitlines() if ":" in line and not line.startswith("#")
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A private redis-server for one run: a free port, no persistence, its
    own directory; never the machine's shared Redis."""

    def __init__(self, tag: str, mode: str) -> None:
        self.port = 0
        self.dir = OUT_DIR / f"redis-{mode}-{tag}"
        self.log_path = OUT_DIR / f"{mode}-{tag}-{REDIS}-redis-server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        for _attempt in range(3):
            self.port = free_port()
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(
                    [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--dir", str(self.dir)],
                    cwd=self.dir, stdout=log, stderr=subprocess.STDOUT,
                )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if redis_cli(self.port, "PING", timeout=1.0) == "PONG":
                        return
                except (OSError, RuntimeError, subprocess.TimeoutExpired):
                    pass
                time.sleep(0.05)
            self.stop()  # the port was taken meanwhile, or it hangs: try another
        raise RuntimeError(f"redis-server did not start; see {self.log_path}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        terminate(self.proc)


class CommandSampler:
    """Reads Redis's command counters (`INFO stats commandstats`) every
    REDIS_SAMPLE_S in a thread, so that the load generator's measured window
    can be cut out of them afterwards."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.samples: list[tuple[float, int, dict[str, tuple[int, int]]]] = []
        self.stopping = threading.Event()
        self.error: str | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)

    def _run(self) -> None:
        try:
            while not self.stopping.is_set():
                info = redis_info(self.port, "stats", "commandstats")
                commands = {}
                for key, value in info.items():
                    if key.startswith("cmdstat_"):
                        fields = dict(part.split("=", 1) for part in value.split(","))
                        commands[key.removeprefix("cmdstat_")] = (int(fields["calls"]), int(fields["usec"]))
                self.samples.append((time.time(), int(info["total_commands_processed"]), commands))
                self.stopping.wait(REDIS_SAMPLE_S)
        except (OSError, RuntimeError, KeyError, ValueError, subprocess.TimeoutExpired) as error:
            self.error = str(error)

    def window(self, start_s: float, end_s: float) -> dict[str, Any]:
        """Commands per second between the first sample at or after `start_s`
        and the last at or before `end_s` (less the sampler's own INFOs), and
        the busiest commands by Redis's own time spent in them."""
        inside = [sample for sample in self.samples if start_s <= sample[0] <= end_s]
        if len(inside) < 2:
            return {"error": self.error or f"only {len(inside)} samples in the window"}
        (t0, total0, cmds0), (t1, total1, cmds1) = inside[0], inside[-1]
        seconds = t1 - t0
        own = len(inside) - 1  # one INFO per sample after the first
        busiest = []
        for name, (calls, usec) in cmds1.items():
            calls0, usec0 = cmds0.get(name, (0, 0))
            if name == "info":
                calls -= own
            if calls > calls0:
                busiest.append({
                    "command": name,
                    "per_s": round((calls - calls0) / seconds, 1),
                    "usec_per_call": round((usec - usec0) / (calls - calls0), 2),
                    "cpu_pct": round((usec - usec0) / 1e6 / seconds * 100, 1),
                })
        busiest.sort(key=lambda c: -c["cpu_pct"])
        return {
            "measured_s": round(seconds, 3),
            "commands": total1 - total0 - own,
            "commands_per_s": round((total1 - total0 - own) / seconds, 1),
            "by_command": busiest[:6],
        }


def publish_token() -> str:
    """A token for the publish scenario, minted by the binary under test."""
    done = subprocess.run(
        [str(HUB_BIN), "token", "--publish", "*", "--ttl", "2h", "--jwt-secret", PUBLISH_SECRET],
        capture_output=True, text=True, check=True,
    )
    return done.stdout.strip()


def run_loadgen(
    scenario: Scenario, servers: list[Server], label: str, extra: list[str] | None = None,
) -> dict[str, Any]:
    args = [str(LOADGEN), *scenario.loadgen_args]
    for server in servers:
        args += ["--url", server.url, "--server-pid", str(server.pid)]
    args += ["--label", label, *(extra or [])]
    if scenario.key == "publish":
        args += ["--token", publish_token()]
    print(f"    $ {' '.join(args[1:])}", flush=True)
    done = subprocess.run(args, capture_output=True, text=True, timeout=scenario.timeout_s)
    if done.stderr.strip():
        print(done.stderr.rstrip(), file=sys.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"sse-loadgen failed ({done.returncode}): {done.stderr.strip()}")
    summary = None
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            summary = json.loads(line)
        else:
            print(f"    {line}", flush=True)
    if summary is None:
        raise RuntimeError("sse-loadgen printed no JSON summary")
    return summary


def machine_busy_pct(seconds: float) -> float:
    """CPU the whole machine used over `seconds`, percent of one core."""
    def busy() -> float:
        fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        return fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]

    hz = os.sysconf("SC_CLK_TCK")
    before = busy()
    time.sleep(seconds)
    return (busy() - before) / hz / seconds * 100


def wait_for_quiet(mode: str) -> dict[str, float]:
    """Waits until other processes leave the CPU alone (or gives up)."""
    if QUIET_WAIT_S[mode] <= 0:
        return {"waited_s": 0.0, "load_before_pct": round(machine_busy_pct(0.5), 1)}
    started = time.monotonic()
    load = machine_busy_pct(2.0)
    announced = False
    while load > QUIET_PCT and time.monotonic() - started < QUIET_WAIT_S[mode]:
        if not announced:
            print(f"    waiting for the machine to quieten (other processes use {load:.0f} % CPU)", flush=True)
            announced = True
        time.sleep(3.0)
        load = machine_busy_pct(2.0)
    waited = time.monotonic() - started
    if load > QUIET_PCT:
        print(f"    still busy after {waited:.0f} s ({load:.0f} % CPU); running anyway", flush=True)
    return {"waited_s": round(waited, 1), "load_before_pct": round(load, 1)}


def run_once(scenario: Scenario, name: str, mode: str) -> dict[str, Any]:
    quiet = wait_for_quiet(mode)
    if name == REDIS:
        summary = run_redis_once(scenario, mode)
        summary["quiet"] = quiet
        return summary
    server = Server(name, scenario, mode)
    server.start()
    try:
        summary = run_loadgen(scenario, [server], f"{scenario.key}/{server.name}")
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        summary = {"error": str(error)}
        print(f"    ERROR: {error}", flush=True)
    finally:
        server.stop()
    summary["server_log"] = server.log_summary()
    summary["server_exited_early"] = server.early_exit
    summary["quiet"] = quiet
    return summary


def run_redis_once(scenario: Scenario, mode: str) -> dict[str, Any]:
    """The scenario against REDIS_INSTANCES sse-hub instances on one private
    Redis, with one load generator spreading its clients over all of them;
    adds Redis's figures (its CPU comes from the generator, `--watch-pid`)."""
    redis = RedisServer(scenario.key, mode)
    instances = [HubInstance(scenario, mode, name, redis) for name in REDIS_INSTANCES]
    sampler: CommandSampler | None = None
    try:
        redis.start()
        for instance in instances:
            instance.start()
        sampler = CommandSampler(redis.port)
        sampler.start()
        summary = run_loadgen(
            scenario, list(instances), f"{scenario.key}/{REDIS}", ["--watch-pid", f"redis={redis.pid}"],
        )
        sampler.stop()
        window = sampler.window(
            summary.get("window_start_unix_ms", 0) / 1000, summary.get("window_end_unix_ms", 0) / 1000,
        )
        memory = redis_info(redis.port, "memory")
        keys = int(redis_cli(redis.port, "DBSIZE"))
        summary["redis"] = {
            "pid": redis.pid,
            "port": redis.port,
            "cpu_pct": dig(summary, "cpu.watched.redis"),
            **window,
            "used_memory_kib": int(memory.get("used_memory", 0)) // 1024,
            "keys": keys,
        }
        print(f"    redis: {json.dumps(summary['redis'])}", flush=True)
    except (RuntimeError, subprocess.SubprocessError, OSError) as error:
        summary = {"error": str(error)}
        print(f"    ERROR: {error}", flush=True)
    finally:
        if sampler is not None:
            sampler.stop()
        for instance in instances:
            instance.stop()
        redis.stop()
    logs = [instance.log_summary() for instance in instances if instance.proc is not None]
    summary["server_log"] = {
        "lines": sum(log["lines"] for log in logs),
        "sample": [line for log in logs for line in log["sample"]][:5],
    }
    exits = [instance.early_exit for instance in instances if instance.early_exit is not None]
    summary["server_exited_early"] = exits[0] if exits else None
    return summary


def run_all(mode: str) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for scenario in scenarios(mode):
        print(f"== {scenario.title} ({scenario.description})", flush=True)
        results[scenario.key] = {}
        for name in selected_servers(scenario):
            print(f"  -- {name}", flush=True)
            summary = run_once(scenario, name, mode)
            other = dig(summary, "cpu.other_pct") or 0.0
            if other > CONTAMINATED_PCT and RERUN_DISTURBED[mode]:
                print(f"    other processes used {other:.0f} % CPU during the run: running it again", flush=True)
                time.sleep(PAUSE_BETWEEN_RUNS_S)
                first = summary
                summary = run_once(scenario, name, mode)
                summary["rerun_because_other_cpu_pct"] = other
                summary["first_attempt"] = {k: first.get(k) for k in ("held", "failed", "events_per_s", "latency", "cpu")}
            results[scenario.key][name] = summary
            time.sleep(PAUSE_BETWEEN_RUNS_S)
    return results


# ---------------------------------------------------------------- restart


def restart_time(mode: str) -> dict[str, Any]:
    """Fills a disk store with S streams × 100 events through the publish API,
    stops the server cleanly, starts it again and times, from the spawn, its
    `listening on` line, the first byte of a stream resumed from the disk
    (`Last-Event-ID: 50`) and that stream's first replayed event."""
    streams = 10_000 if mode == "full" else 1_000
    store = OUT_DIR / "store-restart"
    shutil.rmtree(store, ignore_errors=True)
    args = [
        str(HUB_BIN), "--addr", "127.0.0.1:0", "--log", "warn", "--store", str(store),
        "--jwt-secret", PUBLISH_SECRET, "--max-publish-rate", "0", "--generate", "none",
        "--max-streams", str(streams * 2), "--history", "100",
    ]
    env = dict(os.environ, SSE_HUB_MAX_SOCKETS_PER_IP="0", SSE_HUB_MAX_CONNECTION_RATE_PER_IP="0")

    def spawn() -> tuple[subprocess.Popen[bytes], str, float]:
        started = time.monotonic()
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        if not line.startswith("listening on "):
            proc.kill()
            raise RuntimeError(f"the server did not start: {line!r}")
        return proc, line.removeprefix("listening on ").strip(), started

    proc, url, _ = spawn()
    token = publish_token()
    acked = 0
    try:
        while acked < streams * 100:
            done = subprocess.run(
                [str(LOADGEN), "publish", "-s", str(streams), "--subscribers", "0", "--publishers", "50",
                 "--duration", "10s", "--token", token, "--url", url, "--label", "restart/fill"],
                capture_output=True, text=True, timeout=120,
            )
            line = next((l for l in done.stdout.splitlines() if l.startswith("{")), None)
            if line is None:
                raise RuntimeError(f"sse-loadgen publish failed: {done.stderr.strip()}")
            acked += int(json.loads(line).get("acked", 0))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    stats = subprocess.run([str(HUB_BIN), "store", "stats", str(store)], capture_output=True, text=True)
    figures = dict(
        (key.strip(), value.strip()) for key, _, value in
        (line.partition(":") for line in stats.stdout.splitlines())
    )
    proc, url, started = spawn()
    listening_ms = (time.monotonic() - started) * 1000
    try:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            conn.sendall(b"GET /sse/pub-7 HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: 50\r\n\r\n")
            received = b""
            first_byte_ms = None
            while b"\nid: 51\n" not in received:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                if first_byte_ms is None:
                    first_byte_ms = (time.monotonic() - started) * 1000
                received += chunk
            first_event_ms = (time.monotonic() - started) * 1000 if b"\nid: 51\n" in received else None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return {
        "streams": streams,
        "published": acked,
        "store": figures,
        "listening_ms": round(listening_ms, 1),
        "first_byte_ms": None if first_byte_ms is None else round(first_byte_ms, 1),
        "first_replayed_event_ms": None if first_event_ms is None else round(first_event_ms, 1),
    }


def shared_store_markdown(mode: str, results: dict[str, dict[str, Any]]) -> str:
    """The section on several instances sharing one Redis: the capacity and
    throughput runs against the single memory-store instance of the same
    run, what limits the throughput, and the failover trials."""
    cap = results.get("capacity", {}).get(REDIS)
    tp = results.get("throughput", {}).get(REDIS)
    fo = results.get("failover", {}).get(REDIS)
    if not (cap or tp or fo):
        return ""
    n = len(REDIS_INSTANCES)
    names = " / ".join(REDIS_INSTANCES)
    lines = [
        "",
        f"## {n} sse-hub instances on one Redis",
        "",
        f"`{REDIS}`: {n} sse-hub processes (`--store redis://127.0.0.1:PORT --instance-id "
        f"{'|'.join(REDIS_INSTANCES)} --lease-ms {REDIS_LEASE_MS}`) sharing one private `redis-server` "
        "(started for each run on a free port, `--save \"\" --appendonly no`), acting as one hub: each stream is "
        "generated by the one instance holding its lease and followed by the others through the shared log. "
        "One `sse-loadgen hold` run spreads its clients over all instances (`--url` once per instance: "
        f"connection i joins stream i mod S on instance (i mod S + i div S) mod {n}, so every stream has "
        "clients on every instance), and its per-tick check compares what they all received: a mismatch "
        "here is two instances sending different events under one id.",
        "",
    ]
    rows: list[tuple[str, str, str, str]] = []

    def add(label: str, memory: Any, redis: Any, unit: str = "", with_ratio: bool = True) -> None:
        rows.append((label, fmt(memory, unit), fmt(redis, unit), ratio(redis, memory) if with_ratio else "—"))

    if cap is not None:
        mem = results.get("capacity", {}).get("sse-hub", {})
        if cap.get("error"):
            rows.append(("Capacity", "", f"failed: {cap['error'][:200]}", ""))
        else:
            add("Capacity: connections held (redis: per instance)", mem.get("held"),
                f"{fmt(cap.get('held'))} ({per_instance('held')(cap)})", with_ratio=False)
            mem_kib, both_kib = dig(mem, "server_rss.per_connection_kib"), dig(cap, "server_rss.per_connection_kib")
            rows.append((
                f"Capacity: server memory per connection ↓ (redis: both instances, then {names})",
                fmt(mem_kib, " KiB"),
                f"{fmt(both_kib, ' KiB')} ({per_instance('server_rss.per_connection_kib')(cap)} KiB)",
                ratio(both_kib, mem_kib),
            ))
            add("Capacity: mismatches / id gaps / gap notices",
                checks_cell(mem), checks_cell(cap), with_ratio=False)
            add("Capacity: latency p99", dig(mem, "latency.p99_ms"), dig(cap, "latency.p99_ms"), " ms")
    if tp is not None:
        mem = results.get("throughput", {}).get("sse-hub", {})
        if tp.get("error"):
            rows.append(("Throughput", "", f"failed: {tp['error'][:200]}", ""))
        else:
            add("Throughput: events/s delivered ↑", mem.get("events_per_s"), tp.get("events_per_s"))
            add("Throughput: held", mem.get("held"), f"{fmt(tp.get('held'))} ({per_instance('held')(tp)})",
                with_ratio=False)
            add("Throughput: ticks per stream per s (nominal 100)", mem.get("ticks_per_stream_per_s"),
                tp.get("ticks_per_stream_per_s"))
            add("Throughput: latency p50", dig(mem, "latency.p50_ms"), dig(tp, "latency.p50_ms"), " ms")
            add("Throughput: latency p99", dig(mem, "latency.p99_ms"), dig(tp, "latency.p99_ms"), " ms")
            add("Throughput: mismatches / id gaps / gap notices", checks_cell(mem), checks_cell(tp),
                with_ratio=False)
            add(f"Throughput: server CPU (redis: both instances, then {names})", dig(mem, "cpu.server_pct"),
                f"{fmt(dig(tp, 'cpu.server_pct'))} ({per_instance('cpu_pct')(tp)})", " %", with_ratio=False)
            add("Throughput: Redis CPU (100 % = 1 core)", None, dig(tp, "redis.cpu_pct"), " %", with_ratio=False)
            add("Throughput: Redis commands/s", None, dig(tp, "redis.commands_per_s"), with_ratio=False)
            add("Throughput: Redis commands per generated event", None, redis_commands_per_event(tp),
                with_ratio=False)
    if rows:
        lines += [
            "| Measurement | sse-hub, memory store, 1 instance | "
            f"{REDIS}, {n} instances | redis ÷ memory |",
            "|---|---:|---:|---:|",
            *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
            "",
        ]
    if tp is not None and not tp.get("error"):
        interval = next((s.interval_ms for s in all_scenarios(mode) if s.key == "throughput"), 10)
        lines += [limits_paragraph(tp, 1000 / interval), ""]
    lines += failover_markdown(fo)
    lines += [
        "What each measures:",
        "",
        f"- **Capacity** ({REDIS}): the capacity scenario's connections split over the {n} instances, held; "
        "memory per connection is each instance's own (peak − baseline) / its held connections, and "
        "\"both instances\" adds their baselines and peaks over all held connections. The single "
        "instance with the memory store of the same run is the comparison.",
        f"- **Throughput** ({REDIS}): the throughput scenario through Redis, the clients split over the "
        "instances: every generated event is one append script in Redis by its leader and reaches the other "
        "instance through Redis's pub/sub doorbell and a read of the log. Redis's CPU is `utime + stime` "
        "from `/proc/<redis pid>/stat` over the hold window (`sse-loadgen --watch-pid redis=PID`, so it is "
        "not counted as other processes'); commands/s is the increase of `total_commands_processed` "
        f"(`INFO stats`, read every {REDIS_SAMPLE_S:g} s, less those reads) over the same window; Redis counts "
        "the commands a script runs as well as the script's own call, and per command `INFO commandstats` "
        "gives calls and Redis's own µs (a script's µs include those of the commands it runs). Commands per "
        "generated event divides commands/s by the distinct events the streams generated per second, "
        "lease renewals, takeover attempts and the followers' reads included.",
        f"- **Failover**: the time from `kill -9` of a stream's leader to the first event above the stream's "
        "newest id at the kill on the surviving instance's client. A dead leader's lease must run out before "
        f"another instance can take the stream (`--lease-ms {REDIS_LEASE_MS}`, renewed every third of it), so "
        f"this is expected to lie between about {REDIS_LEASE_MS * 2 // 3:,} and {REDIS_LEASE_MS:,} ms plus the "
        "takeover retry and one interval.",
        "",
    ]
    return "\n".join(lines)


def checks_cell(s: dict[str, Any]) -> str | None:
    if not s or s.get("error"):
        return None
    return f"{fmt(s.get('mismatches'))} / {fmt(dig(s, 'totals.gaps'))} / {fmt(dig(s, 'totals.gap_notices'))}"


def limits_paragraph(tp: dict[str, Any], nominal_ticks: float) -> str:
    """Where the throughput run's CPU went, and what that says about the limit."""
    cpu = tp.get("cpu") or {}
    ticks = tp.get("ticks_per_stream_per_s")
    parts = [
        (f"instance {name}", share)
        for name, share in zip(REDIS_INSTANCES, cpu.get("per_server_pct") or [])
    ] + [
        ("Redis", dig(tp, "redis.cpu_pct")),
        ("sse-loadgen", cpu.get("loadgen_pct")),
        ("kernel irq/softirq", cpu.get("irq_pct")),
        ("other processes", cpu.get("other_pct")),
    ]
    known = [share for _, share in parts if isinstance(share, (int, float))]
    total = sum(known)
    listed = ", ".join(f"{name} {fmt(share, ' %')}" for name, share in parts)
    cores = (os.cpu_count() or 2) * 100
    redis_pct = dig(tp, "redis.cpu_pct") or 0
    busiest = dig(tp, "redis.by_command") or []
    top = "; ".join(
        f"`{c['command']}` {fmt(c['per_s'])}/s at {c['usec_per_call']} µs ({c['cpu_pct']} % of a core)"
        for c in busiest[:4]
    )
    if redis_pct >= 90:
        verdict = "Redis, which runs commands on one thread, is at its one core: it is the limit."
    elif isinstance(ticks, (int, float)) and ticks >= 0.95 * nominal_ticks:
        verdict = (
            f"The streams ticked at {fmt(ticks)} of a nominal {nominal_ticks:g} per second: at this size the "
            "load is carried whole, and nothing limits it yet."
        )
    elif total >= cores * 0.9:
        verdict = (
            f"The machine's {cores} % is used up: the instances, Redis, the generator and the kernel's "
            f"loopback path compete for the same cores, Redis taking {fmt(redis_pct, ' %')} of them; Redis's "
            "own core is not the limit."
        )
    else:
        verdict = "Neither the cores nor Redis's one thread are used up: the limit lies in the pacing or the waits."
    other = cpu.get("other_pct")
    if isinstance(other, (int, float)) and other > CONTAMINATED_PCT:
        verdict += f" (Disturbed: other processes used {fmt(other, ' %')} of the cores during the window.)"
    return (
        f"**What limits the throughput through Redis.** CPU over the hold window (100 % = one core): {listed}; "
        f"together {fmt(total, ' %')} of the machine's {cores} %. {verdict}"
        + (f" Redis's busiest commands in the window: {top}." if top else "")
    )


def failover_markdown(fo: dict[str, Any] | None) -> list[str]:
    if fo is None:
        return []
    if fo.get("error"):
        done = len(fo.get("trials") or [])
        return [f"The failover measurement failed after {done} trials: {fo['error']}", ""]
    lines = [
        f"**Failover** ({fo['trials_run']} trials, {fo['instances']} instances, a client on each for one stream, "
        f"`--interval-ms {fo['interval_ms']}`, `--lease-ms {fo['lease_ms']}`): from `kill -9` of the stream's "
        f"leader to the first event above its newest id at the kill on the survivor: median "
        f"**{fmt(fo.get('median_ms'), ' ms')}**, max **{fmt(fo.get('max_ms'), ' ms')}** "
        f"(min {fmt(fo.get('min_ms'), ' ms')}); {fo.get('no_event', 0)} trials without such an event, "
        f"{fo.get('survivor_id_jumps', 0)} id jumps, {fo.get('survivor_gap_notices', 0)} gap notices and "
        f"{fo.get('survivor_repeats', 0)} repeats on the survivors' clients, {fo.get('mismatches', 0)} events "
        "that differed between the two clients.",
        "",
        "| Trial | killed | newest id at the kill | first id after, on the survivor | ms |",
        "|---:|---|---:|---:|---:|",
    ]
    for run in fo.get("trials") or []:
        lines.append(
            f"| {run['trial']} | {run['killed']} | {run['seq_at_kill']} | {fmt(run.get('first_id_after'))} "
            f"| {fmt(run.get('ms'))} |"
        )
    return [*lines, ""]


def restart_markdown(restart: dict[str, Any] | None) -> str:
    if not restart:
        return ""
    if restart.get("error"):
        return f"\n## Restart\n\nThe restart measurement failed: {restart['error']}\n"
    store = restart.get("store", {})
    return f"""
## Restart with a full disk store

{restart['streams']:,} streams filled through the publish API ({restart['published']:,} events published,
`--history 100`; the store then held {store.get('events', '?')} events of {store.get('streams', '?')}
streams, {store.get('bytes', '?')}), stopped with SIGTERM and started again. From the spawn:

| Step | ms |
|---|---:|
| `listening on` printed | {restart['listening_ms']} |
| first byte of a stream resumed from the disk (`Last-Event-ID: 50`) | {restart['first_byte_ms']} |
| its first replayed event | {restart['first_replayed_event_ms']} |
"""


# ---------------------------------------------------------------- failover


class SseClient:
    """One `GET /sse/{stream}` read in a thread: every event's arrival time
    (monotonic), `id:`, type and data, for the failover measurement."""

    def __init__(self, url: str, stream: str) -> None:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.sock.sendall(f"GET /sse/{stream} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
        self.events: list[tuple[float, int | None, str, str]] = []
        self.error: str | None = None
        self.closed = threading.Event()
        self.arrived = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        buf, body, chunked = b"", b"", None
        self.sock.settimeout(0.2)
        try:
            while not self.closed.is_set():
                try:
                    chunk = self.sock.recv(65536)
                except socket.timeout:
                    continue
                now = time.monotonic()
                if not chunk:
                    self.error = "closed by the server"
                    return
                buf += chunk
                if chunked is None:
                    head, sep, rest = buf.partition(b"\r\n\r\n")
                    if not sep:
                        continue
                    status = head.split(b"\r\n", 1)[0]
                    if b" 200 " not in status + b" ":
                        self.error = f"status line {status.decode(errors='replace')!r}"
                        return
                    chunked = b"transfer-encoding: chunked" in head.lower()
                    buf = rest
                if chunked:
                    while True:
                        size_line, sep, rest = buf.partition(b"\r\n")
                        if not sep:
                            break
                        size = int(size_line.split(b";")[0], 16)
                        if len(rest) < size + 2:
                            break
                        body += rest[:size]
                        buf = rest[size + 2:]
                        if size == 0:
                            self.error = "response ended"
                            return
                else:
                    body, buf = body + buf, b""
                *blocks, body = body.split(b"\n\n")
                self._events(blocks, now)
        except OSError as error:
            if not self.closed.is_set():
                self.error = str(error)
        finally:
            with self.arrived:
                self.arrived.notify_all()

    def _events(self, blocks: list[bytes], now: float) -> None:
        for block in blocks:
            seq, kind, data = None, "message", ""
            for line in block.decode(errors="replace").split("\n"):
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "id" and value.isdigit():
                    seq = int(value)
                elif name == "event":
                    kind = value
                elif name == "data":
                    data = value
            if seq is not None or kind != "message":
                with self.arrived:
                    self.events.append((now, seq, kind, data))
                    self.arrived.notify_all()

    def wait_for(self, test: Callable[[tuple[float, int | None, str, str]], bool], timeout_s: float) -> tuple[float, int | None, str, str] | None:
        """The first event (received so far or within `timeout_s`) that passes `test`."""
        deadline = time.monotonic() + timeout_s
        seen = 0
        with self.arrived:
            while True:
                for event in self.events[seen:]:
                    if test(event):
                        return event
                seen = len(self.events)
                left = deadline - time.monotonic()
                if left <= 0 or self.error is not None:
                    return None
                self.arrived.wait(left)

    def ids(self) -> list[int]:
        with self.arrived:
            return [seq for _, seq, kind, _ in self.events if kind == "message" and seq is not None]

    def close(self) -> None:
        self.closed.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(timeout=5)
        self.sock.close()


def get_json(url: str, path: str) -> Any:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        plain = b""
        while body:
            size_line, _, rest = body.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            plain, body = plain + rest[:size], rest[size + 2:]
        body = plain
    return json.loads(body)


def id_jumps(ids: list[int]) -> tuple[int, int]:
    """(forward jumps, repeats or reorderings) in one client's id sequence."""
    jumps = sum(1 for a, b in zip(ids, ids[1:]) if b > a + 1)
    backwards = sum(1 for a, b in zip(ids, ids[1:]) if b <= a)
    return jumps, backwards


def time_wait_sockets() -> int:
    """TCP sockets in TIME_WAIT on this machine (/proc/net/tcp and tcp6,
    state 06)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as rows:
                next(rows, None)
                count += sum(1 for row in rows if row.split()[3:4] == ["06"])
        except OSError:
            pass
    return count


def wait_for_local_ports(limit: int = 5000, timeout_s: float = 90.0) -> int:
    """Waits (at most `timeout_s`) until fewer than `limit` sockets are in
    TIME_WAIT, and returns how many are. The churn scenario opens 120,000
    loopback connections in a few seconds; their ports stay in TIME_WAIT for
    60 s, and a measurement started meanwhile can find no local port for a
    new connection (an instance's connection to Redis failed with
    `EADDRNOTAVAIL`, and its stream was refused `503 store_unavailable`)."""
    deadline = time.monotonic() + timeout_s
    waiting = time_wait_sockets()
    while waiting >= limit and time.monotonic() < deadline:
        time.sleep(1.0)
        waiting = time_wait_sockets()
    return waiting


def failover_time(mode: str) -> dict[str, Any]:
    """Two sse-hub instances on one Redis, one client on each for a stream
    (FAILOVER_INTERVAL_MS, --lease-ms REDIS_LEASE_MS). Each trial finds the
    stream's leader through /api/stats `leading_streams`, kills it with
    SIGKILL, reads the stream's newest id from Redis (`HGET
    sse-hub:{STREAM}:mark seq`) right after, and times on the survivor's
    client, from the kill, the first event above that id; then restarts the
    killed instance. Every trial uses a new stream, and the trials alternate
    which instance the first client (and so, usually, the leader) is on."""
    trials = FAILOVER_TRIALS[mode]
    scenario = Scenario(
        key="failover", title="Failover", interval_ms=FAILOVER_INTERVAL_MS, loadgen_args=[], timeout_s=0,
    )
    redis = RedisServer("failover", mode)
    instances = [HubInstance(scenario, mode, name, redis) for name in REDIS_INSTANCES]
    runs: list[dict[str, Any]] = []
    clients: list[SseClient] = []
    restarts = 0
    chance = random.Random(17)
    try:
        waiting = wait_for_local_ports()
        if waiting:
            print(f"    ({waiting:,} sockets still in TIME_WAIT)", flush=True)
        redis.start()
        for instance in instances:
            instance.start(settle_s=0.2)
        for trial in range(trials):
            stream = f"failover-{trial}"
            first, second = instances[trial % 2], instances[1 - trial % 2]
            clients = [SseClient(first.url, stream)]
            if clients[0].wait_for(lambda e: e[2] == "message", 5.0) is None:
                raise RuntimeError(f"trial {trial}: no event on {first.instance} ({clients[0].error})")
            clients.append(SseClient(second.url, stream))
            if clients[1].wait_for(lambda e: e[2] == "message", 5.0) is None:
                raise RuntimeError(f"trial {trial}: no event on {second.instance} ({clients[1].error})")
            # The leader renews its lease every third of REDIS_LEASE_MS: kill
            # it at a random point of that cycle (not always just after the
            # claim), as a crash would.
            time.sleep(0.3 + chance.uniform(0, REDIS_LEASE_MS / 3000))
            by_instance = {first.instance: clients[0], second.instance: clients[1]}
            leader = None
            deadline = time.monotonic() + 5
            while leader is None and time.monotonic() < deadline:
                leading = [i for i in instances if get_json(i.url, "/api/stats").get("leading_streams", 0) > 0]
                if len(leading) == 1:
                    leader = leading[0]
                else:
                    time.sleep(0.05)
            if leader is None:
                raise RuntimeError(f"trial {trial}: no single leader in /api/stats leading_streams")
            survivor = next(i for i in instances if i is not leader)
            watcher = by_instance[survivor.instance]
            mark = f"sse-hub:{{{stream}}}:mark"
            assert leader.proc is not None
            killed_at = time.monotonic()
            leader.proc.kill()  # SIGKILL, as kill -9
            seq_at_kill = int(redis_cli(redis.port, "HGET", mark, "seq") or 0)
            leader.proc.wait()
            # An append the leader had sent just before it died can land
            # after that read; no other instance can append before the
            # lease runs out (renewed every third of REDIS_LEASE_MS).
            time.sleep(0.2)
            seq_after = int(redis_cli(redis.port, "HGET", mark, "seq") or 0)
            newest = max(seq_at_kill, seq_after)
            event = watcher.wait_for(
                lambda e: e[2] == "message" and e[1] is not None and e[1] > newest, REDIS_LEASE_MS / 1000 * 3 + 5,
            )
            if event is not None and event[1] is not None:
                # A few more, to check that the new leader's ids go on without a jump.
                after = event[1]
                watcher.wait_for(lambda e: e[1] is not None and e[1] >= after + 3, 2.0)
            ids = watcher.ids()
            jumps, backwards = id_jumps(ids)
            gap_notices = sum(1 for _, _, kind, _ in watcher.events if kind == "gap")
            # Both clients must have had the same event under each id.
            seen = {seq: data for _, seq, kind, data in by_instance[leader.instance].events if kind == "message"}
            mismatches = sum(
                1 for _, seq, kind, data in watcher.events
                if kind == "message" and seq in seen and seen[seq] != data
            )
            run = {
                "trial": trial,
                "stream": stream,
                "killed": leader.instance,
                "seq_at_kill": seq_at_kill,
                "seq_200ms_after_kill": seq_after,
                "first_id_after": None if event is None else event[1],
                "ms": None if event is None else round((event[0] - killed_at) * 1000, 1),
                "survivor_events": len(ids),
                "survivor_id_jumps": jumps,
                "survivor_repeats": backwards,
                "survivor_gap_notices": gap_notices,
                "mismatches_before_kill": mismatches,
                "survivor_error": watcher.error,
            }
            if event is None:
                run["error"] = f"no event above id {newest} on {survivor.instance} within the wait"
            runs.append(run)
            print(f"    trial {trial}: {json.dumps(run)}", flush=True)
            for sse in clients:
                sse.close()
            clients = []
            leader.early_exit = None
            leader.start(settle_s=0.2, append=True)
            restarts += 1
    except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as error:
        return {"error": str(error), "trials": runs}
    finally:
        for sse in clients:
            sse.close()
        for instance in instances:
            instance.stop()
        redis.stop()
    times = [r["ms"] for r in runs if r.get("ms") is not None]
    logs = [instance.log_summary() for instance in instances]
    return {
        "mode": "failover",
        "instances": len(instances),
        "interval_ms": FAILOVER_INTERVAL_MS,
        "lease_ms": REDIS_LEASE_MS,
        "trials_run": len(runs),
        "measured": len(times),
        "median_ms": round(statistics.median(times), 1) if times else None,
        "min_ms": min(times) if times else None,
        "max_ms": max(times) if times else None,
        "no_event": sum(1 for r in runs if r.get("ms") is None),
        "survivor_id_jumps": sum(r["survivor_id_jumps"] for r in runs),
        "survivor_gap_notices": sum(r["survivor_gap_notices"] for r in runs),
        "survivor_repeats": sum(r["survivor_repeats"] for r in runs),
        "mismatches": sum(r["mismatches_before_kill"] for r in runs),
        "restarts": restarts,
        "trials": runs,
        "server_log": {
            "lines": sum(log["lines"] for log in logs),
            "sample": [line for log in logs for line in log["sample"]][:5],
        },
    }


# ---------------------------------------------------------------- the table


def dig(summary: dict[str, Any], path: str) -> Any:
    value: Any = summary
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def dig_list(summary: dict[str, Any], key: str, index: int, field_name: str) -> Any:
    items = summary.get(key)
    if not isinstance(items, list) or index >= len(items):
        return None
    return items[index].get(field_name)


def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if value == "":
        return ""  # a row that does not apply to this server
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        text = f"{value:,}"
    elif isinstance(value, float):
        text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}" if abs(value) < 100 else f"{value:,.1f}"
    else:
        text = str(value)
    return f"{text}{unit}"


def ratio(hub: Any, express: Any) -> str:
    if not isinstance(hub, (int, float)) or not isinstance(express, (int, float)) or express == 0:
        return "—"
    return f"{hub / express:.2f}"


def mib(kib: Any) -> float | None:
    return None if kib is None else kib / 1024


Row = tuple[str, Callable[[dict[str, Any]], Any], str]


def rows_for(scenario: Scenario) -> list[Row]:
    """(metric label, getter, unit); ↑ higher is better, ↓ lower is better."""
    def at(path: str) -> Callable[[dict[str, Any]], Any]:
        return lambda s: dig(s, path)

    def gaps(s: dict[str, Any]) -> Any:
        # The reference sends no id: lines, so there is nothing to check there.
        totals = s.get("totals") or {}
        if s.get("label", "").endswith("/express") or "gaps" not in totals:
            return None
        return totals["gaps"] + totals["gap_notices"]

    key = scenario.key
    nominal = 1000 / scenario.interval_ms
    latency = [
        ("latency p50 ↓", at("latency.p50_ms"), " ms"),
        ("latency p90 ↓", at("latency.p90_ms"), " ms"),
        ("latency p99 ↓", at("latency.p99_ms"), " ms"),
        ("latency max ↓", at("latency.max_ms"), " ms"),
    ]
    checks = [
        ("mismatches ↓", at("mismatches"), ""),
        ("gaps (id jumps + gap notices) ↓", gaps, ""),
        ("ticks sharing a timestamp", at("timestamp_collisions"), ""),
    ]
    def cpu_per_event(s: dict[str, Any]) -> Any:
        cpu, events = dig(s, "cpu.server_pct"), s.get("events_per_s")
        if cpu is None or not events:
            return None
        return cpu / 100 / events * 1e6

    rate = [
        (f"ticks per stream per s (nominal {nominal:g})", at("ticks_per_stream_per_s"), ""),
        ("server CPU per delivered event ↓", cpu_per_event, " µs"),
        ("server CPU (100 % = 1 core)", at("cpu.server_pct"), " %"),
        ("sse-loadgen CPU", at("cpu.loadgen_pct"), " %"),
        ("kernel irq/softirq CPU", at("cpu.irq_pct"), " %"),
        ("other processes' CPU", at("cpu.other_pct"), " %"),
    ]
    held = [
        ("held ↑", at("held"), ""),
        ("failed ↓", at("failed"), ""),
        ("accept-queue overflows (kernel) ↓", at("listen.overflows"), ""),
    ]
    shared = shared_store_rows() if REDIS in scenario.servers else []
    if key == "capacity":
        return [
            *held,
            ("server RSS before (redis: both instances)", lambda s: mib(dig(s, "server_rss.baseline_kib")), " MiB"),
            ("server RSS peak (redis: both instances)", lambda s: mib(dig(s, "server_rss.peak_kib")), " MiB"),
            ("server RSS per connection ↓", at("server_rss.per_connection_kib"), " KiB"),
            ("events/s ↑", at("events_per_s"), ""),
            ("latency p99 ↓", at("latency.p99_ms"), " ms"),
            *checks,
            *rate,
            *shared,
        ]
    if key == "fanout":
        return [*held, *latency, ("events/s ↑", at("events_per_s"), ""), *checks, *rate,
                ("server RSS per connection ↓", at("server_rss.per_connection_kib"), " KiB")]
    if key == "publish":
        return [
            ("subscribers connected ↑", at("subscribers_connected"), ""),
            ("publishes acknowledged/s ↑", at("acked_per_s"), ""),
            ("acknowledgement p50 ↓", at("ack_latency.p50_ms"), " ms"),
            ("acknowledgement p99 ↓", at("ack_latency.p99_ms"), " ms"),
            ("acknowledgement max ↓", at("ack_latency.max_ms"), " ms"),
            ("events delivered/s ↑", at("delivered_per_s"), ""),
            ("errors ↓", lambda s: sum((s.get("errors") or {}).values()) if "errors" in s else None, ""),
            *rate[2:],
        ]
    if key == "throughput":
        return [*held, ("events/s delivered ↑", at("events_per_s"), ""), *latency, *checks, *rate, *shared]
    return [
        ("cycles completed ↑", at("completed"), ""),
        ("cycles failed ↓", at("failed"), ""),
        ("cycles/s ↑", at("cycles_per_s"), ""),
        ("first frame p99 ↓", at("first_frame.p99_ms"), " ms"),
        ("streams left ↓", at("streams_left"), ""),
        ("server RSS cold", lambda s: mib(dig(s, "server_rss.cold_kib")), " MiB"),
        ("server RSS baseline (after warm-up)", lambda s: mib(dig(s, "server_rss.baseline_kib")), " MiB"),
        ("server RSS peak", lambda s: mib(dig(s, "server_rss.peak_kib")), " MiB"),
        *[
            (f"server RSS after round {n + 1}", lambda s, n=n: mib(dig_list(s, "per_round", n, "rss_after_kib")), " MiB")
            for n in range(CHURN_ROUNDS)
        ],
        ("RSS after vs baseline ↓", at("server_rss.change_pct"), " %"),
        ("RSS after vs cold ↓", at("server_rss.change_vs_cold_pct"), " %"),
        ("RSS growth over the last round ↓", at("server_rss.last_round_growth_pct"), " %"),
        ("server CPU during cycles (last round)", at("cpu.server_pct"), " %"),
        ("other processes' CPU", at("cpu.other_pct"), " %"),
    ]


def per_instance(path: str) -> Callable[[dict[str, Any]], Any]:
    """`path` of each instance of a REDIS run (`servers[…]`), as "a / b"."""
    def get(s: dict[str, Any]) -> Any:
        servers = s.get("servers")
        if not isinstance(servers, list) or not servers:
            return None
        return " / ".join(fmt(dig(server, path)) for server in servers)
    return get


def fenced_appends(s: dict[str, Any]) -> Any:
    servers = s.get("servers")
    if not isinstance(servers, list) or not servers:
        return None
    counts = [dig(server, "stats.fenced_appends") for server in servers]
    return sum(counts) if all(isinstance(c, int) for c in counts) else None


def redis_commands_per_event(s: dict[str, Any]) -> Any:
    """Redis commands per generated event: commands/s over the events the
    streams generated per second (each generated once, for all instances)."""
    commands, ticks, streams = dig(s, "redis.commands_per_s"), s.get("ticks_per_stream_per_s"), s.get("streams")
    if not commands or not ticks or not streams:
        return None
    return commands / (ticks * streams)


def shared_store_rows() -> list[Row]:
    """Rows only the REDIS runs fill: each instance, and Redis itself (blank
    for the other servers)."""
    both = " / ".join(REDIS_INSTANCES)

    def only_redis(row: Row) -> Row:
        label, get, unit = row
        return label, lambda s: get(s) if s.get("label", "").endswith(f"/{REDIS}") else "", unit

    return [only_redis(row) for row in [
        (f"redis: held per instance ({both})", per_instance("held"), ""),
        (f"redis: RSS per connection per instance ({both}) ↓", per_instance("server_rss.per_connection_kib"), " KiB"),
        (f"redis: CPU per instance ({both})", per_instance("cpu_pct"), " %"),
        (f"redis: streams led per instance ({both})", per_instance("stats.leading_streams"), ""),
        (f"redis: events generated per instance ({both})", per_instance("stats.events_generated"), ""),
        ("redis: fenced appends ↓", fenced_appends, ""),
        ("redis: Redis CPU (100 % = 1 core)", lambda s: dig(s, "redis.cpu_pct"), " %"),
        ("redis: Redis commands/s", lambda s: dig(s, "redis.commands_per_s"), ""),
        ("redis: Redis commands per generated event", redis_commands_per_event, ""),
        ("redis: Redis used memory", lambda s: mib(dig(s, "redis.used_memory_kib")), " MiB"),
    ]]


def table(mode: str, results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| Scenario | Metric | sse-hub (memory) | sse-hub (disk) | ratio disk ÷ memory "
        f"| sse-hub-redis ({len(REDIS_INSTANCES)} instances, 1 Redis) | ratio redis ÷ memory | express "
        "| ratio sse-hub ÷ express | bare write loop | ratio sse-hub ÷ loop |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario in scenarios(mode):
        runs = results.get(scenario.key, {})
        hub, express = runs.get("sse-hub", {}), runs.get("express", {})
        disk = runs.get(DISK, {})
        redis = runs.get(REDIS) if REDIS in scenario.servers else None
        floor = runs.get(FLOOR) if FLOOR in scenario.servers else None
        for n, (label, get, unit) in enumerate(rows_for(scenario)):
            name = scenario.key.capitalize() if n == 0 else ""
            h, d, e = get(hub), get(disk), get(express)
            f, hf = ("", "") if floor is None else (fmt(get(floor), unit), ratio(h, get(floor)))
            r, hr = ("", "") if redis is None else (fmt(get(redis), unit), ratio(get(redis), h))
            lines.append(
                f"| {name} | {label} | {fmt(h, unit)} | {fmt(d, unit)} | {ratio(d, h)} | {r} | {hr} "
                f"| {fmt(e, unit)} | {ratio(h, e)} | {f} | {hf} |"
            )
    return "\n".join(lines)


# ---------------------------------------------------------------- targets


def target_sizes(mode: str) -> dict[str, int]:
    """Connections the capacity and fan-out targets expect at this size."""
    n = 19_500 if mode == "full" else 500
    return {"capacity": n, "fanout": n}


def targets(results: dict[str, dict[str, Any]], full_size: dict[str, int]) -> list[tuple[str, str, bool | None]]:
    def hub(key: str) -> dict[str, Any]:
        return results.get(key, {}).get("sse-hub", {})

    def ref(key: str) -> dict[str, Any]:
        return results.get(key, {}).get("express", {})

    out: list[tuple[str, str, bool | None]] = []
    cap = hub("capacity")
    n = full_size["capacity"]
    held, failed = cap.get("held"), cap.get("failed")
    out.append((f"Capacity: {n:,} held, 0 failed", f"{fmt(held)} held, {fmt(failed)} failed",
                held == n and failed == 0))
    per_conn = dig(cap, "server_rss.per_connection_kib")
    out.append(("Capacity: at most 4 KiB server memory per connection", fmt(per_conn, " KiB"),
                None if per_conn is None else per_conn <= 4.0))
    fan = hub("fanout")
    p99 = dig(fan, "latency.p99_ms")
    floor_p99 = dig(results.get("fanout", {}).get(FLOOR, {}), "latency.p99_ms")
    out.append((f"Fan-out: p99 ≤ 25 ms at {full_size['fanout']:,} subscribers",
                f"{fmt(p99, ' ms')} (the bare write loop: {fmt(floor_p99, ' ms')})",
                None if p99 is None else p99 <= 25.0))
    tp_h, tp_e = hub("throughput"), ref("throughput")
    eps_h, eps_e = tp_h.get("events_per_s"), tp_e.get("events_per_s")
    p99_h, p99_e = dig(tp_h, "latency.p99_ms"), dig(tp_e, "latency.p99_ms")
    if None in (eps_h, eps_e, p99_h, p99_e) or not eps_e:
        out.append(("Throughput: ≥ 5× the reference's events/s at equal or better p99", "n/a", None))
    else:
        out.append((
            "Throughput: ≥ 5× the reference's events/s at equal or better p99",
            f"{eps_h / eps_e:.2f}× ({fmt(eps_h)} vs {fmt(eps_e)} events/s); "
            f"p99 {fmt(p99_h, ' ms')} vs {fmt(p99_e, ' ms')}",
            eps_h >= 5 * eps_e and p99_h <= p99_e,
        ))
    churn = hub("churn")
    left = churn.get("streams_left")
    out.append(("Churn: 0 streams left in /api/streams", fmt(left), None if left is None else left == 0))
    change = dig(churn, "server_rss.change_pct")
    cold = dig(churn, "server_rss.change_vs_cold_pct")
    out.append((
        "Churn: resident memory back within 10% of the baseline",
        f"{fmt(change, ' %')} vs the warm baseline ({fmt(cold, ' %')} vs the cold start)",
        None if change is None else change <= 10.0,
    ))
    bad = {}
    for key in ("capacity", "fanout", "throughput"):
        s = hub(key)
        bad[key] = (s.get("mismatches"), dig(s, "totals.gaps"), dig(s, "totals.gap_notices"))
    known = [v for v in bad.values() if None not in v]
    clean = bool(known) and len(known) == len(bad) and all(sum(v) == 0 for v in known)
    detail = "; ".join(f"{k}: {v[0]} / {v[1]} / {v[2]}" for k, v in bad.items())
    out.append(("No mismatches and no gaps anywhere (mismatches / id gaps / gap notices)", detail,
                clean if known else None))
    out.extend(disk_targets(results))
    out.extend(redis_targets(results))
    return out


def redis_targets(results: dict[str, dict[str, Any]]) -> list[tuple[str, str, bool | None]]:
    """The instances on one Redis act as one hub: every connection held, the
    same event under each id on every instance, no gaps."""
    runs = {key: results.get(key, {}).get(REDIS) for key in ("capacity", "throughput")}
    runs = {key: s for key, s in runs.items() if s is not None}
    if not runs:
        return []
    out: list[tuple[str, str, bool | None]] = []
    cap = runs.get("capacity")
    if cap is not None:
        held, attempted, failed = cap.get("held"), cap.get("attempted"), cap.get("failed")
        out.append((
            f"Redis, {len(REDIS_INSTANCES)} instances: capacity all held, 0 failed",
            f"{fmt(held)} of {fmt(attempted)} held ({per_instance('held')(cap)} per instance), {fmt(failed)} failed",
            None if held is None else held == attempted and failed == 0,
        ))
    bad = {k: (s.get("mismatches"), dig(s, "totals.gaps"), dig(s, "totals.gap_notices")) for k, s in runs.items()}
    known = [v for v in bad.values() if None not in v]
    out.append((
        f"Redis, {len(REDIS_INSTANCES)} instances: 0 mismatches between instances and 0 gaps "
        "(mismatches / id gaps / gap notices)",
        "; ".join(f"{k}: {v[0]} / {v[1]} / {v[2]}" for k, v in bad.items()),
        (len(known) == len(bad) and all(sum(v) == 0 for v in known)) if known else None,
    ))
    return out


def disk_targets(results: dict[str, dict[str, Any]]) -> list[tuple[str, str, bool | None]]:
    """The disk store against memory, within the same run."""
    def both(key: str, path: str) -> tuple[Any, Any]:
        runs = results.get(key, {})
        return dig(runs.get("sse-hub", {}), path), dig(runs.get(DISK, {}), path)

    def compare(label: str, key: str, path: str, ok: Any, unit: str = "") -> tuple[str, str, bool | None]:
        memory, disk = both(key, path)
        if not isinstance(memory, (int, float)) or not isinstance(disk, (int, float)) or not memory:
            return (label, "n/a", None)
        return (label, f"{fmt(disk, unit)} vs {fmt(memory, unit)} ({disk / memory:.2f}×)", ok(disk / memory))

    out = [
        compare("Disk store: throughput events/s ≥ 90% of memory's", "throughput", "events_per_s",
                lambda r: r >= 0.90),
        compare("Disk store: capacity memory per connection within +10%", "capacity",
                "server_rss.per_connection_kib", lambda r: r <= 1.10, " KiB"),
        compare("Disk store: fan-out p99 within +10%", "fanout", "latency.p99_ms", lambda r: r <= 1.10, " ms"),
    ]
    if "publish" in results:
        out.append(compare("Disk store: acknowledged publishes/s ≥ 50% of memory's", "publish",
                           "acked_per_s", lambda r: r >= 0.50))
    return out


def targets_table(rows: list[tuple[str, str, bool | None]]) -> str:
    lines = ["| Target | sse-hub result | Reached? |", "|---|---|---|"]
    for target, result, ok in rows:
        verdict = "n/a" if ok is None else "**reached**" if ok else "**not reached**"
        lines.append(f"| {target} | {result} | {verdict} |")
    return "\n".join(lines)


# ---------------------------------------------------------------- observations


def observations(results: dict[str, dict[str, Any]]) -> list[str]:
    """Plain facts worth a note: failures, drops, server log lines, crashes."""
    notes = []
    for key, pair in results.items():
        for name, s in pair.items():
            where = f"{key}/{name}"
            if s.get("error"):
                notes.append(f"{where}: the run failed: {s['error']}")
                continue
            if s.get("server_exited_early") is not None:
                notes.append(f"{where}: the server exited during the run (code {s['server_exited_early']})")
            other = dig(s, "cpu.other_pct")
            if other is not None and other > CONTAMINATED_PCT:
                notes.append(
                    f"{where}: **other processes used {other:.0f} % CPU during the measured window** "
                    "(the machine is shared); its figures are disturbed"
                )
            if s.get("rerun_because_other_cpu_pct"):
                notes.append(
                    f"{where}: run a second time because other processes used "
                    f"{s['rerun_because_other_cpu_pct']:.0f} % CPU during the first attempt"
                )
            attempted, held = s.get("attempted"), s.get("held")
            if attempted and held is not None and held < attempted:
                notes.append(
                    f"{where}: held only {held:,} of {attempted:,} connections; its events/s and latency "
                    f"cover those {held:,} clients only"
                )
            retries = s.get("local_port_retries")
            if retries:
                notes.append(
                    f"{where}: {retries:,} connects were retried on another local port after the kernel "
                    "refused the first (a clash of the generator's own port choice, not a server failure)"
                )
            reasons = s.get("failure_reasons") or {}
            if reasons:
                listed = ", ".join(f"{count:,}× {why}" for why, count in sorted(reasons.items(), key=lambda kv: -kv[1]))
                notes.append(f"{where}: failures: {listed}")
            log = s.get("server_log") or {}
            if log.get("lines"):
                sample = " / ".join(line.strip()[:160] for line in log.get("sample", [])[:2])
                notes.append(f"{where}: the server logged {log['lines']:,} warning/error lines, e.g. {sample}")
            stats = s.get("server_stats")
            instances = [(f"{where} ({srv.get('url')})", srv.get("stats")) for srv in s.get("servers") or []]
            for at, stats in instances or [(where, stats)]:
                if isinstance(stats, dict):
                    rejected = {k: v for k, v in (stats.get("rejected") or {}).items() if v}
                    if rejected:
                        notes.append(f"{at}: /api/stats rejected counters: {rejected}")
                    if stats.get("fenced_appends"):
                        notes.append(f"{at}: {stats['fenced_appends']:,} fenced appends (an instance that "
                                     "had lost a stream's lease tried to append to it)")
                elif stats is not None:
                    notes.append(f"{at}: /api/stats could not be read: {stats}")
            redis = s.get("redis")
            if isinstance(redis, dict) and redis.get("error"):
                notes.append(f"{where}: Redis's command counters could not be read: {redis['error']}")
            if s.get("mode") == "failover":
                for counter, what in (
                    ("no_event", "trials without an event above the newest id within the wait"),
                    ("survivor_id_jumps", "id jumps on the survivors' clients"),
                    ("survivor_gap_notices", "gap notices on the survivors' clients"),
                    ("survivor_repeats", "repeated or reordered ids on the survivors' clients"),
                    ("mismatches", "events that differed between the two instances' clients"),
                ):
                    if s.get(counter):
                        notes.append(f"{where}: {s[counter]:,} {what}")
            totals = s.get("totals") or {}
            for counter in ("duplicates", "malformed", "wrong_stream"):
                if totals.get(counter):
                    notes.append(f"{where}: {totals[counter]:,} {counter.replace('_', ' ')} events")
    return notes


def machine() -> dict[str, str]:
    def sh(*args: str) -> str:
        try:
            return subprocess.run(args, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"

    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    express_version = "unknown"
    lock = EXPRESS_DIR / "package-lock.json"
    if lock.exists():
        express_version = json.loads(lock.read_text())["packages"].get("node_modules/express", {}).get("version", "unknown")
    dirty = sh("git", "-C", str(ROOT), "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock")
    return {
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "fd_limit": str(soft),
        "kernel": platform.release(),
        "node": sh("node", "--version"),
        "express": express_version,
        "commit": sh("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD") + (" (server sources modified)" if dirty else ""),
    }


def results_markdown(mode: str, results: dict[str, dict[str, Any]], started: dt.datetime, took_s: float) -> str:
    m = machine()
    full_size = target_sizes(mode)
    notes = observations(results)
    scenario_lines = "\n".join(f"{i}. **{s.title}** ({s.description})." for i, s in enumerate(scenarios(mode), 1))
    raw = "\n".join(
        json.dumps({"scenario": key, "server": name, **summary}, separators=(",", ":"))
        for key, pair in results.items() for name, summary in pair.items()
    )
    return f"""# Benchmark results

Latest **{mode}** run of `make bench` ({'`make -C bench full`' if mode == 'full' else '`make -C bench quick`'}),
written by `bench/run.py`. Do not edit by hand: the next run rewrites it.

- Date: {started.strftime('%Y-%m-%d %H:%M UTC')} (took {took_s / 60:.1f} min)
- Machine: {m['cores']} cores ({m['cpu']}), {m['memory']} RAM, open-file limit {m['fd_limit']} per process, Linux {m['kernel']}
- sse-hub: commit {m['commit']}, release build; Express reference: express {m['express']} on Node {m['node']}
- The load generator (`sse-loadgen`, 2 runtime threads) and the server **share the same 2 cores**:
  every figure includes the generator's own CPU use and its scheduling competition with the server.

## Scenarios

{scenario_lines}

Each scenario runs sse-hub first, then the Express reference, each freshly started; the fan-out scenario
then runs the bare write loop (`sse-floor`, see the notes) as well. The capacity and throughput scenarios also
run against `{REDIS}`: {len(REDIS_INSTANCES)} sse-hub instances sharing one private Redis, the same connections
split over them (see the section on it below the notes), and a failover measurement kills a stream's leader
among them.

## Results

Ratio = sse-hub ÷ express (disk ÷ memory and redis ÷ memory: sse-hub with another store, or as
{len(REDIS_INSTANCES)} instances on one Redis, against the single instance with the memory store); ↑ marks metrics
where higher is better, ↓ where lower is better. Rows starting with "redis:" apply to the instances on Redis only.

{table(mode, results)}

## Targets (sse-hub)

{targets_table(targets(results, full_size))}

## Notes

- **Latency** is the local receive time minus the event's `timestamp`, which both servers write with
  millisecond resolution (so every figure carries up to 1 ms of truncation). It is measured only during the
  hold window, after every connection of the ramp has been opened; events that arrive during the ramp count
  for consistency and gaps but not for latency or events/s.
- **Memory** is the server's `VmRSS` from `/proc/<pid>/status`: baseline before the first connection, peak
  sampled every 200 ms while the connections are held; per connection = (peak − baseline) / held. For Node
  this includes the V8 heap, which grows and shrinks with garbage collection.
- **Mismatches**: two clients of one stream that received different numbers for the same tick. A tick is
  its `timestamp`, and for sse-hub also its `id:`: two *different* events of one stream can carry the same
  millisecond timestamp (a late tick followed at once by the next one), and those are counted apart as
  "ticks sharing a timestamp" — a client that compares by timestamp alone, as the UI's consistency
  indicator (`src/model/consistency.rs`) does, would report each of them as a mismatch.
  **Gaps**: a jump in one client's `id:` sequence, plus any `event: gap` notice. The Express reference sends
  no `id:` lines, so gaps cannot be checked there (n/a).
- **Accept-queue overflows** is the increase of the kernel's `TcpExt.ListenOverflows` counter
  (`/proc/net/netstat`) over the ramp and hold: connection attempts the kernel dropped because the server
  had not accepted earlier ones yet. The client only retries a dropped SYN after 1, 3, 7 s…, so these show
  as slow or timed-out connects (the generator gives up after 10 s).
- **Ticks per stream per second** counts the distinct events whose timestamp falls in the hold window: the
  rate a server actually generated, against the nominal 1000 / interval.
- **CPU** is user + system time from `/proc/<pid>/stat` over the hold window (churn: over the last round's
  cycles), 100 % = one core; the machine has 200 %. "Server CPU per delivered event" divides it by the
  events/s the generator received. "Kernel irq/softirq" is machine-wide interrupt time from `/proc/stat` (on loopback mostly the
  TCP receive path of the benchmark's own packets); "other processes" is whatever else ran. The machine is
  shared with other work, so before each run the script waits (up to {QUIET_WAIT_S[mode]:.0f} s) until other
  processes use less than {QUIET_PCT:.0f} % CPU, and runs a server again once when they used more than
  {CONTAMINATED_PCT:.0f} % during its measured window.
- **Churn**: a cycle connects, waits for the first frame (sse-hub's `retry:` line arrives at once; the
  reference sends nothing before its first event, so its cycles last about one 100 ms interval) and
  disconnects. sse-hub runs with `--retention-ms {CHURN_RETENTION_MS}`; after the cycles the generator polls
  `/api/streams` until it is `[]`, then waits {CHURN_RETENTION_MS * 3} ms so that the retained replay buffers
  are forgotten, then reads the memory. The baseline is taken after 200 warm-up cycles (one batch of the same
  concurrency) so that it includes the runtime's and the allocator's one-time growth; the memory compared
  with the cold start is shown as well. The cycles run in {CHURN_ROUNDS} rounds with a reading after each:
  growth that continues in the last round would point at a leak, a level reading at memory the allocator
  keeps after the first round's peak. The target is judged on the last reading against the warm baseline.
- **The bare write loop** (`bench/src/bin/sse-floor.rs`, {FLOOR_WRITERS} writer threads) is not a server
  anyone should run: it answers `GET /sse/{{id}}` with a bare head and then, every tick, encodes each stream's
  event once and writes it to every subscriber's socket from a tight loop on plain threads, with no runtime, no
  timers, no keep-alives, no replay and no limits. It measures what the kernel's loopback TCP path and the load
  generator cost per delivery on this machine, the part of the fan-out latency no server design can remove,
  so that sse-hub's figure can be read against the best this machine allows as well as against the target.
- The generator binds each connection to an explicit source port (127.0.0.1, one source address per 25,000
  connections): letting the kernel choose made `connect` search the port range for a free 4-tuple toward the
  single server address, and at ~20,000 connections that kept the generator's threads in the kernel for
  seconds during the ramp.
{chr(10).join(f'- {note}' for note in notes) if notes else '- No connection failures, server warnings or crashes were recorded.'}

## Raw summaries

One JSON line per run, as printed by `sse-loadgen` (plus the server's log summary).

```json
{raw}
```
"""


def run_compare(mode: str, rounds: int) -> dict[str, dict[str, Any]]:
    """Both binaries on every scenario, alternating: A B, B A, A B, ..."""
    results: dict[str, dict[str, Any]] = {}
    for scenario in scenarios(mode):
        print(f"== {scenario.title} ({scenario.description})", flush=True)
        results[scenario.key] = {}
        for round_number in range(1, rounds + 1):
            order = (BEFORE, "sse-hub") if round_number % 2 else ("sse-hub", BEFORE)
            for name in order:
                print(f"  -- {name} (round {round_number})", flush=True)
                results[scenario.key][f"{name}#{round_number}"] = run_once(scenario, name, mode)
                time.sleep(PAUSE_BETWEEN_RUNS_S)
    return results


def compare_table(mode: str, results: dict[str, dict[str, Any]], rounds: int) -> str:
    """Every run of both binaries side by side, and the ratio of the means."""
    columns = [f"{name}#{r}" for r in range(1, rounds + 1) for name in (BEFORE, "sse-hub")]
    lines = [
        "| Scenario | Metric | " + " | ".join(columns) + " | ratio of means (this ÷ before) |",
        "|---|---|" + "---:|" * (len(columns) + 1),
    ]

    def mean(values: list[Any]) -> float | None:
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        return sum(numbers) / len(numbers) if numbers else None

    for scenario in scenarios(mode):
        runs = results.get(scenario.key, {})
        # The rows of the instances on Redis do not apply to a comparison.
        rows = [row for row in rows_for(scenario) if not row[0].startswith("redis:")]
        for n, (label, get, unit) in enumerate(rows):
            name = scenario.key.capitalize() if n == 0 else ""
            values = [get(runs.get(column, {})) for column in columns]
            before = mean([get(runs.get(c, {})) for c in columns if c.startswith(BEFORE)])
            after = mean([get(runs.get(c, {})) for c in columns if c.startswith("sse-hub")])
            cells = " | ".join(fmt(v, unit) for v in values)
            lines.append(f"| {name} | {label} | {cells} | {ratio(after, before)} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("full", "quick"))
    parser.add_argument("--against", type=Path, help="another sse-hub binary to compare with")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of a comparison (default 2)")
    parser.add_argument(
        "--only", default="",
        help="comma-separated scenario keys (capacity, fanout, throughput, publish, churn, failover, restart), "
             f"or key/server for one server of a scenario, e.g. throughput/sse-hub,throughput/{REDIS} "
             "(default: all)",
    )
    args = parser.parse_args()
    if args.against is not None:
        global AGAINST_BIN
        AGAINST_BIN = args.against.resolve()
        if not AGAINST_BIN.exists():
            print(f"run.py: {AGAINST_BIN} is missing", file=sys.stderr)
            return 2
    for path, hint in (
        (HUB_BIN, "run `make build` in the repository root"),
        (LOADGEN, "run `make -C bench` first"),
        (FLOOR_BIN, "run `make -C bench` first"),
    ):
        if not path.exists():
            print(f"run.py: {path} is missing: {hint}", file=sys.stderr)
            return 2
    # 19,500 connections need as many descriptors in the server and in the
    # generator (both inherit this): raise the soft limit to the hard one.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass  # an unlimited hard limit: keep the soft one
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.timezone.utc)
    clock = time.monotonic()
    if args.only:
        global ONLY
        ONLY = set(args.only.split(","))
    if AGAINST_BIN is not None:
        results = run_compare(args.mode, args.rounds)
        took = time.monotonic() - clock
        (OUT_DIR / f"compare-{args.mode}.json").write_text(json.dumps(results, indent=2))
        m = machine()
        report = (
            f"# sse-hub at {m['commit']} against {AGAINST_BIN}\n\n"
            f"{args.mode} sizes, {args.rounds} rounds, {started.strftime('%Y-%m-%d %H:%M UTC')}, "
            f"took {took / 60:.1f} min; {m['cores']} cores ({m['cpu']})\n\n"
            + compare_table(args.mode, results, args.rounds) + "\n"
        )
        target = OUT_DIR / f"COMPARE-{args.mode}.md"
        target.write_text(report)
        print()
        print(report)
        print(f"report written to {target.relative_to(ROOT)}")
        return 0
    results = run_all(args.mode)
    if selected("failover"):
        print(f"== Failover: kill -9 of a stream's leader among {len(REDIS_INSTANCES)} instances on one Redis, "
              f"{FAILOVER_TRIALS[args.mode]} trials", flush=True)
        try:
            failover = failover_time(args.mode)
        except (RuntimeError, subprocess.SubprocessError, OSError) as error:
            failover = {"error": str(error)}
        print(f"    {json.dumps({k: v for k, v in failover.items() if k != 'trials'})}", flush=True)
        results["failover"] = {REDIS: failover}
    if not ONLY or "restart" in ONLY:
        print("== Restart with a full disk store", flush=True)
        try:
            restart = restart_time(args.mode)
        except (RuntimeError, subprocess.SubprocessError, OSError) as error:
            restart = {"error": str(error)}
        print(f"    {json.dumps(restart)}", flush=True)
    else:
        restart = None
    took = time.monotonic() - clock
    (OUT_DIR / f"results-{args.mode}.json").write_text(json.dumps(results, indent=2))
    shared_store = shared_store_markdown(args.mode, results)
    # The section on the instances on Redis goes before the raw summaries.
    markdown = results_markdown(args.mode, results, started, took).replace(
        "\n## Raw summaries", shared_store + "\n## Raw summaries", 1,
    ) + restart_markdown(restart)
    target = RESULTS_MD if args.mode == "full" else OUT_DIR / "RESULTS-quick.md"
    target.write_text(markdown)
    print()
    print(table(args.mode, results))
    print()
    print(targets_table(targets(results, target_sizes(args.mode))))
    if shared_store:
        print(shared_store)
    print(f"\n{args.mode} run took {took:.0f} s; report written to {target.relative_to(ROOT)}")
    failed_runs = [f"{k}/{n}" for k, pair in results.items() for n, s in pair.items() if s.get("error")]
    if failed_runs:
        print(f"runs that failed: {', '.join(failed_runs)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
