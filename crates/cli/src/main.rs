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
        /// Bearer token that authorises API writes (required to accept writes beyond localhost).
        #[arg(long, env = "DANTOC_API_TOKEN", hide_env_values = true)]
        api_token: Option<String>,
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
    /// Villages: columns commune_code,code,name[,type,version].
    Villages { file: PathBuf },
    /// Lineage weights for split communes: columns old_code,new_code,weight.
    LineageWeights { file: PathBuf },
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
        api_token: std::env::var("DANTOC_API_TOKEN")
            .ok()
            .filter(|t| !t.is_empty()),
    });
    match &command {
        Command::Serve {
            bind,
            demo,
            no_demo,
            api_token,
        } => {
            let started = std::time::Instant::now();
            let db = open(&cli)?;
            let load_demo = *demo || (!*no_demo && db.backend() == Backend::Sqlite);
            if load_demo && dantoc_store::demo::load(&db)? {
                tracing::info!(
                    "demo provinces loaded (Quảng Ninh, Cao Bằng, Thái Nguyên with Bắc Kạn)"
                );
            }
            if !bind.ip().is_loopback() && api_token.is_none() {
                tracing::warn!(
                    "listening beyond localhost without DANTOC_API_TOKEN: API writes will be refused"
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
                    api_token: api_token.clone(),
                };
                dantoc_web::serve_on(listener, db, config).await?;
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
                ImportWhat::Indicators { file } => {
                    let f = File::open(file)
                        .with_context(|| format!("cannot open {}", file.display()))?;
                    let c = csv_reference::import_indicators(&db, &actor, f)
                        .map_err(|e| refuse(file, e))?;
                    println!("indicators: {} created, {} updated", c.created, c.updated);
                }
                ImportWhat::Villages { file } => {
                    let f = File::open(file)
                        .with_context(|| format!("cannot open {}", file.display()))?;
                    let c = csv_reference::import_villages(&db, &actor, f)
                        .map_err(|e| refuse(file, e))?;
                    println!("villages: {} created", c.created);
                }
                ImportWhat::LineageWeights { file } => {
                    let f = File::open(file)
                        .with_context(|| format!("cannot open {}", file.display()))?;
                    let c = csv_reference::import_weights(&db, &actor, f)
                        .map_err(|e| refuse(file, e))?;
                    println!("lineage weights: {} links updated", c.updated);
                }
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
