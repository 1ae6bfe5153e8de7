//! `emulin seed --scale district|small`: a deterministic data set shaped like the real district
//! (streets, communities, compounds, grids and buildings; residents with homes; the party
//! organisation tree and its members; wishes and errands in every state with their event trails;
//! the points ledger those imply), written with multi-row INSERTs in one transaction.
//!
//! Every row obeys the rules the API enforces: statuses agree with the events, claimants are
//! VOLUNTEERs or ACTIVE party members, ledger entries carry the API's own source keys, the
//! contact phones are encrypted. Seeded users have stable openids for `devLogin` (see README).

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
/// today when no day is given, so nothing lies in the future.
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

    let analyze = match db.get_database_backend() {
        DbBackend::Postgres => format!("ANALYZE {}", TABLES.join(", ")),
        _ => "ANALYZE".to_owned(),
    };
    db.execute_unprepared(&analyze).await?;
    clock.lap("analyze");

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

// ---------------------------------------------------------------------------------------------
// Areas and party organisations

struct Street {
    id: i64,
    path: String,
    name: String,
    org: i64,
    admin: i64,
}

struct Community {
    id: i64,
    path: String,
    street: usize,
    name: String,
    org: i64,
    admin: i64,
}

struct Compound {
    id: i64,
    path: String,
    community: usize,
    name: String,
    grids: std::ops::Range<usize>,
    org: Option<i64>,
    steward: i64,
    property: i64,
}

struct Grid {
    id: i64,
    path: String,
    compound: usize,
    name: String,
    branch: Option<i64>,
    worker: i64,
    buildings: std::ops::Range<usize>,
}

struct Building {
    id: i64,
    path: String,
    grid: usize,
    compound: usize,
    name: String,
}

struct District {
    root: i64,
    org_compounds: usize,
    district_org: i64,
    streets: Vec<Street>,
    communities: Vec<Community>,
    compounds: Vec<Compound>,
    grids: Vec<Grid>,
    buildings: Vec<Building>,
}

impl District {
    fn community_of(&self, building: usize) -> usize {
        self.compounds[self.buildings[building].compound].community
    }
}

/// Splits `total` into `parts` near-equal shares.
fn shares(total: usize, parts: usize) -> Vec<usize> {
    (0..parts)
        .map(|i| total / parts + usize::from(i < total % parts))
        .collect()
}

fn plan_areas(shape: &Shape, root: &area::Model, ids: &mut Ids) -> District {
    let mut rng = rng(1);
    let mut district = District {
        root: root.id,
        org_compounds: shape.org_compounds,
        district_org: 0,
        streets: Vec::new(),
        communities: Vec::new(),
        compounds: Vec::new(),
        grids: Vec::new(),
        buildings: Vec::new(),
    };
    for (s, name) in STREETS.iter().cycle().take(shape.streets).enumerate() {
        let id = take(&mut ids.area);
        let name = if s < STREETS.len() {
            (*name).to_owned()
        } else {
            format!("{name}{}", s / STREETS.len() + 1)
        };
        district.streets.push(Street {
            id,
            path: format!("{}{id}/", root.path),
            name,
            org: 0,
            admin: 0,
        });
    }
    let per_street = shares(shape.communities, shape.streets);
    for (s, count) in per_street.iter().enumerate() {
        for _ in 0..*count {
            let i = district.communities.len();
            let j = (i * 7) % (COMMUNITY_A.len() * COMMUNITY_B.len());
            let id = take(&mut ids.area);
            district.communities.push(Community {
                id,
                path: format!("{}{id}/", district.streets[s].path),
                street: s,
                name: format!(
                    "{}{}社区",
                    COMMUNITY_A[j % COMMUNITY_A.len()],
                    COMMUNITY_B[(j / COMMUNITY_A.len()) % COMMUNITY_B.len()]
                ),
                org: 0,
                admin: 0,
            });
        }
    }
    // Buildings per compound vary: everyone gets one, the rest fall where the dice say.
    let mut buildings_of = vec![1usize; shape.compounds];
    for _ in shape.compounds..shape.buildings {
        let c = rng.random_range(0..shape.compounds);
        buildings_of[c] += 1;
    }
    let per_community = shares(shape.compounds, shape.communities);
    let combos = COMPOUND_A.len() * COMPOUND_B.len() * COMPOUND_C.len();
    for (c, count) in per_community.iter().enumerate() {
        for _ in 0..*count {
            let i = district.compounds.len();
            let j = (i * 1013) % combos;
            let ab = COMPOUND_A.len() * COMPOUND_B.len();
            let mut name = format!(
                "{}{}{}",
                COMPOUND_A[j % COMPOUND_A.len()],
                COMPOUND_B[(j / COMPOUND_A.len()) % COMPOUND_B.len()],
                COMPOUND_C[(j / ab) % COMPOUND_C.len()]
            );
            if i >= combos {
                name.push_str(&(i / combos + 1).to_string());
            }
            let id = take(&mut ids.area);
            let path = format!("{}{id}/", district.communities[c].path);
            let n_buildings = buildings_of[i];
            let n_grids = n_buildings.div_ceil(8);
            let first_grid = district.grids.len();
            let mut number = 0;
            for (g, in_grid) in shares(n_buildings, n_grids).into_iter().enumerate() {
                let grid_id = take(&mut ids.area);
                let grid_path = format!("{path}{grid_id}/");
                let first_building = district.buildings.len();
                for _ in 0..in_grid {
                    number += 1;
                    let building_id = take(&mut ids.area);
                    district.buildings.push(Building {
                        id: building_id,
                        path: format!("{grid_path}{building_id}/"),
                        grid: district.grids.len(),
                        compound: i,
                        name: format!("{number}号楼"),
                    });
                }
                district.grids.push(Grid {
                    id: grid_id,
                    path: grid_path,
                    compound: i,
                    name: format!("{name}第{}网格", g + 1),
                    branch: None,
                    worker: 0,
                    buildings: first_building..district.buildings.len(),
                });
            }
            district.compounds.push(Compound {
                id,
                path,
                community: c,
                name,
                grids: first_grid..district.grids.len(),
                org: None,
                steward: 0,
                property: 0,
            });
        }
    }
    district
}

