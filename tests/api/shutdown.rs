//! Graceful shutdown (SPEC §8): on SIGTERM or SIGINT the listener closes at once, requests
//! already in flight finish with their normal answer, and the process exits within
//! `--shutdown-timeout` even when a client never finishes its request.
//!
//! In-flight requests are made deterministic with raw connections: each sends its headers
//! with `Expect: 100-continue`, waits for `100 Continue` (proof the server has started the
//! request, not merely queued the bytes), sends half the body before the signal and the
//! rest after it.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use obie_tokens::domain::sandbox;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::process::Server;

const SHUTDOWN_TIMEOUT_SECS: u64 = 3;
/// actix checks for finished workers once a second, then stops the system after 300 ms.
const EXIT_MARGIN: Duration = Duration::from_millis(1_500);

fn start(dir: &tempfile::TempDir) -> Server {
    let url = format!("sqlite://{}/obie-tokens.db", dir.path().display());
    let timeout = SHUTDOWN_TIMEOUT_SECS.to_string();
    Server::start_with(&url, "info", &["--shutdown-timeout", &timeout])
}

/// A request to issue an authorization code, sent in two parts.
struct SlowRequest {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl SlowRequest {
    /// Connects, sends the headers, waits until the server has started the request, then
    /// sends the first half of the body.
    async fn begin(addr: SocketAddr) -> SlowRequest {
        let body = json!({"redirect_uri": "https://www.google.com", "state": "in-flight"});
        let body = body.to_string().into_bytes();
        let head = format!(
            "POST /v1/obie/authorization_codes HTTP/1.1\r\nHost: {addr}\r\n\
             Authorization: {}\r\nfi_reference_id: {}\r\nversion: 1\r\nccg_token: {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\
             Expect: 100-continue\r\n\r\n",
            sandbox::AUTHORIZATION,
            sandbox::FI_REFERENCE_ID,
            sandbox::CCG_TOKEN,
            body.len()
        );
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let (first, rest) = body.split_at(body.len() / 2);
        stream.write_all(head.as_bytes()).await.unwrap();
        let interim = tokio::time::timeout(Duration::from_secs(10), read_head(&mut stream));
        let interim = interim.await.expect("100 Continue in time");
        assert_eq!(interim, "HTTP/1.1 100 Continue\r\n\r\n");
        stream.write_all(first).await.unwrap();
        stream.flush().await.unwrap();
        SlowRequest {
            stream,
            rest: rest.to_vec(),
        }
    }

