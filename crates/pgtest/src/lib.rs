//! A throwaway PostgreSQL server for tests and benches that need a real one: a cluster
//! made by Debian's `initdb` in a temporary folder, listening on a free loopback port,
//! stopped and removed when the [`PgServer`] is dropped.
//!
//! PostgreSQL refuses to run as root, so under root the cluster belongs to the
//! `postgres` user (which Debian's package creates), or `nobody` without it. When the
//! programs are missing the start fails saying what to install; it never skips.

use std::{
    net::TcpListener,
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// What to install when PostgreSQL is missing.
pub const INSTALL: &str =
    "PostgreSQL's server programs are not installed: apt-get install -y postgresql";

/// A running PostgreSQL server of its own.
#[derive(Debug)]
pub struct PgServer {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
    user: Option<(u32, u32)>,
    /// `postgres` and its settings but the port, to start it again.
    postgres: PathBuf,
    settings: Vec<String>,
}

/// How the server is made.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Whether commits wait for the disk (`fsync`). Off for tests, where the process
    /// killed is Switchboard rather than PostgreSQL; on for benches, to compare with a
    /// store that does.
    pub fsync: bool,
    /// TLS: the server's certificate chain and private key (PEM). Clients may then use
    /// TLS; plain connections are still taken.
    pub tls: Option<(String, String)>,
}

impl PgServer {
    /// Starts a server for tests (fsync off). Panics saying why it could not.
    pub fn start() -> PgServer {
        PgServer::start_with(Options::default())
    }

    /// Starts a server for tests that also speaks TLS with `cert` and `key` (PEM).
    pub fn start_tls(cert: &str, key: &str) -> PgServer {
        PgServer::start_with(Options {
            tls: Some((cert.to_owned(), key.to_owned())),
            ..Options::default()
        })
    }