fn area_row(
    id: i64,
    parent: i64,
    kind: AreaKind,
    name: &str,
    path: &str,
    at: DateTime<Utc>,
) -> Vec<Value> {
    vec![
        id.into(),
        Some(parent).into(),
        kind.to_value().into(),
        name.into(),
        path.into(),
        at.into(),
    ]
}

async fn insert_areas(
    txn: &impl ConnectionTrait,
    d: &District,
    root: &area::Model,
    as_of: DateTime<Utc>,
) -> anyhow::Result<u64> {
    use area::Column as C;
    let mut bulk = Bulk::new(
        txn,
        area::Entity,
        [C::Id, C::ParentId, C::Kind, C::Name, C::Path, C::CreatedAt],
    );
    let at = as_of - seconds(800 * DAY);
    for s in &d.streets {
        bulk.push(area_row(
            s.id,
            root.id,
            AreaKind::Street,
            &s.name,
            &s.path,
            at,
        ))
        .await?;
    }
    for c in &d.communities {
        let parent = d.streets[c.street].id;
        bulk.push(area_row(
            c.id,
            parent,
            AreaKind::Community,
            &c.name,
            &c.path,
            at,
        ))
        .await?;
    }
    for c in &d.compounds {
        let parent = d.communities[c.community].id;
        bulk.push(area_row(
            c.id,
            parent,
            AreaKind::Compound,
            &c.name,
            &c.path,
            at,
        ))
        .await?;
    }
    for g in &d.grids {
        let parent = d.compounds[g.compound].id;
        bulk.push(area_row(g.id, parent, AreaKind::Grid, &g.name, &g.path, at))
            .await?;
    }
    for b in &d.buildings {
        let parent = d.grids[b.grid].id;
        bulk.push(area_row(
            b.id,
            parent,
            AreaKind::Building,
            &b.name,
            &b.path,
            at,
        ))
        .await?;
    }
    bulk.finish().await
}

/// The organisation tree: 区委 > 街道党工委 > 社区党委 > 小区党总支 (in the largest compound of
/// every community, then the next largest anywhere) > 网格党支部 (one per grid of those).
async fn insert_orgs(
    txn: &impl ConnectionTrait,
    d: &mut District,
    root: &area::Model,
    ids: &mut Ids,
    as_of: DateTime<Utc>,
) -> anyhow::Result<u64> {
    use party_org::Column as C;
    let mut bulk = Bulk::new(
        txn,
        party_org::Entity,
        [
            C::Id,
            C::ParentId,
            C::AreaId,
            C::Name,
            C::Path,
            C::CreatedAt,
        ],
    );
    let at = as_of - seconds(790 * DAY);
    let row = |id: i64, parent: Option<(i64, &str)>, area: i64, name: String| {
        let path = format!("{}{id}/", parent.map(|(_, p)| p).unwrap_or("/"));
        let values: Vec<Value> = vec![
            id.into(),
            parent.map(|(p, _)| p).into(),
            area.into(),
            name.into(),
            path.clone().into(),
            at.into(),
        ];
        (values, path)
    };
    let district_id = take(&mut ids.party_org);
    d.district_org = district_id;
    let (values, district_path) = row(district_id, None, root.id, format!("{}委", root.name));
    bulk.push(values).await?;
    let mut street_paths = Vec::new();
    for s in &mut d.streets {
        s.org = take(&mut ids.party_org);
        let (values, path) = row(
            s.org,
            Some((district_id, &district_path)),
            s.id,
            format!("{}党工委", s.name),
        );
        bulk.push(values).await?;
        street_paths.push(path);
    }
    let mut community_paths = Vec::new();
    for c in &mut d.communities {
        c.org = take(&mut ids.party_org);
        let parent = d.streets[c.street].org;
        let (values, path) = row(
            c.org,
            Some((parent, &street_paths[c.street])),
            c.id,
            format!("{}党委", c.name),
        );
        bulk.push(values).await?;
        community_paths.push(path);
    }

    let size = |c: &Compound| c.grids.clone().map(|g| d.grids[g].buildings.len()).sum();
    let sizes: Vec<usize> = d.compounds.iter().map(size).collect();
    let mut chosen = vec![false; d.compounds.len()];
    let mut largest: HashMap<usize, usize> = HashMap::new();
    for (i, c) in d.compounds.iter().enumerate() {
        let best = largest.entry(c.community).or_insert(i);
        if sizes[i] > sizes[*best] {
            *best = i;
        }
    }
    for i in largest.values() {
        chosen[*i] = true;
    }
    let mut rest: Vec<usize> = (0..d.compounds.len()).filter(|i| !chosen[*i]).collect();
    rest.sort_by_key(|i| (std::cmp::Reverse(sizes[*i]), *i));
    let extra = d.org_compounds.saturating_sub(largest.len());
    for i in rest.into_iter().take(extra) {
        chosen[i] = true;
    }
    for (i, compound) in d.compounds.iter_mut().enumerate() {
        if !chosen[i] {
            continue;
        }
        let org = take(&mut ids.party_org);
        compound.org = Some(org);
        let parent = d.communities[compound.community].org;
        let (values, path) = row(
            org,
            Some((parent, &community_paths[compound.community])),
            compound.id,
            format!("{}小区党总支", compound.name),
        );
        bulk.push(values).await?;
        for g in compound.grids.clone() {
            let branch = take(&mut ids.party_org);
            let grid = &mut d.grids[g];
            grid.branch = Some(branch);
            let (values, _) = row(
                branch,
                Some((org, &path)),
                grid.id,
                format!("{}党支部", grid.name),
            );
            bulk.push(values).await?;
        }
    }
    bulk.finish().await
}

