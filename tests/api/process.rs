//! The real `obie-tokens` binary as a child process, for the tests that need what only a
//! process has: a pid to signal (SIGKILL, SIGTERM, SIGINT), an exit, and a whole log.
//! It serves the sandbox on port 0; the bound address is read from its
//! "listening on http://…" log line. Everything it writes is kept. Killed on drop.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use reqwest::{Client, RequestBuilder};

pub const BINARY: &str = env!("CARGO_BIN_EXE_obie-tokens");

/// How long a start may take (a debug build on a busy CI machine migrates slowly).
const START_LIMIT: Duration = Duration::from_secs(60);

/// One `obie-tokens serve --sandbox` process.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub base: String,
    pub client: Client,
    output: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Server {
    /// Serves the sandbox on `database_url` with two workers and the failure limiter off.
    pub fn start(database_url: &str) -> Server {
        Self::start_with(database_url, "info", &[])
    }

    /// As `start`, with `RUST_LOG=rust_log` and extra `serve` flags (not `--bind`,
    /// `--workers`, `--database-url`, `--auth-failure-limit`, which are set here).
    pub fn start_with(database_url: &str, rust_log: &str, extra: &[&str]) -> Server {
        let mut child = Command::new(BINARY)
            .args([
                "serve",
                "--sandbox",
                "--bind",
                "127.0.0.1:0",
                "--workers",
                "2",
            ])
            .args(["--database-url", database_url, "--auth-failure-limit", "0"])
            .args(extra)
            .env("RUST_LOG", rust_log)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start obie-tokens");
        let output = Arc::new(Mutex::new(String::new()));
        let (address_tx, address_rx) = mpsc::channel();
        let readers = vec![
            drain(
                child.stdout.take().unwrap(),
                output.clone(),
                address_tx.clone(),
            ),
            drain(child.stderr.take().unwrap(), output.clone(), address_tx),
        ];
        let addr: SocketAddr = match address_rx.recv_timeout(START_LIMIT) {
            Ok(address) => address,
            Err(err) => {
                let _ = child.kill();
                let log = output.lock().unwrap().clone();
                panic!("obie-tokens did not report its address ({err}); its output:\n{log}");
            }
        };
        Server {
            child,
            addr,
            base: format!("http://{addr}"),
            client: Client::new(),
            output,
            readers,
        }
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("a pid fits i32")
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on the pid of our own child, which is not reaped before `wait`.
        let sent = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(sent, 0, "kill({}, {signal})", self.pid());
    }

    /// SIGKILL, then reap: the process gets no chance to flush or finish anything.
    pub fn kill(&mut self) {
        self.signal(libc::SIGKILL);
        self.child.wait().expect("reap the killed process");
    }

    /// Waits at most `limit` for the process to exit; `None` if it is still running.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the process is still running (not exited).
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Everything the process wrote to stdout and stderr. Once it has exited, waits for the
    /// readers to reach the end of its output, so nothing is missed.
    pub fn output(&mut self) -> String {
        if !self.is_running() {
            for reader in self.readers.drain(..) {
                reader.join().expect("output reader");
            }
        }
        self.output.lock().unwrap().clone()
    }

    /// A POST with the sandbox credentials and headers and a JSON content type.
    pub fn post(&self, path: &str) -> RequestBuilder {
        crate::helpers::sandbox_post(&self.client, &self.base, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies `stream` line by line into `output`, sending the address of the
/// "listening on http(s)://ADDR" line; keeps draining so the pipe never fills.
fn drain(
    stream: impl Read + Send + 'static,
    output: Arc<Mutex<String>>,
    address_tx: mpsc::Sender<SocketAddr>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on ").nth(1)
                && let Some(url) = rest.split_whitespace().next()
                && let Some(Ok(addr)) = url.split("://").nth(1).map(str::parse)
            {
                let _ = address_tx.send(addr);
            }
            let mut output = output.lock().unwrap();
            output.push_str(&line);
            output.push('\n');
        }
    })
}

/// Runs an admin subcommand against `database_url`; returns its stdout and stderr.
pub fn cli(database_url: &str, args: &[&str], rust_log: &str) -> (String, String) {
    let output = Command::new(BINARY)
        .args(args)
        .args(["--database-url", database_url])
        .env("RUST_LOG", rust_log)
        .output()
        .expect("run obie-tokens");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "obie-tokens {args:?}: {stderr}");
    (stdout, stderr)
}
