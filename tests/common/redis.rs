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