// ---------------------------------------------------------------------------------------------
// People

struct Member {
    user: i64,
    home: usize,
    org: i64,
    category: MemberCategory,
    status: MemberStatus,
    work_unit: Option<&'static str>,
}

struct Homed {
    user: i64,
    home: usize,
}

struct People {
    district_admin: i64,
    members: Vec<Member>,
    volunteers: Vec<Homed>,
    residents: Vec<Homed>,
}

fn plan_people(shape: &Shape, d: &mut District, ids: &mut Ids) -> People {
    let mut rng = rng(2);
    let district_admin = take(&mut ids.users);
    for s in &mut d.streets {
        s.admin = take(&mut ids.users);
    }
    for c in &mut d.communities {
        c.admin = take(&mut ids.users);
    }
    for c in &mut d.compounds {
        c.steward = take(&mut ids.users);
    }
    for c in &mut d.compounds {
        c.property = take(&mut ids.users);
    }
    for g in &mut d.grids {
        g.worker = take(&mut ids.users);
    }
    let org_buildings: Vec<usize> = (0..d.buildings.len())
        .filter(|b| d.compounds[d.buildings[*b].compound].org.is_some())
        .collect();
    let mut members = Vec::with_capacity(shape.members);
    for k in 0..shape.members {
        let home = org_buildings.choose(&mut rng).copied().unwrap_or(0);
        let building = &d.buildings[home];
        let compound_org = d.compounds[building.compound].org.unwrap_or(d.district_org);
        let org = match d.grids[building.grid].branch {
            Some(branch) if rng.random_bool(0.7) => branch,
            _ => compound_org,
        };
        let (category, status, work_unit) = if k < shape.in_service {
            (
                MemberCategory::InService,
                MemberStatus::Active,
                WORK_UNITS.choose(&mut rng).copied(),
            )
        } else {
            let category = match rng.random_range(0..100) {
                0..55 => MemberCategory::Retired,
                55..70 => MemberCategory::Floating,
                _ => MemberCategory::Unemployed,
            };
            let status = match rng.random_range(0..100) {
                0..90 => MemberStatus::Active,
                90..97 => MemberStatus::Pending,
                _ => MemberStatus::Rejected,
            };
            (category, status, None)
        };
        members.push(Member {
            user: take(&mut ids.users),
            home,
            org,
            category,
            status,
            work_unit,
        });
    }
    let buildings = d.buildings.len();
    let mut homed = |n: usize, rng: &mut ChaCha8Rng| -> Vec<Homed> {
        (0..n)
            .map(|_| Homed {
                user: take(&mut ids.users),
                home: rng.random_range(0..buildings),
            })
            .collect()
    };
    let volunteers = homed(shape.volunteers, &mut rng);
    let residents = homed(
        shape.homed.saturating_sub(shape.members + shape.volunteers),
        &mut rng,
    );
    People {
        district_admin,
        members,
        volunteers,
        residents,
    }
}

fn person_name(rng: &mut ChaCha8Rng) -> String {
    let mut name = String::from(SURNAMES.choose(rng).copied().unwrap_or("王"));
    for _ in 0..rng.random_range(1..=2) {
        name.push_str(GIVEN.choose(rng).copied().unwrap_or("明"));
    }
    name
}

/// Every seeded user in id order, with their openid and home.
fn each_user(d: &District, p: &People) -> Vec<(i64, String, Option<usize>)> {
    let mut all = vec![(p.district_admin, DISTRICT_ADMIN_OPENID.to_owned(), None)];
    all.extend(
        d.streets
            .iter()
            .enumerate()
            .map(|(i, s)| (s.admin, format!("seed-street-admin-{:02}", i + 1), None)),
    );
    all.extend(
        d.communities
            .iter()
            .enumerate()
            .map(|(i, c)| (c.admin, format!("seed-community-admin-{:03}", i + 1), None)),
    );
    all.extend(
        d.compounds
            .iter()
            .enumerate()
            .map(|(i, c)| (c.steward, format!("seed-steward-{:04}", i + 1), None)),
    );
    all.extend(
        d.compounds
            .iter()
            .enumerate()
            .map(|(i, c)| (c.property, format!("seed-property-{:04}", i + 1), None)),
    );
    all.extend(
        d.grids
            .iter()
            .enumerate()
            .map(|(i, g)| (g.worker, format!("seed-grid-{:04}", i + 1), None)),
    );
    all.extend(
        p.members
            .iter()
            .enumerate()
            .map(|(i, m)| (m.user, format!("seed-m-{:06}", i + 1), Some(m.home))),
    );
    all.extend(
        p.volunteers
            .iter()
            .enumerate()
            .map(|(i, v)| (v.user, format!("seed-v-{:06}", i + 1), Some(v.home))),
    );
    all.extend(
        p.residents
            .iter()
            .enumerate()
            .map(|(i, r)| (r.user, format!("seed-r-{:06}", i + 1), Some(r.home))),
    );
    all
}

