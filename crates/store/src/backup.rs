//! Online backups and restores, on both engines.
//!
//! **Backup** runs while the server serves and writes:
//! - SQLite: SQLite's online backup API copies the database from a fresh read connection in one
//!   step, inside one read transaction, so the copy is one consistent snapshot (in WAL mode the
//!   writers go on meanwhile). The copy is written next to the target file, switched out of WAL
//!   mode (one self-contained file), checked with `PRAGMA integrity_check`, and then renamed.
//! - PostgreSQL: `pg_dump --format=custom` (one repeatable-read snapshot), written next to the
//!   target file, checked with `pg_restore --list`, and then renamed. `pg_dump` (PostgreSQL's
//!   client tools, at least the server's major version) must be on the `PATH`.
//!
//! **Restore** replaces the database with the backup's content:
//! - SQLite: **the server must be stopped** (a restore refuses while another connection has the
//!   database open). The backup is checked, copied next to the database, the old `-wal`/`-shm`
//!   files are removed and the copy renamed over the database file.
//! - PostgreSQL: `pg_restore --clean --if-exists --no-owner --no-acl --single-transaction`: the
//!   tables are dropped and recreated in one transaction, so a failed restore changes nothing.
//!   Stop the server first, or expect its requests to wait or fail while the restore runs.
//!
//! Then migrations newer than the backup are applied, and the restore is recorded in the restored
//! database's audit log. A backup is recorded in the audit log after it is taken (so the backup
//! itself does not contain that entry).

use crate::audit::{self, Actor};
use crate::db::{Backend, Db};
use crate::error::StoreError;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// What a backup wrote.
#[derive(Debug, Clone)]
pub struct BackupInfo {
    pub backend: Backend,
    pub file: PathBuf,
    pub bytes: u64,
    pub seconds: f64,
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreInfo {
    pub backend: Backend,
    /// Where the data now lives (PostgreSQL URL without password, or SQLite file).
    pub location: String,
    pub bytes: u64,
    pub seconds: f64,
    /// Data values in the restored database.
    pub values: i64,
    /// Audit log entries in the restored database (including the restore's own), up to the
    /// first broken link if there is one.
    pub audit_entries: u64,
    /// The first broken link of the restored audit log's chain (see [`audit::verify`]).
    pub audit_broken: Option<(i64, String)>,
}

fn io(what: impl std::fmt::Display, e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(format!("{what}: {e}"))
}

/// A file next to `file` to write into before renaming, removed on drop unless kept.
struct Partial(PathBuf, bool);

impl Partial {
    fn next_to(file: &Path) -> Partial {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "backup".into());
        Partial(
            file.with_file_name(format!(".{name}.partial-{}", std::process::id())),
            false,
        )
    }
    /// fsync, then rename over `to`.
    fn finish(mut self, to: &Path) -> Result<u64, StoreError> {
        let f = std::fs::File::open(&self.0).map_err(|e| io(self.0.display(), e))?;
        f.sync_all().map_err(|e| io(self.0.display(), e))?;
        let bytes = f.metadata().map(|m| m.len()).unwrap_or(0);
        drop(f);
        std::fs::rename(&self.0, to)
            .map_err(|e| io(format!("cannot write {}", to.display()), e))?;
        if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        self.1 = true;
        Ok(bytes)
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.1 {
            for ext in ["", "-journal", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{ext}", self.0.display()));
            }
        }
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Take a consistent backup of the database into `file` (replaced if it exists) while the
/// database stays in use, and record it in the audit log.
///
/// PostgreSQL: `pg_dump` connects with the URL [`Db::location`] shows, which leaves out the
/// password: with a password in the URL, use [`backup_with_url`] (or set `PGPASSWORD`).
pub fn backup(db: &Db, file: &Path) -> Result<BackupInfo, StoreError> {
    // a redacted password is left out: PGPASSWORD or ~/.pgpass may supply it
    backup_with_url(db, &db.location().replacen(":***@", "@", 1), file)
}

/// [`backup`], with the URL `db` was opened from (used for PostgreSQL, where it may carry the
/// password).
pub fn backup_with_url(db: &Db, url: &str, file: &Path) -> Result<BackupInfo, StoreError> {
    let started = Instant::now();
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(StoreError::Io(format!(
            "cannot write {}: the folder {} does not exist",
            file.display(),
            dir.display()
        )));
    }
    let bytes = match db.sqlite_path() {
        Some(path) => {
            if same_file(path, file) {
                return Err(StoreError::Io(format!(
                    "{} is the database itself: choose another file for the backup",
                    file.display()
                )));
            }
            sqlite_backup(path, file)?
        }
        None => pg_backup(url, file)?,
    };
    let info = BackupInfo {
        backend: db.backend(),
        file: file.to_path_buf(),
        bytes,
        seconds: started.elapsed().as_secs_f64(),
    };
    db.write(|c| {
        audit::record(
            c,
            &Actor::cli(),
            "backup",
            "database",
            &file.display().to_string(),
            None,
            Some(&serde_json::json!({ "backend": info.backend.as_str(), "bytes": info.bytes })),
        )
    })?;
    Ok(info)
}

/// Replace the database at `db_url` with the content of the backup `file`, apply newer
/// migrations, and record the restore in the restored database's audit log. For SQLite the
/// server must be stopped: the restore refuses while the database is open elsewhere.
pub fn restore(db_url: &str, file: &Path) -> Result<RestoreInfo, StoreError> {
    let started = Instant::now();
    let bytes = std::fs::metadata(file)
        .map_err(|e| io(format!("cannot read {}", file.display()), e))?
        .len();
    let postgres = db_url.starts_with("postgres://") || db_url.starts_with("postgresql://");
    let kind = backup_kind(file)?;
    match (postgres, kind) {
        (true, Backend::Postgres) => pg_restore(db_url, file)?,
        (false, Backend::Sqlite) => sqlite_restore(
            Path::new(db_url.strip_prefix("sqlite://").unwrap_or(db_url)),
            file,
        )?,
        (_, kind) => {
            return Err(StoreError::Io(format!(
                "{} is a {} backup and cannot be restored into a {} database",
                file.display(),
                kind.as_str(),
                if postgres { "postgresql" } else { "sqlite" }
            )));
        }
    }
    let after = |e: StoreError| {
        StoreError::Io(format!(
            "the backup was restored, but then this failed: {e}"
        ))
    };
    let db = crate::open(db_url).map_err(after)?;
    let r = (|| {
        let values = db.write(|c| {
            audit::record(
                c,
                &Actor::cli(),
                "restore",
                "database",
                &file.display().to_string(),
                None,
                Some(&serde_json::json!({ "backend": kind.as_str(), "bytes": bytes })),
            )?;
            c.scalar_i64("SELECT count(*) FROM data_value", &[])
        })?;
        let check = db.read(audit::verify)?;
        Ok(RestoreInfo {
            backend: kind,
            location: db.location(),
            bytes,
            seconds: started.elapsed().as_secs_f64(),
            values,
            audit_entries: check.entries,
            audit_broken: check.first_broken,
        })
    })();
    db.close_idle();
    r.map_err(after)
}

/// Which engine a backup file is for, from its first bytes.
fn backup_kind(file: &Path) -> Result<Backend, StoreError> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let n = std::fs::File::open(file)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| io(format!("cannot read {}", file.display()), e))?;
    if n == 16 && &head == b"SQLite format 3\0" {
        Ok(Backend::Sqlite)
    } else if n >= 5 && &head[..5] == b"PGDMP" {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::Io(format!(
            "{} is not a dantoc backup (neither a SQLite database nor a pg_dump custom-format file)",
            file.display()
        )))
    }
}

