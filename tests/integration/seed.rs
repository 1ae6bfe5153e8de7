//! `emulin seed --scale small` through the function the command line calls: exact counts, the
//! API's rules held by every row, identical rows on every run, leaderboards equal to the ledger,
//! seeded users signing in, and a second seed refused.

use api::crypto::FieldCipher;
use api::points::boards::{self, Period, Scope};
use api::seed::{Scale, SeedReport, seed_scale};
use api::store::DynStore;
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::json;

use crate::helpers::{TestApp, TestDb, data, fresh_database, redis_url};

/// The development DATA_KEY, which the test servers use too.
const DATA_KEY: &[u8] = b"emulin-development-data-key";

fn as_of() -> DateTime<Utc> {
    api::seed::scale::day_end(NaiveDate::from_ymd_opt(2026, 10, 31))
}

struct Seeded {
    _database: TestDb,
    url: String,
    db: DatabaseConnection,
    store: DynStore,
    root: i64,
    report: SeedReport,
}

async fn migrated(database: &TestDb) -> (DatabaseConnection, entity::area::Model) {
    let db = api::db::connect(&database.url).await.unwrap();
    api::db::migrate(&db).await.unwrap();
    let root = api::db::ensure_root_area(&db, "万柏林区").await.unwrap();
    (db, root)
}

async fn store() -> DynStore {
    let prefix = format!("emulin-test:seed:{:016x}:", rand::random::<u64>());
    api::store::connect(redis_url().as_deref(), &prefix)
        .await
        .unwrap()
}