async fn insert_users(
    txn: &impl ConnectionTrait,
    d: &District,
    p: &People,
    ids: &mut Ids,
    as_of: DateTime<Utc>,
) -> anyhow::Result<(u64, u64)> {
    let mut rng = rng(3);
    let everyone = each_user(d, p);
    let mut joined: HashMap<i64, DateTime<Utc>> = HashMap::with_capacity(everyone.len());
    {
        use users::Column as C;
        let mut bulk = Bulk::new(
            txn,
            users::Entity,
            [
                C::Id,
                C::Openid,
                C::Nickname,
                C::HomeAreaId,
                C::Room,
                C::CreatedAt,
                C::UpdatedAt,
            ],
        );
        for (id, openid, home) in &everyone {
            // Accounts are older than anything their owners did: members were verified at
            // least 393 days before as_of, and no wish or errand began earlier than 380 days.
            let created = as_of - seconds(rng.random_range(430 * DAY..760 * DAY));
            joined.insert(*id, created);
            let room = home.map(|_| {
                format!(
                    "{}-{}{:02}",
                    rng.random_range(1..=4),
                    rng.random_range(1..=18),
                    rng.random_range(1..=4)
                )
            });
            bulk.push(vec![
                (*id).into(),
                openid.as_str().into(),
                person_name(&mut rng).into(),
                home.map(|b| d.buildings[b].id).into(),
                room.into(),
                created.into(),
                created.into(),
            ])
            .await?;
        }
        let users = bulk.finish().await?;

        use role_grant::Column as G;
        let mut grants = Bulk::new(
            txn,
            role_grant::Entity,
            [
                G::Id,
                G::UserId,
                G::Role,
                G::AreaId,
                G::GrantedBy,
                G::CreatedAt,
            ],
        );
        let mut grant = |user: i64, role: Role, area: i64, by: Option<i64>| {
            let at = joined.get(&user).copied().unwrap_or(as_of) + seconds(HOUR);
            vec![
                take(&mut ids.role_grant).into(),
                user.into(),
                role.to_value().into(),
                area.into(),
                by.into(),
                at.into(),
            ]
        };
        let admin = Some(p.district_admin);
        grants
            .push(grant(p.district_admin, Role::DistrictAdmin, d.root, None))
            .await?;
        for s in &d.streets {
            grants
                .push(grant(s.admin, Role::StreetAdmin, s.id, admin))
                .await?;
        }
        for c in &d.communities {
            grants
                .push(grant(c.admin, Role::CommunityAdmin, c.id, admin))
                .await?;
        }
        for c in &d.compounds {
            let by = Some(d.communities[c.community].admin);
            grants
                .push(grant(c.steward, Role::Steward, c.id, by))
                .await?;
            grants
                .push(grant(c.property, Role::PropertyStaff, c.id, by))
                .await?;
        }
        for g in &d.grids {
            let c = &d.compounds[g.compound];
            let by = Some(d.communities[c.community].admin);
            grants
                .push(grant(g.worker, Role::GridWorker, g.id, by))
                .await?;
        }
        // bindHome grants RESIDENT at the home, by the user themself.
        for (user, _, home) in &everyone {
            if let Some(b) = home {
                grants
                    .push(grant(
                        *user,
                        Role::Resident,
                        d.buildings[*b].id,
                        Some(*user),
                    ))
                    .await?;
            }
        }
        for v in &p.volunteers {
            let c = &d.communities[d.community_of(v.home)];
            grants
                .push(grant(v.user, Role::Volunteer, c.id, Some(c.admin)))
                .await?;
        }
        Ok((users, grants.finish().await?))
    }
}

async fn insert_members(
    txn: &impl ConnectionTrait,
    d: &District,
    p: &People,
    as_of: DateTime<Utc>,
) -> anyhow::Result<u64> {
    let mut rng = rng(4);
    use party_member::Column as C;
    let mut bulk = Bulk::new(
        txn,
        party_member::Entity,
        [
            C::UserId,
            C::PartyOrgId,
            C::Category,
            C::WorkUnit,
            C::Status,
            C::VerifiedBy,
            C::VerifiedAt,
            C::CreatedAt,
        ],
    );
    for m in &p.members {
        let created = as_of - seconds(rng.random_range(400 * DAY..420 * DAY));
        let decided = m.status != MemberStatus::Pending;
        let verifier = d.communities[d.community_of(m.home)].admin;
        let verified_at = created + seconds(rng.random_range(HOUR..7 * DAY));
        bulk.push(vec![
            m.user.into(),
            m.org.into(),
            m.category.to_value().into(),
            m.work_unit.map(str::to_owned).into(),
            m.status.to_value().into(),
            decided.then_some(verifier).into(),
            decided.then_some(verified_at).into(),
            created.into(),
        ])
        .await?;
    }
    bulk.finish().await
}

struct Catalogue {
    rows: u64,
    district: Vec<i64>,
    per_street: Vec<Vec<i64>>,
}