    /// Starts a server. Panics saying why it could not (what to install, or the
    /// server's own log).
    pub fn start_with(options: Options) -> PgServer {
        let options = &options;
        let bin = binaries().unwrap_or_else(|| panic!("{INSTALL}"));
        let user = run_as();
        let dir = std::env::temp_dir().join(format!(
            "switchboard-pg-{}-{}",
            std::process::id(),
            unique()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).expect("creating the cluster's folder");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
            .expect("opening the cluster's folder to its user");
        if let Some((uid, gid)) = user {
            for d in [dir.clone(), dir.join("data")] {
                std::os::unix::fs::chown(&d, Some(uid), Some(gid))
                    .expect("giving the cluster's folder to its user");
            }
        }
        let mut server = PgServer {
            postgres: bin.join("postgres"),
            settings: Vec::new(),
            dir,
            port: 0,
            child: None,
            user,
        };
        let initdb = server
            .command(&bin.join("initdb"))
            .args([
                "-D",
                "data",
                "-U",
                "switchboard",
                "--auth=trust",
                "-E",
                "UTF8",
            ])
            .args(["--no-sync", "--locale=C"])
            .output()
            .expect("running initdb");
        assert!(
            initdb.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        let mut tls = false;
        if let Some((cert, key)) = &options.tls {
            let data = server.dir.join("data");
            for (name, pem) in [("server.crt", cert), ("server.key", key)] {
                let path = data.join(name);
                std::fs::write(&path, pem).expect("writing the server's TLS files");
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .expect("the key readable by its owner only");
                if let Some((uid, gid)) = user {
                    std::os::unix::fs::chown(&path, Some(uid), Some(gid))
                        .expect("giving the TLS files to the cluster's user");
                }
            }
            tls = true;
        }
        // A port that was free a moment ago; another process taking it in between makes
        // the start fail, and it is tried again on another.
        server.settings = [
            "listen_addresses=127.0.0.1".to_owned(),
            format!("unix_socket_directories={}", server.dir.display()),
            format!("fsync={}", if options.fsync { "on" } else { "off" }),
            "max_connections=200".to_owned(),
            "shared_buffers=64MB".to_owned(),
        ]
        .into_iter()
        .chain(tls.then(|| "ssl=on".to_owned()))
        .collect();
        for _ in 0..5 {
            server.port = free_port();
            if server.spawn() {
                return server;
            }
            server.stop();
        }
        panic!(
            "postgres did not start; its log:\n{}",
            std::fs::read_to_string(server.dir.join("server.log")).unwrap_or_default()
        );
    }

    /// Starts `postgres` on this server's port; true once it accepts connections.
    fn spawn(&mut self) -> bool {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .expect("server log");
        if let Some((uid, gid)) = self.user {
            std::os::unix::fs::chown(self.dir.join("server.log"), Some(uid), Some(gid))
                .expect("giving the log to the cluster's user");
        }
        let mut command = self.command(&self.postgres.clone());
        command.args(["-D", "data", "-p", &self.port.to_string()]);
        for setting in &self.settings {
            command.args(["-c", setting]);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting postgres");
        self.child = Some(child);
        self.wait_ready()
    }

    /// Stops the server (an immediate shutdown: every connection is cut), waits
    /// `pause`, and starts it again on the same port with the same data.
    pub fn stop_for(&mut self, pause: Duration) {
        self.stop();
        let _ = std::fs::remove_file(self.dir.join("data").join("postmaster.pid"));
        std::thread::sleep(pause);
        for _ in 0..50 {
            if self.spawn() {
                return;
            }
            self.stop();
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("postgres did not start again on port {}", self.port);
    }

    fn command(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.current_dir(&self.dir);
        if let Some((uid, gid)) = self.user {
            c.uid(uid).gid(gid);
        }
        c
    }

    /// Waits until the server accepts connections (its pid file says "ready"), or has
    /// exited.
    fn wait_ready(&mut self) -> bool {
        let until = Instant::now() + Duration::from_secs(30);
        let pid_file = self.dir.join("data").join("postmaster.pid");
        while Instant::now() < until {
            if let Some(child) = &mut self.child
                && let Ok(Some(_)) = child.try_wait()
            {
                return false;
            }
            if std::fs::read_to_string(&pid_file)
                .map(|s| s.lines().any(|l| l.trim() == "ready"))
                .unwrap_or(false)
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of a database of this server (the `switchboard` superuser, no password).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://switchboard@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a database (once per test keeps tests apart) and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        let bin = binaries().unwrap_or_else(|| panic!("{INSTALL}"));
        let out = self
            .command(&bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "switchboard", name])
            .output()
            .expect("running createdb");
        assert!(
            out.status.success(),
            "createdb {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.url(name)
    }

    /// Runs SQL through `psql` and returns what it printed (unaligned, tuples only).
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let bin = binaries().unwrap_or_else(|| panic!("{INSTALL}"));
        let out = self
            .command(&bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args([
                "-U",
                "switchboard",
                "-d",
                database,
                "-XAtq",
                "-v",
                "ON_ERROR_STOP=1",
            ])
            .args(["-c", sql])
            .output()
            .expect("running psql");
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGQUIT: an immediate shutdown, which also ends the server's own children.
            let _ = Command::new("kill")
                .args(["-QUIT", &child.id().to_string()])
                .status();
            let until = Instant::now() + Duration::from_secs(10);
            while Instant::now() < until {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The folder of PostgreSQL's programs (`initdb`, `postgres`, `createdb`, `psql`):
/// Debian's versioned folder (the newest there), else the first on the PATH that has
/// them all.
pub fn binaries() -> Option<PathBuf> {
    const PROGRAMS: [&str; 4] = ["initdb", "postgres", "createdb", "psql"];
    let complete = |dir: &Path| PROGRAMS.iter().all(|p| dir.join(p).is_file());
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            complete(&bin).then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).find(|p| complete(p)))
}

/// The user the cluster runs as: this one, or under root `postgres` (else `nobody`).
fn run_as() -> Option<(u32, u32)> {
    let me = std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))?;
    if me != "0" {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let find = |name: &str| {
        passwd.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 3 && f[0] == name)
                .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
                .flatten()
        })
    };
    Some(
        find("postgres").or_else(|| find("nobody")).expect(
            "running as root with neither a postgres nor a nobody user to run PostgreSQL as",
        ),
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