async fn seed_small() -> Seeded {
    let database = fresh_database().await;
    let (db, root) = migrated(&database).await;
    let store = store().await;
    let report = seed_scale(
        &db,
        &root,
        Scale::Small,
        as_of(),
        &FieldCipher::new(DATA_KEY),
        Some(store.as_ref()),
    )
    .await
    .unwrap();
    Seeded {
        url: database.url.clone(),
        _database: database,
        db,
        store,
        root: root.id,
        report,
    }
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn count(db: &DatabaseConnection, table: &str) -> i64 {
    scalar(db, &format!("SELECT COUNT(*) FROM {table}")).await
}

/// Every table the seed writes, with its exact row count at the small scale.
const SMALL_COUNTS: &[(&str, i64)] = &[
    ("area", 1 + 2 + 4 + 8 + 8 + 40),
    ("party_org", 1 + 2 + 4 + 4 + 4),
    ("users", 1 + 2 + 4 + 8 + 8 + 8 + 2_000),
    ("role_grant", 1 + 2 + 4 + 8 + 8 + 8 + 2_000 + 40),
    ("party_member", 200),
    ("service_item", 8 + 2 * 2),
    ("wish", 600),
    ("wish_event", 1_916),
    ("service_order", 200),
    ("order_event", 827),
    ("point_entry", 407),
];

#[tokio::test]
async fn small_scale_counts_and_rules() {
    let s = seed_small().await;
    let db = &s.db;
    for (table, expected) in SMALL_COUNTS {
        assert_eq!(count(db, table).await, *expected, "rows in {table}");
        // The district's root area comes from the migration, not the seed.
        let before = i64::from(*table == "area");
        assert_eq!(
            s.report.rows_of(table) as i64,
            *expected - before,
            "reported rows of {table}"
        );
    }
    let in_service = scalar(
        db,
        "SELECT COUNT(*) FROM party_member WHERE category = 'IN_SERVICE' AND status = 'ACTIVE'",
    )
    .await;
    assert_eq!(in_service, 40);

    // Claimant set exactly when the status needs one.
    let wrong_claimant = scalar(
        db,
        "SELECT COUNT(*) FROM wish WHERE (status IN ('CLAIMED','FULFILLED','CONFIRMED')) \
         <> (claimant_id IS NOT NULL)",
    )
    .await;
    assert_eq!(wrong_claimant, 0);
    // Claimants are VOLUNTEERs or ACTIVE party members, never the poster.
    let bad_claimants = scalar(
        db,
        "SELECT COUNT(*) FROM wish w WHERE w.claimant_id IS NOT NULL AND (w.claimant_id = w.poster_id OR (\
           NOT EXISTS (SELECT 1 FROM role_grant g WHERE g.user_id = w.claimant_id AND g.role = 'VOLUNTEER') \
           AND NOT EXISTS (SELECT 1 FROM party_member m WHERE m.user_id = w.claimant_id AND m.status = 'ACTIVE')))",
    )
    .await;
    assert_eq!(bad_claimants, 0);
    // The newest event of every wish and errand leads to its status.
    for (table, events, key) in [
        ("wish", "wish_event", "wish_id"),
        ("service_order", "order_event", "order_id"),
    ] {
        let disagreeing = scalar(
            db,
            &format!(
                "SELECT COUNT(*) FROM {table} t WHERE t.status <> (SELECT e.to_status FROM {events} e \
                 WHERE e.{key} = t.id ORDER BY e.id DESC LIMIT 1)"
            ),
        )
        .await;
        assert_eq!(disagreeing, 0, "{table} status vs {events}");
        let posted = scalar(
            db,
            &format!(
                "SELECT COUNT(*) FROM {table} t WHERE (SELECT e.from_status FROM {events} e \
                 WHERE e.{key} = t.id ORDER BY e.id LIMIT 1) IS NOT NULL"
            ),
        )
        .await;
        assert_eq!(posted, 0, "{table}: the first event starts from nothing");
    }
    // Errands: steward from acceptance on, assignee from dispatch on, stars when rated.
    let bad_orders = scalar(
        db,
        "SELECT COUNT(*) FROM service_order WHERE \
           ((status IN ('ACCEPTED','DISPATCHED','COMPLETED','RATED')) AND steward_id IS NULL) \
           OR ((status IN ('PLACED','REJECTED')) AND steward_id IS NOT NULL) \
           OR ((status IN ('DISPATCHED','COMPLETED','RATED')) <> (assignee_id IS NOT NULL)) \
           OR ((status = 'RATED') <> (rating_stars IS NOT NULL)) \
           OR ((status = 'REJECTED') <> (reject_reason IS NOT NULL)) \
           OR contact_phone NOT LIKE 'v1:%'",
    )
    .await;
    assert_eq!(bad_orders, 0);
    // One WISH_FULFILLED entry per confirmed wish, under the API's source key, to its claimant.
    let confirmed = scalar(db, "SELECT COUNT(*) FROM wish WHERE status = 'CONFIRMED'").await;
    let wish_entries = scalar(
        db,
        "SELECT COUNT(*) FROM point_entry p JOIN wish w \
           ON p.source_key = 'wish:' || CAST(w.id AS TEXT) || ':confirm' \
         WHERE p.action = 'WISH_FULFILLED' AND p.user_id = w.claimant_id \
           AND w.status = 'CONFIRMED' AND p.delta = 10",
    )
    .await;
    assert_eq!(wish_entries, confirmed);
    // ORDER_COMPLETED only for rated errands done by volunteers (property staff are paid).
    let order_entries = scalar(
        db,
        "SELECT COUNT(*) FROM point_entry WHERE action = 'ORDER_COMPLETED'",
    )
    .await;
    let volunteer_rated = scalar(
        db,
        "SELECT COUNT(*) FROM service_order o JOIN point_entry p \
           ON p.source_key = 'order:' || CAST(o.id AS TEXT) || ':rated' AND p.user_id = o.assignee_id \
         WHERE o.status = 'RATED' AND EXISTS (SELECT 1 FROM role_grant g \
           WHERE g.user_id = o.assignee_id AND g.role = 'VOLUNTEER')",
    )
    .await;
    assert!(order_entries > 0);
    assert_eq!(order_entries, volunteer_rated);
    assert_eq!(
        order_entries + wish_entries,
        SMALL_COUNTS
            .iter()
            .find(|(t, _)| *t == "point_entry")
            .unwrap()
            .1
    );

    // Boards agree with the ledger: every member of the district's all-time board.
    assert!(s.report.boards.unwrap() > 0);
    let key = boards::key(Scope::Area(s.root), Period::All, Utc::now());
    let board = s.store.ztop(&key, 10_000).await.unwrap();
    let holders = scalar(db, "SELECT COUNT(DISTINCT user_id) FROM point_entry").await;
    assert_eq!(board.len() as i64, holders);
    for (user, score) in board.iter().take(50) {
        let sum = scalar(
            db,
            &format!("SELECT COALESCE(SUM(delta), 0) FROM point_entry WHERE user_id = {user}"),
        )
        .await;
        assert_eq!(*score as i64, sum, "board score of user {user}");
    }
}

/// A digest of the rows that carry the generated content.
async fn digest(db: &DatabaseConnection) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    for (table, columns) in [
        (
            "wish",
            &[
                "id",
                "poster_id",
                "area_id",
                "title",
                "description",
                "category",
                "status",
                "claimant_id",
                "created_at",
                "updated_at",
            ][..],
        ),
        (
            "wish_event",
            &[
                "id",
                "wish_id",
                "actor_id",
                "action",
                "from_status",
                "to_status",
                "note",
                "created_at",
            ],
        ),
        (
            "point_entry",
            &[
                "id",
                "user_id",
                "delta",
                "reason",
                "action",
                "source_key",
                "actor_id",
                "created_at",
            ],
        ),
        (
            "service_order",
            &[
                "id",
                "resident_id",
                "service_item_id",
                "status",
                "contact_phone",
                "contact_phone_masked",
                "steward_id",
                "assignee_id",
                "rating_stars",
                "created_at",
            ],
        ),
        (
            "users",
            &[
                "id",
                "openid",
                "nickname",
                "home_area_id",
                "room",
                "created_at",
            ],
        ),
        ("area", &["id", "parent_id", "kind", "name", "path"]),
        (
            "party_member",
            &["user_id", "party_org_id", "category", "status"],
        ),
    ] {
        let select: Vec<String> = columns
            .iter()
            .map(|c| format!("COALESCE(CAST({c} AS TEXT), '-')"))
            .collect();
        let sql = format!("SELECT {} FROM {table} ORDER BY 1", select.join(", "));
        let rows = db
            .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap();
        assert!(!rows.is_empty(), "{table}");
        for row in rows {
            for i in 0..columns.len() {
                row.try_get_by_index::<String>(i).unwrap().hash(&mut hasher);
            }
        }
    }
    hasher.finish()
}