async fn insert_catalogue(
    txn: &impl ConnectionTrait,
    d: &District,
    p: &People,
    ids: &mut Ids,
    root: &area::Model,
    as_of: DateTime<Utc>,
) -> anyhow::Result<Catalogue> {
    use service_item::Column as C;
    let mut bulk = Bulk::new(
        txn,
        service_item::Entity,
        [
            C::Id,
            C::AreaId,
            C::Name,
            C::Description,
            C::CreatedBy,
            C::CreatedAt,
        ],
    );
    let at = as_of - seconds(380 * DAY);
    let mut catalogue = Catalogue {
        rows: 0,
        district: Vec::new(),
        per_street: Vec::new(),
    };
    for (name, description) in SERVICE_ITEMS {
        let id = take(&mut ids.service_item);
        catalogue.district.push(id);
        bulk.push(vec![
            id.into(),
            root.id.into(),
            (*name).into(),
            (*description).into(),
            Some(p.district_admin).into(),
            at.into(),
        ])
        .await?;
    }
    for s in &d.streets {
        let mut items = Vec::new();
        for (name, description) in STREET_ITEMS {
            let id = take(&mut ids.service_item);
            items.push(id);
            bulk.push(vec![
                id.into(),
                s.id.into(),
                (*name).into(),
                (*description).into(),
                Some(s.admin).into(),
                at.into(),
            ])
            .await?;
        }
        catalogue.per_street.push(items);
    }
    catalogue.rows = bulk.finish().await?;
    Ok(catalogue)
}

/// Who takes work on, per community: ACTIVE party members living there (in-service members, who
/// are managed by points, several times over) and its volunteers.
struct Pools {
    claimants: Vec<Vec<i64>>,
    volunteers: Vec<Vec<i64>>,
    everyone: Vec<i64>,
}

impl Pools {
    fn build(d: &District, p: &People) -> Self {
        let mut claimants = vec![Vec::new(); d.communities.len()];
        let mut volunteers = vec![Vec::new(); d.communities.len()];
        let mut everyone = Vec::new();
        for m in &p.members {
            if m.status != MemberStatus::Active {
                continue;
            }
            let weight = if m.category == MemberCategory::InService {
                6
            } else {
                1
            };
            let pool = &mut claimants[d.community_of(m.home)];
            pool.extend(std::iter::repeat_n(m.user, weight));
            everyone.push(m.user);
        }
        for v in &p.volunteers {
            let c = d.community_of(v.home);
            claimants[c].extend(std::iter::repeat_n(v.user, 3));
            volunteers[c].push(v.user);
            everyone.push(v.user);
        }
        Self {
            claimants,
            volunteers,
            everyone,
        }
    }

    /// A claimant for work in community `c` other than `not`.
    fn claimant(&self, c: usize, not: Option<i64>, rng: &mut ChaCha8Rng) -> Option<i64> {
        let pool = if self.claimants[c].is_empty() {
            &self.everyone
        } else {
            &self.claimants[c]
        };
        for _ in 0..8 {
            let pick = pool.choose(rng).copied();
            if pick != not {
                return pick;
            }
        }
        self.everyone.iter().copied().find(|u| Some(*u) != not)
    }
}

/// A ledger entry as the API writes it.
struct Entry {
    user: i64,
    delta: i32,
    reason: String,
    action: PointAction,
    source_key: String,
    actor: i64,
    at: DateTime<Utc>,
}

// ---------------------------------------------------------------------------------------------
// Wishes

struct WishStep {
    action: WishAction,
    from: Option<WishStatus>,
    to: WishStatus,
    actor: i64,
    at: DateTime<Utc>,
    note: Option<&'static str>,
}

struct PlannedWish {
    poster: i64,
    area: i64,
    category: &'static str,
    title: &'static str,
    description: String,
    status: WishStatus,
    claimant: Option<i64>,
    steps: Vec<WishStep>,
}

