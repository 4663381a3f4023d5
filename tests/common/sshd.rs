//! A real OpenSSH server on the loopback interface, for `--remote` over
//! real ssh: its own host key, a throwaway client key, `127.0.0.1` only,
//! and a client config that names it, so nothing of the user's own ssh
//! set-up is read or changed. Killed when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::poll::poll_within;

/// The host name the client config gives the server.
pub const HOST: &str = "sb-loopback";

/// Where the tests look for sshd; `SLICEBOARD_TEST_SSHD` names another.
/// When it is set, a missing server is a failure, not a skip (CI sets it).
const SSHD_ENV: &str = "SLICEBOARD_TEST_SSHD";
const SSHD: &str = "/usr/sbin/sshd";

pub struct LoopbackSshd {
    child: Child,
    pub port: u16,
    /// The client's config (`ssh -F CONFIG sb-loopback`).
    pub config: PathBuf,
}

impl LoopbackSshd {
    /// Starts a server with its files in `dir`; `None` (saying why on
    /// stderr) when this machine has no sshd and the test may skip.
    pub fn start(dir: &Path) -> Option<Self> {
        let required = std::env::var_os(SSHD_ENV);
        let sshd = required
            .clone()
            .map_or_else(|| PathBuf::from(SSHD), PathBuf::from);
        if !sshd.is_file() {
            assert!(
                required.is_none(),
                "{SSHD_ENV}={} is not a file: install openssh-server",
                sshd.display()
            );
            eprintln!(
                "skipped: no {} (apt-get install openssh-server), so --remote is not tried over real ssh",
                sshd.display()
            );
            return None;
        }
        let dir = dir.join("sshd");
        std::fs::create_dir_all(&dir).unwrap();
        keygen(&dir.join("host_key"));
        keygen(&dir.join("client_key"));
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).unwrap();
        let host_key = std::fs::read_to_string(dir.join("host_key.pub")).unwrap();
        std::fs::write(dir.join("known_hosts"), format!("{HOST} {host_key}")).unwrap();
        // SAFETY: getuid has no preconditions and cannot fail.
        if unsafe { libc::getuid() } == 0 {
            // Run as root, sshd wants its privilege separation folder,
            // which a machine whose sshd never ran may not have.
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        // A free port is taken by binding, then let go for sshd: another
        // process may take it in between, so a server that cannot bind is
        // tried again on another.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut server = Self::spawn(&sshd, &dir, port);
            if server.ready() {
                return Some(server);
            }
            let _ = server.child.kill();
            let _ = server.child.wait();
        }
        panic!(
            "sshd did not start on 127.0.0.1: see its log in {}",
            dir.display()
        );
    }

    fn spawn(sshd: &Path, dir: &Path, port: u16) -> Self {
        let d = dir.display();
        let server_config = dir.join("sshd_config");
        std::fs::write(
            &server_config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPubkeyAuthentication yes\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
                 StrictModes no\nPermitRootLogin prohibit-password\nPrintMotd no\n"
            ),
        )
        .unwrap();
        let user = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| {
                let out = Command::new("id").arg("-un").output().unwrap();
                String::from_utf8_lossy(&out.stdout).trim().to_owned()
            });
        let config = dir.join("ssh_config");
        let client = [
            format!("Host {HOST}"),
            "HostName 127.0.0.1".into(),
            format!("Port {port}"),
            format!("User {user}"),
            format!("IdentityFile {d}/client_key"),
            "IdentitiesOnly yes".into(),
            format!("HostKeyAlias {HOST}"),
            format!("UserKnownHostsFile {d}/known_hosts"),
            "StrictHostKeyChecking yes".into(),
            "BatchMode yes".into(),
            "LogLevel ERROR".into(),
        ];
        std::fs::write(&config, client.join("\n  ") + "\n").unwrap();
        let log = std::fs::File::create(dir.join("sshd.log")).unwrap();
        // -D: in the foreground, so the test owns it; -e: its log to stderr.
        let child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(&server_config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("sshd starts");
        Self {
            child,
            port,
            config,
        }
    }

    /// Whether a real login works: ssh runs `true` on the server.
    fn ready(&mut self) -> bool {
        poll_within(Duration::from_secs(10), || {
            if self.child.try_wait().unwrap().is_some() {
                return true;
            }
            self.ssh()
                .arg("true")
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        }) && self.child.try_wait().unwrap().is_none()
    }

    /// `ssh -F CONFIG sb-loopback`, to which a remote command is added.
    pub fn ssh(&self) -> Command {
        let mut command = Command::new("ssh");
        command.arg("-F").arg(&self.config).arg(HOST);
        command
    }

    /// The ssh command line the dashboard's `SLICEBOARD_REMOTE_SHELL` names.
    pub fn remote_shell(&self) -> String {
        format!("ssh -F {}", self.config.display())
    }
}

impl Drop for LoopbackSshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "sliceboard-test",
            "-f",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen runs (apt-get install openssh-client)");
    assert!(status.success());
}
