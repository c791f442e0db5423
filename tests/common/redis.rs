//! A private `redis-server` for the tests that need one: Debian's package
//! (`make setup` installs it), on a free port, with no persistence, so that
//! a test can pause, kill and restart it. Never the machine's shared Redis.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `redis-server`, killed on drop.
pub struct TestRedis {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
}

impl TestRedis {
    /// Starts one on a free port and waits until it answers.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        Self::start_on(port, &[]).await
    }

    /// Starts one on `port` with `extra` arguments.
    pub async fn start_on(port: u16, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let child = spawn(port, dir.path(), extra);
        let redis = Self { child, port, dir };
        redis.wait_until_it_answers().await;
        redis
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's process id (to pause it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Runs a command with `redis-cli` and returns its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Kills it (no persistence: everything is lost) and starts an empty one
    /// on the same port.
    pub async fn restart_empty(&mut self) {
        self.kill();
        self.child = spawn(self.port, self.dir.path(), &[]);
        self.wait_until_it_answers().await;
    }

    /// Kills it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    async fn wait_until_it_answers(&self) {
        for _ in 0..400 {
            if self.cli(&["PING"]) == "PONG" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server on port {} does not answer", self.port);
    }
}

fn spawn(port: u16, dir: &std::path::Path, extra: &[&str]) -> Child {
    Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "no", "--dir"])
        .arg(dir)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server runs (make setup installs it)")
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sends `signal` (`STOP`, `CONT`, `KILL`, `TERM`) to process `pid`.
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid}");
}

/// A Redis Cluster of three masters (no replicas) on free ports, each node
/// a private `redis-server` with no persistence; killed on drop.
pub struct TestCluster {
    nodes: Vec<TestRedis>,
}

impl TestCluster {
    /// Starts three nodes, joins them with `redis-cli --cluster create` and
    /// waits until the cluster serves every slot.
    pub async fn start() -> Self {
        let mut nodes = Vec::new();
        for port in cluster_ports(3) {
            let extra = ["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"];
            nodes.push(TestRedis::start_on(port, &extra).await);
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli runs");
        assert!(
            created.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        let cluster = Self { nodes };
        for _ in 0..400 {
            let ready = cluster
                .nodes
                .iter()
                .all(|node| node.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok"));
            if ready {
                return cluster;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the cluster did not become ready");
    }

    /// `redis+cluster://127.0.0.1:<port>,…`.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }
}

/// `n` ports whose cluster bus ports (+10000) are free as well.
fn cluster_ports(n: usize) -> Vec<u16> {
    let mut ports = Vec::new();
    let mut candidate: u16 = 20_000 + u16::try_from(std::process::id() % 5_000).unwrap_or(0);
    while ports.len() < n {
        candidate += 7;
        let free = |port: u16| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
        if free(candidate) && free(candidate + 10_000) {
            ports.push(candidate);
        }
    }
    ports
}
