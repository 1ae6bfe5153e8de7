//! The `emulin` command line.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use entity::role_grant::Role;
use sea_orm::{ActiveEnum, Iterable};

use crate::config::Config;
use crate::{App, db, identity, org, seed};

#[derive(Parser)]
#[command(
    name = "emulin",
    version,
    about = "Backend of the e睦邻 neighbourhood-governance mini-program"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL).
    ExportSchema,
    /// Administrative tasks.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Points and leaderboards.
    Points {
        #[command(subcommand)]
        command: PointsCommand,
    },
    /// Fill the database with sample data.
    Seed {
        /// The small demo district (streets, communities, compounds, a few users).
        #[arg(long, conflicts_with = "scale")]
        demo: bool,
        /// A deterministic data set shaped like the whole district (`district`) or a quick
        /// version of it (`small`), into a freshly migrated database.
        #[arg(long, value_enum)]
        scale: Option<seed::Scale>,
        /// The last day of the seeded history (YYYY-MM-DD, Asia/Shanghai); yesterday when
        /// omitted. The same scale and day give the same rows.
        #[arg(long, requires = "scale")]
        as_of: Option<chrono::NaiveDate>,
    },
}

#[derive(Subcommand)]
enum PointsCommand {
    /// Recompute every leaderboard from the points ledger (after Redis lost its data, or was
    /// down while points were awarded).
    Rebuild,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Grant a role to a user, creating the user if they never signed in.
    Grant {
        #[arg(long)]
        openid: String,
        /// One of RESIDENT VOLUNTEER BUILDING_LEADER GRID_WORKER STEWARD PROPERTY_STAFF
        /// COMMUNITY_ADMIN STREET_ADMIN DISTRICT_ADMIN.
        #[arg(long)]
        role: String,
        /// Area id; the district root when omitted.
        #[arg(long)]
        area: Option<i64>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("emulin: {err}");
            return ExitCode::from(2);
        }
    };
    let _logs = crate::telemetry::init(config.json_logs);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("emulin: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("emulin: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let app = App::build(config).await?;
            app.serve(crate::shutdown_signal()).await
        }
        Command::Migrate => {
            let conn = db::connect(&config.database_url).await?;
            db::migrate(&conn).await?;
            db::ensure_root_area(&conn, &config.district_name).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::ExportSchema => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
        Command::Admin {
            command: AdminCommand::Grant { openid, role, area },
        } => {
            let role = parse_role(&role)?;
            let conn = db::connect(&config.database_url).await?;
            db::migrate(&conn).await?;
            let root = db::ensure_root_area(&conn, &config.district_name).await?;
            let area_id = area.unwrap_or(root.id);
            let area = org::find_area(&conn, area_id)
                .await
                .with_context(|| format!("area {area_id}"))?;
            let user = identity::find_or_create_user(&conn, &openid).await?;
            org::grant(&conn, user.id, role, area.id, None).await?;
            println!(
                "granted {} at {} ({}) to user {} ({openid})",
                role.to_value(),
                area.name,
                area.id,
                user.id
            );
            Ok(())
        }
        Command::Points {
            command: PointsCommand::Rebuild,
        } => {
            let conn = db::connect(&config.database_url).await?;
            db::migrate(&conn).await?;
            let store =
                crate::store::connect(config.redis_url.as_deref(), &config.redis_key_prefix)
                    .await?;
            if store.kind() == "memory" {
                anyhow::bail!(
                    "REDIS_URL is not set: the boards live in the server process, which rebuilds them at start"
                );
            }
            let started = std::time::Instant::now();
            let boards = crate::points::boards::rebuild(&conn, store.as_ref()).await?;
            println!("rebuilt {boards} leaderboards in {:.2?}", started.elapsed());
            Ok(())
        }
        Command::Seed {
            scale: Some(scale),
            as_of,
            ..
        } => seed_scale(&config, scale, as_of).await,
        Command::Seed { demo, .. } => {
            if !demo {
                anyhow::bail!("say which data to seed: --demo or --scale district|small");
            }
            let conn = db::connect(&config.database_url).await?;
            db::migrate(&conn).await?;
            let root = db::ensure_root_area(&conn, &config.district_name).await?;
            if seed::seed_demo(&conn, &root).await? {
                println!("demo district seeded");
            } else {
                println!("demo district already present");
            }
            Ok(())
        }
    }
}

async fn seed_scale(
    config: &Config,
    scale: seed::Scale,
    as_of: Option<chrono::NaiveDate>,
) -> anyhow::Result<()> {
    let conn = db::connect(&config.database_url).await?;
    db::migrate(&conn).await?;
    let root = db::ensure_root_area(&conn, &config.district_name).await?;
    seed::scale::ensure_empty(&conn).await?;
    let as_of = seed::scale::day_end(as_of);
    let store = match config.redis_url.as_deref() {
        Some(url) => Some(crate::store::connect(Some(url), &config.redis_key_prefix).await?),
        None => None,
    };
    let cipher = crate::crypto::FieldCipher::new(&config.data_key);
    println!(
        "seeding the {} scale into {} (history up to {as_of})",
        match scale {
            seed::Scale::District => "district",
            seed::Scale::Small => "small",
        },
        if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
            "PostgreSQL"
        } else {
            "SQLite"
        },
    );
    let report = seed::seed_scale(&conn, &root, scale, as_of, &cipher, store.as_deref()).await?;
    println!("rows:");
    for (table, rows) in &report.rows {
        println!("  {table:<16} {rows:>10}");
    }
    println!("phases:");
    for (phase, took) in &report.phases {
        println!("  {phase:<36} {:>8.2}s", took.as_secs_f64());
    }
    match report.boards {
        Some(boards) => println!("leaderboards: {boards} rebuilt from the ledger"),
        None => println!("leaderboards: REDIS_URL is not set; the server builds them at start"),
    }
    println!("done in {:.2}s", report.total.as_secs_f64());
    Ok(())
}

fn parse_role(text: &str) -> anyhow::Result<Role> {
    Role::iter()
        .find(|r| r.to_value() == text.trim().to_ascii_uppercase())
        .with_context(|| {
            let names: Vec<String> = Role::iter().map(|r| r.to_value()).collect();
            format!("unknown role '{text}'; one of {}", names.join(", "))
        })
}
