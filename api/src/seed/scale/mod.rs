//! `emulin seed --scale district|small`: a deterministic data set shaped like the real district
//! (streets, communities, compounds, grids and buildings; residents with homes; the party
//! organisation tree and its members; wishes and errands in every state with their event trails;
//! the points ledger those imply), written with multi-row INSERTs in one transaction.
//!
//! Every row obeys the rules the API enforces: statuses agree with the events, claimants are
//! VOLUNTEERs or ACTIVE party members, ledger entries carry the API's own source keys, the
//! contact phones are encrypted. Seeded users have stable openids for `devLogin` (see README).

mod areas;
mod people;
mod work;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use entity::area::{self, AreaKind};
use entity::order_event::OrderAction;
use entity::party_member::{MemberCategory, MemberStatus};
use entity::point_entry::PointAction;
use entity::role_grant::Role;
use entity::service_order::OrderStatus;
use entity::wish::WishStatus;
use entity::wish_event::WishAction;
use entity::{
    order_event, party_member, party_org, point_entry, role_grant, service_item, service_order,
    users, wish, wish_event,
};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sea_orm::sea_query::Value;
use sea_orm::{
    ActiveEnum, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect, TransactionTrait,
};
use sha2::{Digest, Sha256};

use self::areas::*;
use self::people::*;
use self::work::*;
use super::bulk::{Bulk, reset_sequences, restore_indexes, set_indexes_aside};
use super::names::*;
use crate::crypto::{FieldCipher, NONCE_LEN};
use crate::points;
use crate::store::Store;

/// The openid of the seeded district admin; its presence means the database was seeded.
pub const DISTRICT_ADMIN_OPENID: &str = "seed-district-admin";

/// Changing it changes every generated row.
const SEED: u64 = 0x656d_756c_696e; // "emulin"

/// The tables the load writes, parents first.
const TABLES: &[&str] = &[
    "area",
    "party_org",
    "users",
    "role_grant",
    "party_member",
    "service_item",
    "wish",
    "wish_event",
    "service_order",
    "order_event",
    "point_entry",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    /// The reference district: 950,000 residents, 49,000 party members, 100,000 wishes.
    District,
    /// A quick version for tests: 2,000 residents, 200 party members, 600 wishes.
    Small,
}

/// How many of each thing a scale makes.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub streets: usize,
    pub communities: usize,
    pub compounds: usize,
    pub buildings: usize,
    /// Compounds with their own party organisation (and a branch per grid).
    pub org_compounds: usize,
    /// People with a home: party members, volunteers and the other residents.
    pub homed: usize,
    pub members: usize,
    /// The first `in_service` members (seed-m-000001 on) are ACTIVE in-service members.
    pub in_service: usize,
    pub volunteers: usize,
    pub wishes: usize,
    pub orders: usize,
}

impl Scale {
    pub fn shape(self) -> Shape {
        match self {
            Scale::District => Shape {
                streets: 10,
                communities: 138,
                compounds: 692,
                buildings: 4_000,
                org_compounds: 186,
                homed: 950_000,
                members: 49_000,
                in_service: 5_500,
                volunteers: 6_000,
                wishes: 100_000,
                orders: 29_000,
            },
            Scale::Small => Shape {
                streets: 2,
                communities: 4,
                compounds: 8,
                buildings: 40,
                org_compounds: 4,
                homed: 2_000,
                members: 200,
                in_service: 40,
                volunteers: 40,
                wishes: 600,
                orders: 200,
            },
        }
    }
}

/// What a run made and how long each phase took.
#[derive(Debug, Default)]
pub struct SeedReport {
    pub rows: Vec<(&'static str, u64)>,
    pub phases: Vec<(&'static str, Duration)>,
    /// Leaderboards written; None when there was no shared store to write them to.
    pub boards: Option<usize>,
    pub total: Duration,
}

impl SeedReport {
    pub fn rows_of(&self, table: &str) -> u64 {
        self.rows
            .iter()
            .find(|(t, _)| *t == table)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    }
}

struct Clock {
    started: Instant,
    phase: Instant,
    report: SeedReport,
}

impl Clock {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            phase: Instant::now(),
            report: SeedReport::default(),
        }
    }