    /// Sends the rest of the body; returns the status line and the whole answer.
    async fn finish(mut self) -> (String, String) {
        self.stream.write_all(&self.rest).await.unwrap();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(
            Duration::from_secs(10),
            self.stream.read_to_end(&mut answer),
        );
        read.await
            .expect("answered in time")
            .expect("no reset: the connection is closed cleanly after the answer");
        let answer = String::from_utf8_lossy(&answer).into_owned();
        (answer.lines().next().unwrap_or("").to_owned(), answer)
    }
}

/// Reads one response head, up to and including its empty line.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") && head.len() < 1024 {
        head.push(stream.read_u8().await.expect("a response head"));
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Tries new connections until one is refused: a bounded wait for the server to act on the
/// signal, as it has to pass through its signal handler. A reset counts as a refusal: it is
/// what a connection attempt gets when the listening socket closes during the handshake.
async fn until_refused(addr: SocketAddr) {
    for _ in 0..500 {
        match TcpStream::connect(addr).await {
            Err(err)
                if matches!(
                    err.kind(),
                    ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
                ) =>
            {
                return;
            }
            Err(err) => panic!("connect failed otherwise than refused: {err}"),
            Ok(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    panic!("new connections were still accepted 5 s after the signal");
}

async fn in_flight_requests_finish_and_new_connections_are_refused(signal: i32) {
    // Arrange: requests in flight, each waiting for the rest of its body.
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(&dir);
    let mut in_flight = Vec::new();
    for _ in 0..8 {
        in_flight.push(SlowRequest::begin(server.addr).await);
    }

    // Act
    server.signal(signal);
    let signalled = Instant::now();
    until_refused(server.addr).await;
    let alive_while_refusing = server.is_running();
    let mut answers = Vec::new();
    for request in in_flight {
        answers.push(request.finish().await);
    }
    let exit = server.wait_for_exit(Duration::from_secs(SHUTDOWN_TIMEOUT_SECS) + EXIT_MARGIN);

    // Assert
    assert!(alive_while_refusing, "refusing new connections, not gone");
    for (status_line, answer) in &answers {
        assert_eq!(status_line, "HTTP/1.1 201 Created", "{answer}");
        assert!(answer.contains("\"auth_code\""), "{answer}");
    }
    let status = exit.expect("exited within the shutdown timeout");
    assert!(status.success(), "exit status {status}");
    // Nothing left in flight: it need not wait for the timeout.
    assert!(
        signalled.elapsed() < Duration::from_secs(SHUTDOWN_TIMEOUT_SECS),
        "exited {:?} after the signal",
        signalled.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sigterm_in_flight_requests_finish_and_new_connections_are_refused() {
    in_flight_requests_finish_and_new_connections_are_refused(libc::SIGTERM).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sigint_in_flight_requests_finish_and_new_connections_are_refused() {
    in_flight_requests_finish_and_new_connections_are_refused(libc::SIGINT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_never_finishes_does_not_hold_the_process_past_the_timeout() {
    // Arrange: a client that sends half its body and then nothing.
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(&dir);
    let stalled = SlowRequest::begin(server.addr).await;

    // Act
    server.signal(libc::SIGTERM);
    let signalled = Instant::now();
    let exit = server.wait_for_exit(Duration::from_secs(SHUTDOWN_TIMEOUT_SECS) + EXIT_MARGIN);

    // Assert: it waited for the request, but no longer than the configured timeout.
    let waited = signalled.elapsed();
    assert!(exit.is_some(), "still running {waited:?} after SIGTERM");
    assert!(
        waited >= Duration::from_secs(SHUTDOWN_TIMEOUT_SECS - 1),
        "gave the in-flight request its time, not {waited:?}"
    );
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_gives_no_5xx_and_no_unexpected_answer() {
    // Arrange: clients issuing codes back to back on kept-alive connections.
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(&dir);
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let request = server
                .post("/v1/obie/authorization_codes")
                .header("ccg_token", sandbox::CCG_TOKEN)
                .json(&json!({"redirect_uri": "https://www.google.com"}));
            let stop = stop.clone();
            tokio::spawn(async move {
                let (mut answered, mut unexpected, mut refused) = (0, Vec::new(), 0);
                for _ in 0..10_000 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    match request.try_clone().unwrap().send().await {
                        Ok(response) if response.status() == 201 => answered += 1,
                        Ok(response) => unexpected.push(response.status().as_u16()),
                        // After the signal: the listener is closed, or the drained
                        // connection was closed before this request was read.
                        Err(_) => refused += 1,
                    }
                }
                (answered, unexpected, refused)
            })
        })
        .collect();
    // Let the load run for a bounded number of answers before the signal.
    let warm = server.client.get(format!("{}/healthz", server.base));
    for _ in 0..50 {
        assert_eq!(
            warm.try_clone().unwrap().send().await.unwrap().status(),
            200
        );
    }

    // Act
    server.signal(libc::SIGTERM);
    let exit = server.wait_for_exit(Duration::from_secs(SHUTDOWN_TIMEOUT_SECS) + EXIT_MARGIN);
    stop.store(true, Ordering::SeqCst);
    let outcomes = futures::future::join_all(clients).await;

    // Assert
    let exit = exit.expect("exited within the shutdown timeout");
    assert!(exit.success(), "exit status {exit}");
    let mut answered = 0;
    for outcome in outcomes {
        let (ok, unexpected, _refused) = outcome.unwrap();
        assert!(unexpected.is_empty(), "unexpected statuses {unexpected:?}");
        answered += ok;
    }
    assert!(answered > 0, "the load ran");
}