#[tokio::test]
async fn small_scale_is_deterministic() {
    let first = seed_small().await;
    let second = seed_small().await;
    assert_eq!(count(&first.db, "wish").await, 600);
    assert_eq!(digest(&first.db).await, digest(&second.db).await);
}

#[tokio::test]
async fn a_second_seed_is_refused_and_changes_nothing() {
    let s = seed_small().await;
    let before = digest(&s.db).await;
    let root = api::db::ensure_root_area(&s.db, "万柏林区").await.unwrap();
    let err = seed_scale(
        &s.db,
        &root,
        Scale::Small,
        as_of(),
        &FieldCipher::new(DATA_KEY),
        None,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("already holds seeded data"),
        "{err}"
    );
    assert_eq!(digest(&s.db).await, before);
    for (table, expected) in SMALL_COUNTS {
        assert_eq!(count(&s.db, table).await, *expected, "rows in {table}");
    }

    // A database with any user in it is refused too.
    let database = fresh_database().await;
    let (db, root) = migrated(&database).await;
    api::identity::find_or_create_user(&db, "o-someone")
        .await
        .unwrap();
    let err = seed_scale(
        &db,
        &root,
        Scale::Small,
        as_of(),
        &FieldCipher::new(DATA_KEY),
        None,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    assert_eq!(count(&db, "area").await, 1);
}

#[tokio::test]
async fn a_seeded_member_signs_in_and_sees_their_points() {
    let s = seed_small().await;
    let url = s.url.clone();
    let app = TestApp::spawn_with(move |vars| {
        vars.insert("DATABASE_URL".into(), url);
        vars.remove("WECHAT_APPID");
        vars.remove("WECHAT_SECRET");
    })
    .await;
    // seed-m-000001 is an ACTIVE in-service member; the busiest of them has points for sure.
    let openid: String = {
        let row =
            s.db.query_one_raw(Statement::from_string(
                s.db.get_database_backend(),
                "SELECT u.openid FROM users u JOIN point_entry p ON p.user_id = u.id \
                 WHERE u.openid LIKE 'seed-m-%' GROUP BY u.openid \
                 ORDER BY SUM(p.delta) DESC, u.openid LIMIT 1",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index(0).unwrap()
    };
    let resp = app
        .op(None, "identity", "DevLogin", json!({ "openid": openid }))
        .await;
    let login = data(&resp)["devLogin"].clone();
    let token = login["accessToken"].as_str().unwrap().to_owned();
    let user_id = login["user"]["id"].as_str().unwrap().to_owned();
    let ledger = scalar(
        &s.db,
        &format!("SELECT SUM(delta) FROM point_entry WHERE user_id = {user_id}"),
    )
    .await;
    let resp = app.op(Some(&token), "points", "MyPoints", json!({})).await;
    let mine = &data(&resp)["myPoints"];
    assert_eq!(mine["total"].as_i64().unwrap(), ledger);
    assert!(ledger > 0);
    assert!(mine["rank"].as_i64().unwrap() >= 1);
    assert!(
        mine["history"]["totalCount"].as_i64().unwrap() > 0,
        "{resp}"
    );

    // The resident side: a seeded resident sees their home.
    let resp = app
        .op(
            None,
            "identity",
            "DevLogin",
            json!({ "openid": "seed-r-000001" }),
        )
        .await;
    let token = data(&resp)["devLogin"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = app
        .gql(
            Some(&token),
            "{ me { nickname home { name kind } } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&resp)["me"]["home"]["kind"], "BUILDING");
}