    fn lap(&mut self, phase: &'static str) {
        let took = self.phase.elapsed();
        tracing::debug!(phase, took = ?took, "seed phase done");
        self.report.phases.push((phase, took));
        self.phase = Instant::now();
    }

    fn rows(&mut self, table: &'static str, n: u64) {
        self.report.rows.push((table, n));
    }
}

/// Refuses unless the database holds nothing but what the migrations create: seeding over real
/// or previously seeded data would mix the two and break the id and name assumptions.
pub async fn ensure_empty(db: &DatabaseConnection) -> anyhow::Result<()> {
    let seeded = users::Entity::find()
        .filter(users::Column::Openid.eq(DISTRICT_ADMIN_OPENID))
        .count(db)
        .await?;
    if seeded > 0 {
        anyhow::bail!(
            "this database already holds seeded data ({DISTRICT_ADMIN_OPENID} exists); \
             seed a freshly migrated database instead"
        );
    }
    let users = users::Entity::find().count(db).await?;
    let areas = area::Entity::find().count(db).await?;
    if users > 0 || areas > 1 {
        anyhow::bail!(
            "this database is not empty ({users} users, {areas} areas); \
             `seed --scale` fills only a freshly migrated database"
        );
    }
    Ok(())
}

/// The end of the seeded history: midnight at the end of `day` (Asia/Shanghai), or the start of
/// today (the end of yesterday) when no day is given, so nothing lies in the future.
pub fn day_end(day: Option<chrono::NaiveDate>) -> DateTime<Utc> {
    let tz = points::ledger::local_offset();
    let start_of_today = points::ledger::period_starts(Utc::now()).0;
    day.and_then(|d| d.succ_opt())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| t.and_local_timezone(tz).single())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(start_of_today)
}

/// Seeds `scale` under the district `root`. History ends at `as_of`; the same scale and `as_of`
/// give the same rows on every run. With a `store` the leaderboards are rebuilt from the new
/// ledger; without one the server builds them at its next start.
pub async fn seed_scale(
    db: &DatabaseConnection,
    root: &area::Model,
    scale: Scale,
    as_of: DateTime<Utc>,
    cipher: &FieldCipher,
    store: Option<&dyn Store>,
) -> anyhow::Result<SeedReport> {
    ensure_empty(db).await?;
    let shape = scale.shape();
    let mut clock = Clock::new();
    let wish_points = points::ledger::rule_points(db, PointAction::WishFulfilled).await?;
    let order_points = points::ledger::rule_points(db, PointAction::OrderCompleted).await?;

    let txn = db.begin().await?;
    let aside = set_indexes_aside(&txn, TABLES).await?;
    clock.lap("set secondary indexes aside");

    let mut ids = Ids::start(&txn).await?;
    let mut district = plan_areas(&shape, root, &mut ids);
    let areas = insert_areas(&txn, &district, root, as_of).await?;
    let orgs = insert_orgs(&txn, &mut district, root, &mut ids, as_of).await?;
    clock.rows("area", areas);
    clock.rows("party_org", orgs);
    clock.lap("areas and party organisations");

    let people = plan_people(&shape, &mut district, &mut ids);
    let (user_rows, grant_rows) = insert_users(&txn, &district, &people, &mut ids, as_of).await?;
    clock.rows("users", user_rows);
    clock.rows("role_grant", grant_rows);
    clock.lap("users and roles");

    let member_rows = insert_members(&txn, &district, &people, as_of).await?;
    clock.rows("party_member", member_rows);
    let items = insert_catalogue(&txn, &district, &people, &mut ids, root, as_of).await?;
    clock.rows("service_item", items.rows);
    clock.lap("party members and catalogue");

    let pools = Pools::build(&district, &people);
    let mut ledger = Vec::new();
    let (wishes, wish_events) = insert_wishes(
        &txn,
        &shape,
        &district,
        &people,
        &pools,
        &mut ids,
        as_of,
        wish_points,
        &mut ledger,
    )
    .await?;
    clock.rows("wish", wishes);
    clock.rows("wish_event", wish_events);
    clock.lap("wishes and events");

    let (orders, order_events) = insert_orders(
        &txn,
        &shape,
        &district,
        &people,
        &pools,
        &items,
        &mut ids,
        as_of,
        cipher,
        order_points,
        &mut ledger,
    )
    .await?;
    clock.rows("service_order", orders);
    clock.rows("order_event", order_events);
    clock.lap("errands and events");

    let entries = insert_ledger(&txn, ledger, &mut ids).await?;
    clock.rows("point_entry", entries);
    clock.lap("points ledger");

    restore_indexes(&txn, &aside).await?;
    clock.lap("rebuild secondary indexes");
    reset_sequences(&txn, TABLES).await?;
    txn.commit().await?;
    clock.lap("commit");

    // VACUUM as well on PostgreSQL: it marks the freshly loaded pages all-visible, so counts
    // over an index (a community's wishes) read the index alone instead of the table.
    let analyze = match db.get_database_backend() {
        DbBackend::Postgres => format!("VACUUM ANALYZE {}", TABLES.join(", ")),
        _ => "ANALYZE".to_owned(),
    };
    db.execute_unprepared(&analyze).await?;
    clock.lap("vacuum and analyze");

    if let Some(store) = store {
        clock.report.boards = Some(points::boards::rebuild(db, store).await?);
        clock.lap("leaderboards");
    }
    clock.report.total = clock.started.elapsed();
    Ok(clock.report)
}

