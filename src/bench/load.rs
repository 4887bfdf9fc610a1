//! A small HTTP/1.1 load generator: `connections` keep-alive connections,
//! each sending one GET after another (the next once the answer is read)
//! for a while, recording every request's latency. Any answer other than
//! 200 stops the run with an error: a bench must not time refusals.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::report::{Run, quantile_ms};

/// What to ask: the paths are taken in turn, every request carries `headers`
/// (each "Name: value").
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub paths: Vec<String>,
    pub headers: Vec<String>,
}

/// Runs the load for `warmup` (not counted), then for `duration`.
pub async fn run(
    target: &Target,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Run> {
    let latencies_us = latencies(target, connections, warmup, duration).await?;
    let detail = format!(
        "p50 {:.1} ms, p99 {:.1} ms, {} connections",
        quantile_ms(&latencies_us, 0.5),
        quantile_ms(&latencies_us, 0.99),
        connections
    );
    Ok(Run::new(latencies_us.len(), duration.as_secs_f64(), detail))
}

/// The latencies (µs, sorted) of the requests answered during `duration`,
/// after `warmup`.
pub async fn latencies(
    target: &Target,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Vec<u32>> {
    if target.paths.is_empty() {
        bail!("no path to ask for");
    }
    let start = Instant::now() + warmup;
    let end = start + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..connections.max(1) {
        let target = target.clone();
        tasks.spawn(async move { connection(&target, c, start, end).await });
    }
    let mut latencies_us = Vec::new();
    while let Some(done) = tasks.join_next().await {
        latencies_us.extend(done.context("a load connection panicked")??);
    }
    latencies_us.sort_unstable();
    Ok(latencies_us)
}

/// One keep-alive connection: the latencies (µs) of the requests sent
/// between `start` and `end`.
async fn connection(
    target: &Target,
    offset: usize,
    start: Instant,
    end: Instant,
) -> anyhow::Result<Vec<u32>> {
    let mut stream = TcpStream::connect(target.addr)
        .await
        .with_context(|| format!("connecting to {}", target.addr))?;
    stream.set_nodelay(true)?;
    let requests: Vec<Vec<u8>> = target
        .paths
        .iter()
        .map(|path| {
            let mut r = format!("GET {path} HTTP/1.1\r\nHost: {}\r\n", target.addr);
            for h in &target.headers {
                r.push_str(h);
                r.push_str("\r\n");
            }
            r.push_str("\r\n");
            r.into_bytes()
        })
        .collect();
    let mut buffer = Vec::with_capacity(16 * 1024);
    let mut latencies = Vec::new();
    let mut i = offset;
    loop {
        let sent = Instant::now();
        if sent >= end {
            return Ok(latencies);
        }
        stream.write_all(&requests[i % requests.len()]).await?;
        read_response(&mut stream, &mut buffer).await?;
        if sent >= start {
            let us = sent.elapsed().as_micros();
            latencies.push(u32::try_from(us).unwrap_or(u32::MAX));
        }
        i += 1;
    }
}

/// Reads one response with a Content-Length body; fails unless it is a 200.
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> anyhow::Result<()> {
    loop {
        if let Some(head_end) = find(buffer, b"\r\n\r\n") {
            let head = std::str::from_utf8(&buffer[..head_end])
                .map_err(|_| anyhow!("response head is not UTF-8"))?;
            let status = head.split(' ').nth(1).unwrap_or_default();
            if status != "200" {
                bail!("the server answered {}", head.lines().next().unwrap_or(""));
            }
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .ok_or_else(|| anyhow!("response without Content-Length"))?;
            let total = head_end + 4 + length;
            while buffer.len() < total {
                read_more(stream, buffer).await?;
            }
            buffer.drain(..total);
            return Ok(());
        }
        read_more(stream, buffer).await?;
    }
}

async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> anyhow::Result<()> {
    let mut chunk = [0u8; 8192];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        bail!("the server closed the connection");
    }
    buffer.extend_from_slice(&chunk[..n]);
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