/// One step of a workflow before it is laid out in time: action, from, to, actor, seconds after
/// the previous step, note.
type Link<A, S> = (A, Option<S>, S, i64, i64, Option<&'static str>);

/// Lays a chain of steps out in time so that it ends before `as_of`: the delays between steps
/// are drawn first, then how long before `as_of` (at most `max_age`) the chain began.
fn lay_out(
    rng: &mut ChaCha8Rng,
    delays: &[i64],
    max_age: i64,
    as_of: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let span: i64 = delays.iter().sum();
    let start = as_of - seconds(span + rng.random_range(60..max_age.max(61)));
    let mut at = start;
    let mut times = vec![start];
    for delay in delays {
        at += seconds(*delay);
        times.push(at);
    }
    times
}

fn plan_wish(
    rng: &mut ChaCha8Rng,
    d: &District,
    p: &People,
    pools: &Pools,
    as_of: DateTime<Utc>,
) -> PlannedWish {
    use WishAction as A;
    use WishStatus as S;
    let poster = &p.residents[rng.random_range(0..p.residents.len())];
    let community = d.community_of(poster.home);
    let (category, titles) = WISH_TITLES[rng.random_range(0..WISH_TITLES.len())];
    let title = titles.choose(rng).copied().unwrap_or("帮帮忙");
    let description = format!(
        "{title}。{}",
        WISH_DETAILS.choose(rng).copied().unwrap_or_default()
    );
    let status = match rng.random_range(0..100) {
        0..14 => S::Open,
        14..24 => S::Claimed,
        24..32 => S::Fulfilled,
        32..93 => S::Confirmed,
        _ => S::Cancelled,
    };
    let claimant = match status {
        S::Open | S::Cancelled => None,
        _ => pools.claimant(community, None, rng),
    };
    // Some wishes were claimed once and given back before (or instead of) being taken on.
    let released_by = if status != S::Cancelled && rng.random_bool(0.06) {
        pools.claimant(community, claimant, rng)
    } else {
        None
    };

    let mut chain: Vec<Link<A, S>> = vec![(A::Posted, None, S::Open, poster.user, 0, None)];
    if let Some(first) = released_by {
        chain.push((
            A::Claimed,
            Some(S::Open),
            S::Claimed,
            first,
            rng.random_range(600..72 * HOUR),
            None,
        ));
        let note = rng
            .random_bool(0.5)
            .then(|| RELEASE_NOTES.choose(rng).copied())
            .flatten();
        chain.push((
            A::Released,
            Some(S::Claimed),
            S::Open,
            first,
            rng.random_range(HOUR..48 * HOUR),
            note,
        ));
    }
    if let Some(claimant) = claimant {
        chain.push((
            A::Claimed,
            Some(S::Open),
            S::Claimed,
            claimant,
            rng.random_range(600..72 * HOUR),
            None,
        ));
        if matches!(status, S::Fulfilled | S::Confirmed) {
            let note = rng
                .random_bool(0.6)
                .then(|| FULFIL_NOTES.choose(rng).copied())
                .flatten();
            chain.push((
                A::Fulfilled,
                Some(S::Claimed),
                S::Fulfilled,
                claimant,
                rng.random_range(2 * HOUR..120 * HOUR),
                note,
            ));
        }
        if status == S::Confirmed {
            chain.push((
                A::Confirmed,
                Some(S::Fulfilled),
                S::Confirmed,
                poster.user,
                rng.random_range(600..48 * HOUR),
                None,
            ));
        }
    }
    if status == S::Cancelled {
        chain.push((
            A::Cancelled,
            Some(S::Open),
            S::Cancelled,
            poster.user,
            rng.random_range(HOUR..96 * HOUR),
            None,
        ));
    }
    let max_age = match status {
        S::Open | S::Claimed | S::Fulfilled => 45 * DAY,
        _ => 365 * DAY,
    };
    let delays: Vec<i64> = chain.iter().skip(1).map(|c| c.4).collect();
    let times = lay_out(rng, &delays, max_age, as_of);
    let steps = chain
        .into_iter()
        .zip(times)
        .map(|((action, from, to, actor, _, note), at)| WishStep {
            action,
            from,
            to,
            actor,
            at,
            note,
        })
        .collect();
    PlannedWish {
        poster: poster.user,
        area: d.buildings[poster.home].id,
        category,
        title,
        description,
        status,
        claimant,
        steps,
    }
}

#[allow(clippy::too_many_arguments)]
async fn insert_wishes(
    txn: &impl ConnectionTrait,
    shape: &Shape,
    d: &District,
    p: &People,
    pools: &Pools,
    ids: &mut Ids,
    as_of: DateTime<Utc>,
    points: i32,
    ledger: &mut Vec<Entry>,
) -> anyhow::Result<(u64, u64)> {
    let mut rng = rng(5);
    if p.residents.is_empty() {
        return Ok((0, 0));
    }
    let mut planned: Vec<PlannedWish> = (0..shape.wishes)
        .map(|_| plan_wish(&mut rng, d, p, pools, as_of))
        .collect();
    // Ids follow time, as they do when the API writes the rows.
    planned.sort_by_key(|w| w.steps.first().map(|s| s.at));

    use wish::Column as C;
    let mut bulk = Bulk::new(
        txn,
        wish::Entity,
        [
            C::Id,
            C::PosterId,
            C::AreaId,
            C::Title,
            C::Description,
            C::Category,
            C::Status,
            C::ClaimantId,
            C::NeedsReview,
            C::CreatedAt,
            C::UpdatedAt,
        ],
    );
    let mut events: Vec<(DateTime<Utc>, i64, usize)> = Vec::new();
    let mut wish_ids = Vec::with_capacity(planned.len());
    for (i, w) in planned.iter().enumerate() {
        let id = take(&mut ids.wish);
        wish_ids.push(id);
        let created = w.steps.first().map(|s| s.at).unwrap_or(as_of);
        let updated = w.steps.last().map(|s| s.at).unwrap_or(created);
        bulk.push(vec![
            id.into(),
            w.poster.into(),
            w.area.into(),
            w.title.into(),
            w.description.as_str().into(),
            w.category.into(),
            w.status.to_value().into(),
            w.claimant.into(),
            false.into(),
            created.into(),
            updated.into(),
        ])
        .await?;
        for (s, step) in w.steps.iter().enumerate() {
            events.push((step.at, id, i * 8 + s));
            if step.action == WishAction::Confirmed
                && points != 0
                && let Some(claimant) = w.claimant
            {
                ledger.push(Entry {
                    user: claimant,
                    delta: points,
                    reason: format!("微心愿「{}」", w.title),
                    action: PointAction::WishFulfilled,
                    source_key: format!("wish:{id}:confirm"),
                    actor: step.actor,
                    at: step.at,
                });
            }
        }
    }
    let wishes = bulk.finish().await?;

    events.sort_unstable();
    use wish_event::Column as E;
    let mut bulk = Bulk::new(
        txn,
        wish_event::Entity,
        [
            E::Id,
            E::WishId,
            E::ActorId,
            E::Action,
            E::FromStatus,
            E::ToStatus,
            E::Note,
            E::CreatedAt,
        ],
    );
    for (at, wish_id, key) in events {
        let step = &planned[key / 8].steps[key % 8];
        bulk.push(vec![
            take(&mut ids.wish_event).into(),
            wish_id.into(),
            step.actor.into(),
            step.action.to_value().into(),
            step.from.map(|s| s.to_value()).into(),
            step.to.to_value().into(),
            step.note.map(str::to_owned).into(),
            at.into(),
        ])
        .await?;
    }
    Ok((wishes, bulk.finish().await?))
}

// ---------------------------------------------------------------------------------------------
// Errands

struct OrderStep {
    action: OrderAction,
    from: Option<OrderStatus>,
    to: OrderStatus,
    actor: i64,
    at: DateTime<Utc>,
    note: Option<&'static str>,
}

struct PlannedOrder {
    resident: i64,
    item: i64,
    area: i64,
    description: String,
    phone: String,
    status: OrderStatus,
    steward: Option<i64>,
    assignee: Option<i64>,
    /// The assignee is a volunteer, who earns points for a rated errand (property staff are paid).
    volunteer: bool,
    reject_reason: Option<&'static str>,
    stars: Option<i32>,
    comment: Option<&'static str>,
    steps: Vec<OrderStep>,
}

fn plan_order(
    rng: &mut ChaCha8Rng,
    d: &District,
    p: &People,
    pools: &Pools,
    items: &Catalogue,
    as_of: DateTime<Utc>,
) -> PlannedOrder {
    use OrderAction as A;
    use OrderStatus as S;
    let resident = &p.residents[rng.random_range(0..p.residents.len())];
    let building = &d.buildings[resident.home];
    let compound = &d.compounds[building.compound];
    let community = compound.community;
    let street = d.communities[community].street;
    let offered: Vec<i64> = items
        .district
        .iter()
        .chain(items.per_street.get(street).into_iter().flatten())
        .copied()
        .collect();
    let item = offered.choose(rng).copied().unwrap_or_default();
    let description = ORDER_DETAILS
        .choose(rng)
        .copied()
        .unwrap_or("麻烦尽快处理")
        .to_owned();
    let phone = format!(
        "1{}{:09}",
        ["3", "5", "7", "8", "9"][rng.random_range(0..5)],
        rng.random_range(0..1_000_000_000u64)
    );
    let status = match rng.random_range(0..100) {
        0..6 => S::Placed,
        6..11 => S::Accepted,
        11..17 => S::Dispatched,
        17..25 => S::Completed,
        25..83 => S::Rated,
        83..92 => S::Cancelled,
        _ => S::Rejected,
    };
    let handler = if rng.random_bool(0.8) {
        compound.steward
    } else {
        d.grids[building.grid].worker
    };
    let cancelled_after_accept = status == S::Cancelled && rng.random_bool(0.5);
    let accepted = matches!(
        status,
        S::Accepted | S::Dispatched | S::Completed | S::Rated
    ) || cancelled_after_accept;
    let dispatched = matches!(status, S::Dispatched | S::Completed | S::Rated);
    let volunteer_pick = pools.volunteers[community].choose(rng).copied();
    let (assignee, volunteer) = match volunteer_pick {
        Some(v) if dispatched && rng.random_bool(0.4) => (Some(v), true),
        _ if dispatched => (Some(compound.property), false),
        _ => (None, false),
    };

    let mut chain: Vec<Link<A, S>> = vec![(A::Placed, None, S::Placed, resident.user, 0, None)];
    let mut reject_reason = None;
    let mut stars = None;
    let mut comment = None;
    if status == S::Rejected {
        reject_reason = REJECT_REASONS.choose(rng).copied();
        chain.push((
            A::Rejected,
            Some(S::Placed),
            S::Rejected,
            handler,
            rng.random_range(600..24 * HOUR),
            reject_reason,
        ));
    }
    if accepted {
        chain.push((
            A::Accepted,
            Some(S::Placed),
            S::Accepted,
            handler,
            rng.random_range(600..24 * HOUR),
            None,
        ));
    }
    if status == S::Cancelled {
        let from = if cancelled_after_accept {
            S::Accepted
        } else {
            S::Placed
        };
        chain.push((
            A::Cancelled,
            Some(from),
            S::Cancelled,
            resident.user,
            rng.random_range(600..48 * HOUR),
            None,
        ));
    }
    if let Some(assignee) = assignee {
        chain.push((
            A::Dispatched,
            Some(S::Accepted),
            S::Dispatched,
            handler,
            rng.random_range(600..24 * HOUR),
            None,
        ));
        if matches!(status, S::Completed | S::Rated) {
            let note = rng
                .random_bool(0.5)
                .then(|| COMPLETE_NOTES.choose(rng).copied())
                .flatten();
            chain.push((
                A::Completed,
                Some(S::Dispatched),
                S::Completed,
                assignee,
                rng.random_range(HOUR..72 * HOUR),
                note,
            ));
        }
        if status == S::Rated {
            stars = Some(match rng.random_range(0..100) {
                0..3 => 2,
                3..12 => 3,
                12..40 => 4,
                _ => 5,
            });
            comment = rng
                .random_bool(0.5)
                .then(|| RATING_COMMENTS.choose(rng).copied())
                .flatten();
            chain.push((
                A::Rated,
                Some(S::Completed),
                S::Rated,
                resident.user,
                rng.random_range(HOUR..72 * HOUR),
                comment,
            ));
        }
    }
    let max_age = match status {
        S::Placed | S::Accepted | S::Dispatched | S::Completed => 14 * DAY,
        _ => 365 * DAY,
    };
    let delays: Vec<i64> = chain.iter().skip(1).map(|c| c.4).collect();
    let times = lay_out(rng, &delays, max_age, as_of);
    PlannedOrder {
        resident: resident.user,
        item,
        area: building.id,
        description,
        phone,
        status,
        steward: accepted.then_some(handler),
        assignee,
        volunteer,
        reject_reason,
        stars,
        comment,
        steps: chain
            .into_iter()
            .zip(times)
            .map(|((action, from, to, actor, _, note), at)| OrderStep {
                action,
                from,
                to,
                actor,
                at,
                note,
            })
            .collect(),
    }
}

/// A nonce that depends only on what is sealed, so equal runs give equal rows and one nonce
/// never seals two different texts.
fn nonce_for(order_id: i64, phone: &str) -> [u8; NONCE_LEN] {
    let digest = Sha256::digest(format!("emulin-seed:contact_phone:{order_id}:{phone}"));
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&digest[..NONCE_LEN]);
    nonce
}