/// The next free id of every table, learned once so rows can be numbered in Rust.
struct Ids {
    area: i64,
    party_org: i64,
    users: i64,
    role_grant: i64,
    service_item: i64,
    wish: i64,
    wish_event: i64,
    service_order: i64,
    order_event: i64,
    point_entry: i64,
}

async fn next_id<E: EntityTrait>(db: &impl ConnectionTrait, id: E::Column) -> anyhow::Result<i64> {
    let max: Option<Option<i64>> = E::find()
        .select_only()
        .column_as(id.max(), "max")
        .into_tuple()
        .one(db)
        .await?;
    Ok(max.flatten().unwrap_or(0) + 1)
}

impl Ids {
    async fn start(db: &impl ConnectionTrait) -> anyhow::Result<Self> {
        Ok(Self {
            area: next_id::<area::Entity>(db, area::Column::Id).await?,
            party_org: next_id::<party_org::Entity>(db, party_org::Column::Id).await?,
            users: next_id::<users::Entity>(db, users::Column::Id).await?,
            role_grant: next_id::<role_grant::Entity>(db, role_grant::Column::Id).await?,
            service_item: next_id::<service_item::Entity>(db, service_item::Column::Id).await?,
            wish: next_id::<wish::Entity>(db, wish::Column::Id).await?,
            wish_event: next_id::<wish_event::Entity>(db, wish_event::Column::Id).await?,
            service_order: next_id::<service_order::Entity>(db, service_order::Column::Id).await?,
            order_event: next_id::<order_event::Entity>(db, order_event::Column::Id).await?,
            point_entry: next_id::<point_entry::Entity>(db, point_entry::Column::Id).await?,
        })
    }
}

fn take(counter: &mut i64) -> i64 {
    let id = *counter;
    *counter += 1;
    id
}

/// One generator per phase, so a change in one phase leaves the others' rows as they were.
fn rng(phase: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(SEED ^ phase.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

fn seconds(n: i64) -> chrono::TimeDelta {
    chrono::TimeDelta::seconds(n)
}

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;
