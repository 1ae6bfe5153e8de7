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
        #[arg(long)]
        demo: bool,
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
    crate::telemetry::init(config.json_logs);
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
        Command::Seed { demo } => {
            if !demo {
                anyhow::bail!("say which data to seed: --demo");
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

fn parse_role(text: &str) -> anyhow::Result<Role> {
    Role::iter()
        .find(|r| r.to_value() == text.trim().to_ascii_uppercase())
        .with_context(|| {
            let names: Vec<String> = Role::iter().map(|r| r.to_value()).collect();
            format!("unknown role '{text}'; one of {}", names.join(", "))
        })
}
