//! A real SMTP server for the email tests: Python's aiosmtpd in a child
//! process on a loopback port. Each message it accepts is parsed by Python's
//! `email` package (an independent MIME parser) and saved as JSON in a
//! directory the test reads; the server answers 250 only after the file is
//! written, so a finished send means a readable file.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const SERVER: &str = r#"
import sys, os, json, uuid, email, email.policy
from aiosmtpd.controller import Controller

port, out = int(sys.argv[1]), sys.argv[2]

class Save:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        parts = [
            {"content_type": p.get_content_type(), "body": p.get_content()}
            for p in msg.walk() if not p.is_multipart()
        ]
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": {k.lower(): str(v) for k, v in msg.items()},
            "content_type": msg.get_content_type(),
            "parts": parts,
        }
        name = uuid.uuid4().hex
        tmp = os.path.join(out, name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(out, name + ".json"))
        return "250 Message accepted"

controller = Controller(Save(), hostname="127.0.0.1", port=port)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"#;

/// A running aiosmtpd; killed on drop.
pub struct SmtpServer {
    _child: Child,
    dir: tempfile::TempDir,
}

/// The first Python that has aiosmtpd: `$PUSHBILL_TEST_PYTHON`, then
/// `python3` on the PATH, then Debian's own `/usr/bin/python3` (where
/// `apt-get install python3-aiosmtpd` puts it when `python3` is another one).
fn python_with_aiosmtpd() -> Option<&'static str> {
    static FOUND: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    FOUND
        .get_or_init(|| {
            let candidates = std::env::var("PUSHBILL_TEST_PYTHON")
                .into_iter()
                .chain(["python3".to_owned(), "/usr/bin/python3".to_owned()]);
            candidates.into_iter().find(|python| {
                std::process::Command::new(python)
                    .args(["-c", "import aiosmtpd"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
        })
        .as_deref()
}

/// Fails the test, with how to fix it, when aiosmtpd is not installed.
pub fn require_aiosmtpd() -> &'static str {
    python_with_aiosmtpd().expect(
        "the email tests need a real SMTP server: Python 3 with aiosmtpd. Install it with \
         `apt-get install python3-aiosmtpd` (Debian) or `python3 -m pip install aiosmtpd`, \
         or point PUSHBILL_TEST_PYTHON at a Python that has it (.ci/run installs it).",
    )
}

/// A loopback port nothing listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl SmtpServer {
    /// Starts the server on `port` and waits until it accepts connections.
    pub async fn start(port: u16) -> SmtpServer {
        let python = require_aiosmtpd();
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(python)
            .args(["-c", SERVER, &port.to_string()])
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next_line().await.unwrap();
        assert_eq!(first.as_deref(), Some("ready"), "aiosmtpd did not start");
        SmtpServer { _child: child, dir }
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<Value> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }
}

/// The body of the message's part of this content type.
pub fn part<'a>(message: &'a Value, content_type: &str) -> &'a str {
    message["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["content_type"] == content_type)
        .unwrap_or_else(|| panic!("no {content_type} part in {message:#}"))["body"]
        .as_str()
        .unwrap()
}