#[allow(clippy::too_many_arguments)]
async fn insert_orders(
    txn: &impl ConnectionTrait,
    shape: &Shape,
    d: &District,
    p: &People,
    pools: &Pools,
    items: &Catalogue,
    ids: &mut Ids,
    as_of: DateTime<Utc>,
    cipher: &FieldCipher,
    points: i32,
    ledger: &mut Vec<Entry>,
) -> anyhow::Result<(u64, u64)> {
    let mut rng = rng(6);
    if p.residents.is_empty() {
        return Ok((0, 0));
    }
    let mut planned: Vec<PlannedOrder> = (0..shape.orders)
        .map(|_| plan_order(&mut rng, d, p, pools, items, as_of))
        .collect();
    planned.sort_by_key(|o| o.steps.first().map(|s| s.at));

    use service_order::Column as C;
    let mut bulk = Bulk::new(
        txn,
        service_order::Entity,
        [
            C::Id,
            C::ResidentId,
            C::ServiceItemId,
            C::AreaId,
            C::Description,
            C::ContactPhone,
            C::ContactPhoneMasked,
            C::Status,
            C::StewardId,
            C::AssigneeId,
            C::RejectReason,
            C::RatingStars,
            C::RatingComment,
            C::NeedsReview,
            C::CreatedAt,
            C::UpdatedAt,
        ],
    );
    let mut events: Vec<(DateTime<Utc>, i64, usize)> = Vec::new();
    for (i, o) in planned.iter().enumerate() {
        let id = take(&mut ids.service_order);
        let created = o.steps.first().map(|s| s.at).unwrap_or(as_of);
        let updated = o.steps.last().map(|s| s.at).unwrap_or(created);
        let sealed = cipher
            .encrypt_with_nonce(&o.phone, nonce_for(id, &o.phone))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        bulk.push(vec![
            id.into(),
            o.resident.into(),
            o.item.into(),
            o.area.into(),
            o.description.as_str().into(),
            sealed.into(),
            entity::context::mask_phone(&o.phone).into(),
            o.status.to_value().into(),
            o.steward.into(),
            o.assignee.into(),
            o.reject_reason.map(str::to_owned).into(),
            o.stars.into(),
            o.comment.map(str::to_owned).into(),
            false.into(),
            created.into(),
            updated.into(),
        ])
        .await?;
        for (s, step) in o.steps.iter().enumerate() {
            events.push((step.at, id, i * 8 + s));
            if step.action == OrderAction::Rated
                && o.volunteer
                && points != 0
                && let Some(assignee) = o.assignee
            {
                ledger.push(Entry {
                    user: assignee,
                    delta: points,
                    reason: "帮办代办评单".to_owned(),
                    action: PointAction::OrderCompleted,
                    source_key: format!("order:{id}:rated"),
                    actor: step.actor,
                    at: step.at,
                });
            }
        }
    }
    let orders = bulk.finish().await?;

    events.sort_unstable();
    use order_event::Column as E;
    let mut bulk = Bulk::new(
        txn,
        order_event::Entity,
        [
            E::Id,
            E::OrderId,
            E::ActorId,
            E::Action,
            E::FromStatus,
            E::ToStatus,
            E::Note,
            E::CreatedAt,
        ],
    );
    for (at, order_id, key) in events {
        let step = &planned[key / 8].steps[key % 8];
        bulk.push(vec![
            take(&mut ids.order_event).into(),
            order_id.into(),
            step.actor.into(),
            step.action.to_value().into(),
            step.from.map(|s| s.to_value()).into(),
            step.to.to_value().into(),
            step.note.map(str::to_owned).into(),
            at.into(),
        ])
        .await?;
    }
    Ok((orders, bulk.finish().await?))
}

async fn insert_ledger(
    txn: &impl ConnectionTrait,
    mut ledger: Vec<Entry>,
    ids: &mut Ids,
) -> anyhow::Result<u64> {
    ledger.sort_by(|a, b| (a.at, a.user, &a.source_key).cmp(&(b.at, b.user, &b.source_key)));
    use point_entry::Column as C;
    let mut bulk = Bulk::new(
        txn,
        point_entry::Entity,
        [
            C::Id,
            C::UserId,
            C::Delta,
            C::Reason,
            C::Action,
            C::SourceKey,
            C::ActorId,
            C::CreatedAt,
        ],
    );
    for e in ledger {
        bulk.push(vec![
            take(&mut ids.point_entry).into(),
            e.user.into(),
            e.delta.into(),
            e.reason.into(),
            e.action.to_value().into(),
            e.source_key.into(),
            Some(e.actor).into(),
            e.at.into(),
        ])
        .await?;
    }
    bulk.finish().await
}
