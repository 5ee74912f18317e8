//! `dantoc`: the server and the command line in one binary.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use dantoc_domain::admin::HierarchyVersion;
use dantoc_domain::ethnic::CodeList;
use dantoc_store::audit::Actor;
use dantoc_store::values::{ImportOptions, Strategy, ValueFilter};
use dantoc_store::{Backend, Db, StoreError, csv_reference, csv_values, values};
use indicatif::{ProgressBar, ProgressStyle};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "dantoc",
    version,
    about = "Hệ thống thông tin dữ liệu công tác dân tộc — ethnic-affairs information and data system"
)]
struct Cli {
    /// Database: a PostgreSQL URL (postgres://…) or a SQLite file path. Default: DATA_DIR/dantoc.db.
    #[arg(long, global = true, env = "DANTOC_DATABASE_URL")]
    database: Option<String>,
    /// Directory for the embedded database and other local files.
    #[arg(
        long,
        global = true,
        env = "DANTOC_DATA_DIR",
        default_value = "dantoc-data"
    )]
    data_dir: PathBuf,
    /// What to do (default: serve).
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Start the HTTP server (JSON API and pages).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "DANTOC_BIND", default_value = "127.0.0.1:8080")]
        bind: SocketAddr,
        /// Load the demo provinces (default: yes on the embedded SQLite database, no on PostgreSQL).
        #[arg(long, conflicts_with = "no_demo")]
        demo: bool,
        /// Do not load the demo provinces.
        #[arg(long)]
        no_demo: bool,
        /// Mark session cookies Secure (set when the server is reached over HTTPS, e.g. behind a TLS proxy).
        #[arg(long, env = "DANTOC_SECURE_COOKIES")]
        secure_cookies: bool,
    },
    /// Apply database migrations and load the reference data.
    Migrate,
    /// Load the demo provinces (Quảng Ninh, Cao Bằng, Thái Nguyên with Bắc Kạn).
    Demo,
    /// Import data values or reference data from CSV (all or nothing).
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Export data values or reference data as CSV (UTF-8 with BOM).
    Export {
        #[command(subcommand)]
        what: ExportWhat,
    },
    /// Accounts: create the first administrator, set passwords, list.
    User {
        #[command(subcommand)]
        what: UserWhat,
    },
    /// API tokens for machine clients.
    Token {
        #[command(subcommand)]
        what: TokenWhat,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        what: AuditWhat,
    },
    /// Boundaries and village points (issue #6).
    Gis {
        #[command(subcommand)]
        what: GisWhat,
    },
    /// Write a consistent backup of the database to FILE while the server runs
    /// (SQLite: online backup; PostgreSQL: pg_dump, custom format).
    Backup { file: PathBuf },
    /// Replace the whole database with a backup made by `dantoc backup`. Stop the server first
    /// (on SQLite the restore refuses while the database is in use).
    Restore {
        file: PathBuf,
        /// Confirm that every value, account and audit entry now in the database is replaced.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
enum UserWhat {
    /// Create an account. The password is asked for (or read from standard input with --password-stdin).
    Create {
        username: String,
        /// A system administrator (the first account must be one).
        #[arg(long, conflicts_with = "role")]
        admin: bool,
        /// admin, province_officer, commune_officer, viewer or api_client.
        #[arg(long)]
        role: Option<String>,
        /// Unit the account works in (repeatable; CODE@2024 for a pre-2025 unit).
        #[arg(long)]
        scope: Vec<String>,
        #[arg(long, default_value = "")]
        full_name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (asked for, or from standard input with --password-stdin).
    Password {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List,
}

#[derive(Subcommand)]
enum TokenWhat {
    /// Issue a token for an account; the token is printed once.
    Create {
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: String,
        /// Allow writes (read-only otherwise).
        #[arg(long)]
        write: bool,
        /// Last day the token is valid (YYYY-MM-DD).
        #[arg(long)]
        expires: Option<String>,
        /// Limit the token to these units (within the account's scope).
        #[arg(long)]
        scope: Vec<String>,
    },
    /// Revoke a token by its number.
    Revoke { id: i64 },
    /// List tokens.
    List,
}

#[derive(Subcommand)]
enum AuditWhat {
    /// Check the hash chain of the audit log; report the first broken link.
    Verify,
    /// Export the audit log as CSV.
    Export {
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum GisWhat {
    /// Units with and without a boundary per hierarchy and tier (the join rate), boundaries
    /// repaired, village points.
    Report {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ImportWhat {
    /// Data values: columns indicator,unit,period,disaggregation,value[,comment,followup] (or DHIS2's CSV columns).
    Values {
        file: PathBuf,
        /// Check and count, write nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum, default_value = "create-and-update")]
        strategy: StrategyArg,
    },
    /// Indicator catalogue entries (the columns of `export indicators`); existing codes are replaced.
    Indicators { file: PathBuf },
    /// Villages: columns commune_code,code,name[,type,version]; with lon,lat columns (or a
    /// GeoJSON file of points) their points too — without coordinates a village is placed at
    /// its commune's centroid, flagged geocoded.
    Villages { file: PathBuf },
    /// A province's own boundaries (GeoJSON FeatureCollection of Polygons/MultiPolygons), all
    /// or nothing: each feature names its unit in a property; boundaries are checked, repaired
    /// and replace those stored.
    Boundaries {
        file: PathBuf,
        /// Hierarchy of the codes: 2025 (current) or 2024.
        #[arg(long, default_value = "2025")]
        version: String,
        /// The feature property holding the unit code (`id`: the feature's id).
        #[arg(long, default_value = "code")]
        code_property: String,
    },
    /// Lineage weights for split communes: columns old_code,new_code,weight.
    LineageWeights { file: PathBuf },
    /// DHIS2 UIDs of indicators, units, disaggregations and forms, for dataValueSets with
    /// idScheme=UID: columns kind,code,uid (kind: indicator, unit, disaggregation, form, or
    /// DHIS2's dataElement, orgUnit, categoryOptionCombo, dataSet); all or nothing.
    Uids {
        file: PathBuf,
        /// Check and count, write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// A filled form file (.xlsx made by `GET /api/forms/{code}/template.xlsx`): form, unit
    /// and period from the file; changed cells written, cleared ones deleted, all or nothing.
    Form {
        file: PathBuf,
        /// Check and count, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Write changed cells even where the stored value changed since the file was made.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum StrategyArg {
    CreateAndUpdate,
    Create,
    Update,
    Delete,
}

#[derive(Subcommand)]
enum ExportWhat {
    /// Data values.
    Values {
        #[arg(long)]
        indicator: Vec<String>,
        /// Unit code (CODE@2024 for a pre-2025 unit).
        #[arg(long)]
        unit: Vec<String>,
        /// Include the units below the given ones.
        #[arg(long)]
        children: bool,
        #[arg(long)]
        period: Vec<String>,
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Administrative units of one hierarchy.
    Units {
        #[arg(long, default_value = "2025")]
        version: String,
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Lineage from pre-2025 units to current ones, with weights.
    Lineage {
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// The 54 ethnic groups.
    EthnicGroups {
        #[arg(long, default_value = "gso2008")]
        code_list: String,
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// The indicator catalogue.
    Indicators {
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

fn database_url(cli: &Cli) -> String {
    match &cli.database {
        Some(u) if !u.trim().is_empty() => u.clone(),
        _ => cli.data_dir.join("dantoc.db").display().to_string(),
    }
}

fn open(cli: &Cli) -> Result<Db> {
    let url = database_url(cli);
    let db = dantoc_store::open(&url).map_err(|e| {
        anyhow::anyhow!(
            "cannot open the database {}: {e}",
            dantoc_store::db::redact_url(&url)
        )
    })?;
    Ok(db)
}

/// The key for personal data: `DANTOC_DATA_KEY`, or the key file in the data directory.
fn cipher(cli: &Cli) -> Result<dantoc_store::personal::Cipher> {
    Ok(dantoc_store::personal::Cipher::load(
        std::env::var("DANTOC_DATA_KEY").ok().as_deref(),
        &cli.data_dir,
    )?)
}

fn output(path: &Option<PathBuf>) -> Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) => Box::new(BufWriter::new(
            File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    })
}

/// Print the problems of a refused import, each with file, row and column, and fail.
fn refuse(file: &std::path::Path, e: StoreError) -> anyhow::Error {
    match e {
        StoreError::Invalid(p) => {
            for e in &p.0 {
                eprintln!("{}: {e}", file.display());
            }
            anyhow::anyhow!(
                "{} problem(s) in {}: nothing was imported",
                p.len(),
                file.display()
            )
        }
        e => anyhow::anyhow!("{}: {e}", file.display()),
    }
}

fn import_values(
    db: &Db,
    file: &std::path::Path,
    dry_run: bool,
    strategy: StrategyArg,
) -> Result<()> {
    let f = File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = ProgressBar::new(len).with_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message("đọc và kiểm tra / reading and checking");
    let reader = csv_values::open(std::io::BufReader::with_capacity(1 << 20, bar.wrap_read(f)))
        .map_err(|e| refuse(file, StoreError::invalid(e)))?;
    let loc = reader.locator();
    let opts = ImportOptions {
        strategy: match strategy {
            StrategyArg::CreateAndUpdate => Strategy::CreateAndUpdate,
            StrategyArg::Create => Strategy::Create,
            StrategyArg::Update => Strategy::Update,
            StrategyArg::Delete => Strategy::Delete,
        },
        dry_run,
        what: format!("file {}", file.display()),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let summary = values::import(db, &Actor::cli(), &opts, reader, &|i, e| loc.locate(i, e))?;
    bar.finish_and_clear();
    print_summary(file, &summary, dry_run, started)
}

/// Import a filled form file (xlsx).
fn import_form(db: &Db, file: &std::path::Path, dry_run: bool, force: bool) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot open {}", file.display()))?;
    let opts = ImportOptions {
        dry_run,
        what: format!("form file {}", file.display()),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let summary = dantoc_store::form_files::import_xlsx(
        db,
        &Actor::cli(),
        &opts,
        None,
        &Default::default(),
        &bytes,
        force,
    )
    .map_err(|e| refuse(file, e))?;
    print_summary(file, &summary, dry_run, started)
}

/// Print an import summary: every conflict (with its place), or the counts.
fn print_summary(
    file: &std::path::Path,
    summary: &values::ImportSummary,
    dry_run: bool,
    started: std::time::Instant,
) -> Result<()> {
    if summary.status != "SUCCESS" {
        for e in &summary.conflicts {
            eprintln!("{}: {e}", file.display());
        }
        if summary.conflict_count as usize > summary.conflicts.len() {
            eprintln!(
                "… and {} more",
                summary.conflict_count as usize - summary.conflicts.len()
            );
        }
        bail!(
            "{} problem(s) in {} row(s) of {}: nothing was imported",
            summary.conflict_count,
            summary.rows,
            file.display()
        );
    }
    let c = &summary.import_count;
    println!(
        "{}{} rows in {:.1} s: {} imported, {} updated, {} ignored, {} deleted",
        if dry_run {
            "dry run (nothing written): "
        } else {
            ""
        },
        summary.rows,
        started.elapsed().as_secs_f64(),
        c.imported,
        c.updated,
        c.ignored,
        c.deleted
    );
    Ok(())
}

/// The file's name without its folders (recorded as the source of what it brought).
fn file_name(file: &std::path::Path) -> String {
    file.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.display().to_string())
}

/// Does a villages file carry points: GeoJSON, or CSV with `lon`/`lat` columns?
fn with_points(file: &std::path::Path) -> Result<bool> {
    let name = file_name(file).to_lowercase();
    if name.ends_with(".geojson") || name.ends_with(".json") {
        return Ok(true);
    }
    let f = File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(f), &mut first)?;
    Ok(first
        .trim_start_matches('\u{feff}')
        .split([',', ';', '\t'])
        .map(|h| h.trim().trim_matches('"').to_lowercase())
        .any(|h| ["lon", "lng", "longitude", "lat", "latitude"].contains(&h.as_str())))
}

/// A new password: from the first line of standard input, or asked twice on the terminal.
fn new_password(username: &str, from_stdin: bool) -> Result<String> {
    let pw = if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        let a =
            rpassword::prompt_password(format!("Mật khẩu mới cho {username} / new password: "))?;
        let b = rpassword::prompt_password("Nhập lại / again: ")?;
        if a != b {
            bail!("the two passwords differ");
        }
        a
    };
    dantoc_domain::access::check_password(&pw, username).map_err(anyhow::Error::msg)?;
    Ok(pw)
}

fn user_command(db: &Db, what: &UserWhat) -> Result<()> {
    use dantoc_store::accounts;
    let actor = Actor::cli();
    match what {
        UserWhat::Create {
            username,
            admin,
            role,
            scope,
            full_name,
            password_stdin,
        } => {
            let role = if *admin {
                dantoc_domain::access::Role::Admin
            } else {
                role.as_deref()
                    .unwrap_or("viewer")
                    .parse()
                    .map_err(anyhow::Error::msg)?
            };
            let username = username.trim().to_lowercase();
            dantoc_domain::access::check_username(&username).map_err(anyhow::Error::msg)?;
            let hash = accounts::hash_password(&new_password(&username, *password_stdin)?)?;
            let input = accounts::UserInput {
                username: username.clone(),
                full_name: full_name.clone(),
                role: Some(role),
                scopes: scope.clone(),
                active: true,
                ..Default::default()
            };
            let u = db
                .write(|c| accounts::create_audited(c, &actor, &input, Some(&hash)))
                .map_err(|e| refuse(std::path::Path::new("user"), e))?;
            println!("created {} ({})", u.username, u.role.as_str());
        }
        UserWhat::Password {
            username,
            password_stdin,
        } => {
            let hash = accounts::hash_password(&new_password(username, *password_stdin)?)?;
            db.write(|c| {
                accounts::set_password_hash(c, username, &hash)?;
                dantoc_store::audit::record(
                    c,
                    &actor,
                    "set_password",
                    "app_user",
                    username,
                    None,
                    None,
                )
            })?;
            println!("password of {username} changed; its sessions were ended");
        }
        UserWhat::List => {
            for u in db.read(accounts::list)? {
                let scopes: Vec<String> = u
                    .scopes
                    .iter()
                    .map(|s| format!("{}@{}", s.code, s.version))
                    .collect();
                println!(
                    "{}\t{}\t{}\t{}{}",
                    u.username,
                    u.role.as_str(),
                    scopes.join(","),
                    if u.active { "active" } else { "disabled" },
                    if u.demo { "\tdemo" } else { "" }
                );
            }
        }
    }
    Ok(())
}

fn token_command(db: &Db, what: &TokenWhat) -> Result<()> {
    use dantoc_store::accounts;
    let actor = Actor::cli();
    match what {
        TokenWhat::Create {
            user,
            name,
            write,
            expires,
            scope,
        } => {
            let (secret, info) = db
                .write(|c| {
                    let u = accounts::get(c, user)?
                        .ok_or_else(|| StoreError::NotFound(format!("user {user}")))?;
                    let (secret, info) =
                        accounts::create_token(c, &u, name, *write, expires.as_deref(), scope)?;
                    dantoc_store::audit::record(
                        c,
                        &actor,
                        "create",
                        "api_token",
                        &info.id.to_string(),
                        None,
                        Some(&serde_json::to_value(&info).unwrap_or_default()),
                    )?;
                    Ok((secret, info))
                })
                .map_err(|e| refuse(std::path::Path::new("token"), e))?;
            eprintln!(
                "token {} for {} ({}) — shown once, keep it secret:",
                info.id,
                info.username,
                if info.can_write {
                    "read and write"
                } else {
                    "read only"
                }
            );
            println!("{secret}");
        }
        TokenWhat::Revoke { id } => {
            db.write(|c| {
                accounts::revoke_token(c, *id)?;
                dantoc_store::audit::record(
                    c,
                    &actor,
                    "revoke",
                    "api_token",
                    &id.to_string(),
                    None,
                    None,
                )
            })?;
            println!("token {id} revoked");
        }
        TokenWhat::List => {
            for t in db.read(|c| accounts::tokens(c, None))? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else {
                    "live"
                };
                println!(
                    "{}\t{}\t{}\t{}…\t{}\t{}\texpires {}",
                    t.id,
                    t.username,
                    t.name,
                    t.prefix,
                    if t.can_write { "rw" } else { "ro" },
                    state,
                    t.expires_at.as_deref().unwrap_or("never")
                );
            }
        }
    }
    Ok(())
}

fn audit_command(db: &Db, what: &AuditWhat) -> Result<()> {
    match what {
        AuditWhat::Verify => {
            let v = db.read(dantoc_store::audit::verify)?;
            match v.first_broken {
                None => println!(
                    "audit log intact: {} entries, every link checked",
                    v.entries
                ),
                Some((id, why)) => bail!(
                    "audit log broken at entry {id}: {why} ({} entries before it are intact)",
                    v.entries
                ),
            }
        }
        AuditWhat::Export { output: o } => {
            let f = dantoc_store::audit::Filter {
                limit: i64::MAX / 2,
                ..Default::default()
            };
            let entries = db.read(|c| dantoc_store::audit::search(c, &f))?;
            dantoc_store::audit::write_csv(output(o)?, &entries)?;
            db.write(|c| {
                dantoc_store::audit::record(
                    c,
                    &Actor::cli(),
                    "export",
                    "audit_log",
                    "csv",
                    None,
                    Some(&serde_json::json!({"entries": entries.len()})),
                )
            })?;
            eprintln!("{} entries exported", entries.len());
        }
    }
    Ok(())
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut cli = Cli::parse();
    let command = cli.command.take().unwrap_or(Command::Serve {
        bind: std::env::var("DANTOC_BIND")
            .ok()
            .and_then(|b| b.parse().ok())
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
        demo: false,
        no_demo: false,
        secure_cookies: std::env::var("DANTOC_SECURE_COOKIES")
            .is_ok_and(|v| v == "1" || v == "true"),
    });
    match &command {
        Command::Serve {
            bind,
            demo,
            no_demo,
            secure_cookies,
        } => {
            let started = std::time::Instant::now();
            let db = open(&cli)?;
            let load_demo = *demo || (!*no_demo && db.backend() == Backend::Sqlite);
            if load_demo && dantoc_store::demo::load(&db)? {
                tracing::info!(
                    "demo provinces loaded (Quảng Ninh, Cao Bằng, Thái Nguyên with Bắc Kạn)"
                );
            }
            let cipher = cipher(&cli)?;
            if load_demo {
                // the first load leaves caches and freed heap behind: give them back before serving
                db.release_memory();
            }
            // demo accounts work only while the server listens on localhost
            dantoc_web::account_pages::ensure_demo_accounts(
                &db,
                bind.ip().is_loopback() && load_demo,
            )?;
            if db.read(dantoc_store::accounts::count)? == 0 {
                tracing::warn!(
                    "no accounts yet: create the first administrator with `dantoc user create --admin USERNAME`"
                );
            }
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(bind)
                    .await
                    .with_context(|| format!("cannot listen on {bind}"))?;
                tracing::info!(
                    "serving on http://{} ({} database at {}) — ready in {} ms",
                    listener.local_addr()?,
                    db.backend().as_str(),
                    db.location(),
                    started.elapsed().as_millis()
                );
                let config = dantoc_web::state::ServerConfig {
                    bind: Some(listener.local_addr()?),
                    secure_cookies: *secure_cookies,
                };
                dantoc_web::serve_on(listener, db, config, cipher).await?;
                tracing::info!("stopped");
                Ok::<_, anyhow::Error>(())
            })?;
        }
        Command::Migrate => {
            let db = open(&cli)?;
            let v = db.read(dantoc_store::migrate::current_version)?;
            println!(
                "{} database at {} is at schema version {v}, reference data loaded",
                db.backend().as_str(),
                db.location()
            );
        }
        Command::Demo => {
            let db = open(&cli)?;
            if dantoc_store::demo::load(&db)? {
                println!("demo provinces loaded");
            } else {
                println!("demo provinces were already loaded");
            }
        }
        Command::Import { what } => {
            let db = open(&cli)?;
            let actor = Actor::cli();
            match what {
                ImportWhat::Values {
                    file,
                    dry_run,
                    strategy,
                } => import_values(&db, file, *dry_run, *strategy)?,
                ImportWhat::Form {
                    file,
                    dry_run,
                    force,
                } => import_form(&db, file, *dry_run, *force)?,
                ImportWhat::Indicators { file } => {
                    let f = File::open(file)
                        .with_context(|| format!("cannot open {}", file.display()))?;
                    let c = csv_reference::import_indicators(&db, &actor, f)
                        .map_err(|e| refuse(file, e))?;
                    println!("indicators: {} created, {} updated", c.created, c.updated);
                }
                ImportWhat::Villages { file } if with_points(file)? => {
                    let bytes = std::fs::read(file)
                        .with_context(|| format!("cannot open {}", file.display()))?;
                    let name = file_name(file);
                    let c = dantoc_store::gis::import_villages(&db, &actor, &name, &bytes)
                        .map_err(|e| refuse(file, e))?;
                    println!(
                        "villages: {} created, {} existing located, {} placed at their commune's centroid (geocoded)",
                        c.created, c.located, c.geocoded
                    );
                    if !c.outside.is_empty() {
                        eprintln!(
                            "warning: {} village point(s) lie outside their commune's boundary: {}",
                            c.outside.len(),
                            c.outside.join(", ")
                        );
                    }
                }
                ImportWhat::Villages { file } => {
                    let f = File::open(file)
                        .with_context(|| format!("cannot open {}", file.display()))?;
                    let c = csv_reference::import_villages(&db, &actor, f)
                        .map_err(|e| refuse(file, e))?;
                    println!("villages: {} created", c.created);
                }
                ImportWhat::Boundaries {
                    file,
                    version,
                    code_property,
                } => {
                    let v: HierarchyVersion = version.parse().map_err(anyhow::Error::msg)?;
                    let text = std::fs::read_to_string(file)
                        .with_context(|| format!("cannot read {} as UTF-8 text", file.display()))?;
                    let opts = dantoc_store::gis::BoundaryImport {
                        version: v,
                        code_property: code_property.clone(),
                        name: file_name(file),
                    };
                    let c = dantoc_store::gis::import_boundaries(&db, &actor, &opts, &text)
                        .map_err(|e| refuse(file, e))?;
                    println!(
                        "boundaries: {} replaced, {} added, {} repaired, {} re-oriented; {} village(s) at a commune centroid moved",
                        c.replaced,
                        c.added,
                        c.repaired.len(),
                        c.reoriented,
                        c.villages_moved
                    );
                    for (code, why) in &c.repaired {
                        println!("  repaired {code}: {why}");
                    }
                }
                ImportWhat::LineageWeights { file } => {
                    let f = File::open(file)
                        .with_context(|| format!("cannot open {}", file.display()))?;
                    let c = csv_reference::import_weights(&db, &actor, f)
                        .map_err(|e| refuse(file, e))?;
                    println!("lineage weights: {} links updated", c.updated);
                }
                ImportWhat::Uids { file, dry_run } => {
                    let f = File::open(file)
                        .with_context(|| format!("cannot open {}", file.display()))?;
                    let what = format!("cli: {}", file_name(file));
                    let c = dantoc_store::dhis2::read_csv(f)
                        .and_then(|(items, loc)| {
                            db.transaction(!*dry_run, |c| {
                                dantoc_store::dhis2::put(c, &actor, &items, None, &what, &|i, e| {
                                    loc.locate(i, e)
                                })
                            })
                        })
                        .map_err(|e| refuse(file, e))?;
                    println!(
                        "DHIS2 UIDs{}: {} created, {} updated, {} unchanged",
                        if *dry_run {
                            " (dry run, nothing written)"
                        } else {
                            ""
                        },
                        c.created,
                        c.updated,
                        c.unchanged
                    );
                }
            }
        }
        Command::User { what } => user_command(&open(&cli)?, what)?,
        Command::Token { what } => token_command(&open(&cli)?, what)?,
        Command::Audit { what } => audit_command(&open(&cli)?, what)?,
        Command::Gis {
            what: GisWhat::Report { json },
        } => {
            let db = open(&cli)?;
            let r = db.read(dantoc_store::gis::report)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", r.text());
            }
        }
        Command::Backup { file } => {
            let db = open(&cli)?;
            let url = database_url(&cli);
            let b = dantoc_store::backup::backup_with_url(&db, &url, file)
                .map_err(|e| anyhow::anyhow!("backup failed: {e}"))?;
            println!(
                "backup of the {} database at {} written to {} ({} bytes) in {:.1} s",
                b.backend.as_str(),
                db.location(),
                b.file.display(),
                b.bytes,
                b.seconds
            );
        }
        Command::Restore { file, yes } => {
            let url = database_url(&cli);
            if !file.is_file() {
                bail!("cannot restore: {} is not a file", file.display());
            }
            if !*yes {
                bail!(
                    "restore replaces everything in the database {} with the content of {}: stop the server, then run again with --yes",
                    dantoc_store::db::redact_url(&url),
                    file.display()
                );
            }
            let r = dantoc_store::backup::restore(&url, file)
                .map_err(|e| anyhow::anyhow!("restore failed: {e}"))?;
            println!(
                "restored the {} database at {} from {} ({} values, {} audit entries) in {:.1} s",
                r.backend.as_str(),
                r.location,
                file.display(),
                r.values,
                r.audit_entries,
                r.seconds
            );
            if let Some((id, why)) = r.audit_broken {
                eprintln!("warning: the restored audit log is broken at entry {id}: {why}");
            }
        }
        Command::Export { what } => {
            let db = open(&cli)?;
            let n = match what {
                ExportWhat::Values {
                    indicator,
                    unit,
                    children,
                    period,
                    output: o,
                } => {
                    let f = ValueFilter {
                        indicators: indicator.clone(),
                        units: unit.clone(),
                        children: *children,
                        periods: period.clone(),
                        limit: i64::MAX / 2,
                        ..Default::default()
                    };
                    let list = db.read(|c| values::query(c, &f))?;
                    csv_values::write(output(o)?, &list)?;
                    list.len() as u64
                }
                ExportWhat::Units { version, output: o } => {
                    let v: HierarchyVersion = version.parse().map_err(anyhow::Error::msg)?;
                    csv_reference::export_units(&db, v, output(o)?)?
                }
                ExportWhat::Lineage { output: o } => {
                    csv_reference::export_lineage(&db, output(o)?)?
                }
                ExportWhat::EthnicGroups {
                    code_list,
                    output: o,
                } => {
                    let l: CodeList = code_list.parse().map_err(anyhow::Error::msg)?;
                    csv_reference::export_ethnic(&db, l, output(o)?)?
                }
                ExportWhat::Indicators { output: o } => {
                    csv_reference::export_indicators(&db, output(o)?)?
                }
            };
            eprintln!("{n} rows exported");
        }
    }
    Ok(())
}