// ---------------------------------------------------------------- SQLite

fn sqlite_backup(path: &Path, file: &Path) -> Result<u64, StoreError> {
    use rusqlite::OpenFlags;
    // a fresh connection, only for reading (the file exists: the Db has it open)
    let src = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    src.busy_timeout(Duration::from_secs(10))?;
    src.pragma_update(None, "query_only", true)?;
    let partial = Partial::next_to(file);
    for ext in ["", "-journal", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", partial.0.display()));
    }
    {
        let mut dst = rusqlite::Connection::open(&partial.0)?;
        {
            let b = rusqlite::backup::Backup::new(&src, &mut dst)?;
            // all pages in one step: one read transaction, hence one consistent snapshot; in
            // WAL mode it does not block the writers (copying in several steps would restart
            // whenever another connection writes)
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                match b.step(-1)? {
                    rusqlite::backup::StepResult::Done => break,
                    _ if Instant::now() > deadline => {
                        return Err(StoreError::Db(
                            "the backup could not read the database for 60 s (locked)".into(),
                        ));
                    }
                    _ => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        // one self-contained file, with no -wal beside it
        let mode: String = dst.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("delete") {
            return Err(StoreError::Db(format!(
                "the backup copy stays in journal mode {mode}"
            )));
        }
        integrity_check(&dst, &partial.0)?;
    }
    partial.finish(file)
}

/// `PRAGMA integrity_check` must answer `ok`.
fn integrity_check(c: &rusqlite::Connection, file: &Path) -> Result<(), StoreError> {
    let mut st = c.prepare("PRAGMA integrity_check")?;
    let problems: Vec<String> = st
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    if problems.len() == 1 && problems[0] == "ok" {
        Ok(())
    } else {
        Err(StoreError::Db(format!(
            "{} failed the integrity check: {}",
            file.display(),
            problems
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        )))
    }
}

fn sqlite_restore(path: &Path, file: &Path) -> Result<(), StoreError> {
    if same_file(path, file) {
        return Err(StoreError::Io(format!(
            "{} is the database itself",
            file.display()
        )));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| io(format!("cannot create {}", dir.display()), e))?;
    }
    // The copy is made and checked before the database is touched.
    let partial = Partial::next_to(path);
    std::fs::copy(file, &partial.0).map_err(|e| {
        io(
            format!("cannot copy {} to {}", file.display(), partial.0.display()),
            e,
        )
    })?;
    {
        let c = rusqlite::Connection::open(&partial.0)?;
        integrity_check(&c, file)?;
        let dantoc = c
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'
                 AND name IN ('schema_migrations', 'data_value', 'audit_log')",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap_or(0);
        if dantoc != 3 {
            return Err(StoreError::Io(format!(
                "{} is a SQLite database but not a dantoc backup",
                file.display()
            )));
        }
        // a backup taken by copying a WAL-mode file: make the copy self-contained
        let _: String = c.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
    }
    if path.exists() {
        // Leaving WAL mode needs every other connection closed: if the server (or anything
        // else) has the database open, this fails, and the restore refuses.
        let c = rusqlite::Connection::open(path)?;
        c.busy_timeout(Duration::ZERO)?;
        let mode = c.query_row("PRAGMA journal_mode = DELETE", [], |r| {
            r.get::<_, String>(0)
        });
        match mode {
            Ok(m) if m.eq_ignore_ascii_case("delete") => {}
            _ => {
                return Err(StoreError::Conflict(format!(
                    "the database {} is in use: stop the server (and any other dantoc command using it) before restoring",
                    path.display()
                )));
            }
        }
    }
    for ext in ["-wal", "-shm", "-journal"] {
        let f = PathBuf::from(format!("{}{ext}", path.display()));
        if f.exists() {
            std::fs::remove_file(&f)
                .map_err(|e| io(format!("cannot remove {}", f.display()), e))?;
        }
    }
    partial.finish(path)?;
    Ok(())
}

// ---------------------------------------------------------------- PostgreSQL

/// A connection URL for PostgreSQL's tools, with the password taken out into `PGPASSWORD`
/// (so that it does not show in the process list).
fn pg_tool(tool: &str, url: &str) -> (Command, String) {
    let mut cmd = Command::new(tool);
    let mut url = url.to_string();
    if let Some(s) = url.find("://") {
        let rest = &url[s + 3..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@')
            && let Some(colon) = rest[..at].find(':')
        {
            let password = percent_decode(&rest[colon + 1..at]);
            cmd.env("PGPASSWORD", password);
            url = format!("{}{}{}", &url[..s + 3], &rest[..colon], &rest[at..]);
        }
    }
    (cmd, url)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() && b[i + 1..i + 3].iter().all(u8::is_ascii_hexdigit) {
            let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            out.push(hex(b[i + 1]) * 16 + hex(b[i + 2]));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Run one of PostgreSQL's client tools; a missing tool or a failure is a clear error.
fn run(tool: &str, mut cmd: Command) -> Result<std::process::Output, StoreError> {
    let out = cmd.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            StoreError::Io(format!(
                "{tool} was not found: install PostgreSQL's client tools, of at least the server's version, and put them on the PATH (Debian: apt-get install postgresql-client)"
            ))
        } else {
            io(format!("cannot run {tool}"), e)
        }
    })?;
    if !out.status.success() {
        return Err(StoreError::Io(format!(
            "{tool} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out)
}

fn pg_backup(url: &str, file: &Path) -> Result<u64, StoreError> {
    let partial = Partial::next_to(file);
    let (mut cmd, url) = pg_tool("pg_dump", url);
    cmd.arg("--format=custom")
        .arg("--file")
        .arg(&partial.0)
        .arg("--dbname")
        .arg(url);
    run("pg_dump", cmd)?;
    // the archive must be readable
    let mut list = Command::new("pg_restore");
    list.arg("--list").arg(&partial.0);
    run("pg_restore", list)?;
    partial.finish(file)
}

fn pg_restore(url: &str, file: &Path) -> Result<(), StoreError> {
    let (mut cmd, url) = pg_tool("pg_restore", url);
    cmd.args([
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-acl",
        "--single-transaction",
    ])
    .arg("--dbname")
    .arg(url)
    .arg(file);
    run("pg_restore", cmd)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_goes_to_the_environment() {
        let (cmd, url) = pg_tool("pg_dump", "postgres://u:p%40ss@h:5432/db?sslmode=disable");
        assert_eq!(url, "postgres://u@h:5432/db?sslmode=disable");
        let env: Vec<_> = cmd.get_envs().collect();
        assert_eq!(
            env,
            vec![(
                std::ffi::OsStr::new("PGPASSWORD"),
                Some(std::ffi::OsStr::new("p@ss"))
            )]
        );
        let (cmd, url) = pg_tool("pg_dump", "postgres://u@h/db");
        assert_eq!(url, "postgres://u@h/db");
        assert_eq!(cmd.get_envs().count(), 0);
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }

    #[test]
    fn backup_files_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x");
        std::fs::write(&f, b"PGDMP\x01\x0e\x00").unwrap();
        assert_eq!(backup_kind(&f).unwrap(), Backend::Postgres);
        std::fs::write(&f, b"SQLite format 3\0....").unwrap();
        assert_eq!(backup_kind(&f).unwrap(), Backend::Sqlite);
        std::fs::write(&f, b"indicator,unit\n").unwrap();
        assert!(
            backup_kind(&f)
                .unwrap_err()
                .to_string()
                .contains("not a dantoc backup")
        );
    }
}
