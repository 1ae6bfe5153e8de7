//! What a request costs the database and the store, read off `/metrics`: lists load their
//! relations in batches (no N+1), and each request asks the store once before it runs.

use chrono::Utc;
use entity::area::AreaKind;
use entity::wish::{self, WishCategory, WishStatus};
use sea_orm::{EntityTrait, Set, TransactionTrait};
use serde_json::{Value, json};

use crate::helpers::{TestApp, data};

/// The value of a counter on the server's `/metrics`.
async fn counter(app: &TestApp, name: &str) -> f64 {
    let text = app.metrics().await;
    crate::helpers::series(&text, name)
        .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{text}"))
}

/// A server whose background work stays quiet, so the counters move only for the requests
/// under test.
async fn quiet_app() -> TestApp {
    TestApp::spawn_with(|vars| {
        vars.insert("OUTBOX_POLL_MS".into(), "3600000".into());
    })
    .await
}

/// Statements the database saw while `run` ran.
async fn statements_during<F: std::future::Future<Output = Value>>(
    app: &TestApp,
    run: F,
) -> (f64, Value) {
    let before = counter(app, "emulin_db_statements_total").await;
    let value = run.await;
    let after = counter(app, "emulin_db_statements_total").await;
    // The second scrape counts the outbox depth (one statement) before it renders.
    (after - before - 1.0, value)
}

/// 130 wishes spread over 7 areas, 13 posters and 5 claimants.
async fn many_wishes(app: &TestApp) {
    let root = api::db::ensure_root_area(&app.db, "unused").await.unwrap();
    let txn = app.db.begin().await.unwrap();
    let mut areas = Vec::new();
    for i in 0..7 {
        let a = api::org::insert_area(&txn, &root, AreaKind::Street, &format!("街道{i}"))
            .await
            .unwrap();
        areas.push(a);
    }
    txn.commit().await.unwrap();
    let mut posters = Vec::new();
    for i in 0..13 {
        let user = api::identity::find_or_create_user(&app.db, &format!("o-poster-{i}"))
            .await
            .unwrap();
        posters.push(user.id);
    }
    let mut claimants = Vec::new();
    for i in 0..5 {
        let user = api::identity::find_or_create_user(&app.db, &format!("o-helper-{i}"))
            .await
            .unwrap();
        claimants.push(user.id);
    }
    let now = Utc::now();
    let rows: Vec<wish::ActiveModel> = (0..130)
        .map(|i| {
            let claimed = i % 3 != 0;
            wish::ActiveModel {
                poster_id: Set(posters[i % posters.len()]),
                area_id: Set(areas[i % areas.len()].id),
                title: Set(format!("心愿 {i}")),
                description: Set("帮忙".into()),
                category: Set(WishCategory::DailyHelp),
                status: Set(if claimed {
                    WishStatus::Claimed
                } else {
                    WishStatus::Open
                }),
                claimant_id: Set(claimed.then(|| claimants[i % claimants.len()])),
                needs_review: Set(false),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
        })
        .collect();
    wish::Entity::insert_many(rows).exec(&app.db).await.unwrap();
}

#[tokio::test]
async fn a_page_of_wishes_costs_at_most_four_statements_whatever_its_size() {
    let app = quiet_app().await;
    many_wishes(&app).await;
    let s = app.login("reader").await;

    for first in [100, 20, 5] {
        let (statements, resp) = statements_during(
            &app,
            app.op(
                Some(&s.access),
                "wishes",
                "Wishes",
                json!({ "first": first }),
            ),
        )
        .await;
        let page = &data(&resp)["wishes"];
        let edges = page["edges"].as_array().unwrap();
        assert_eq!(edges.len(), first, "{resp}");
        assert_eq!(page["totalCount"], 130);
        for edge in edges {
            let node = &edge["node"];
            assert!(node["area"]["name"].is_string(), "{node}");
            assert!(node["poster"]["id"].is_string(), "{node}");
        }
        assert!(
            edges
                .iter()
                .any(|e| e["node"]["claimant"]["id"].is_string()),
            "some wishes on the page are claimed"
        );
        // The count, the page, its areas, and its posters and claimants in one batch.
        assert!(
            statements <= 4.0,
            "a page of {first} wishes took {statements} statements"
        );
    }

    // Without totalCount the count is not run at all.
    let (statements, resp) = statements_during(
        &app,
        app.gql(
            Some(&s.access),
            "query { wishes(first: 100) { edges { node { id area { name } poster { nickname } \
             claimant { nickname } } } } }",
            json!({}),
        ),
    )
    .await;
    assert_eq!(
        data(&resp)["wishes"]["edges"].as_array().unwrap().len(),
        100
    );
    assert!(statements <= 3.0, "took {statements} statements");
}

#[tokio::test]
async fn each_request_asks_the_store_once() {
    let app = quiet_app().await;
    let s = app.login("onecall").await;
    let before = counter(&app, "emulin_redis_calls_total").await;
    for _ in 0..5 {
        let resp = app.op(Some(&s.access), "identity", "Me", json!({})).await;
        assert!(data(&resp)["me"]["id"].is_string());
    }
    // Anonymous requests are counted against their address in the same single call.
    for _ in 0..2 {
        app.op(None, "identity", "Me", json!({})).await;
    }
    let after = counter(&app, "emulin_redis_calls_total").await;
    assert_eq!(
        after - before,
        7.0,
        "the session check and the rate limits go to the store together"
    );
}

#[tokio::test]
async fn a_leaderboard_is_one_sorted_set_read_and_one_user_load() {
    let app = quiet_app().await;
    let root = app.root_area_id().await;
    let admin = app.login("lb-admin").await;
    app.grant("lb-admin", entity::role_grant::Role::DistrictAdmin, &root)
        .await;
    let street = app.create_area(&admin, &root, "STREET", "街道").await;
    let community = app.create_area(&admin, &street, "COMMUNITY", "社区").await;
    let compound = app
        .create_area(&admin, &community, "COMPOUND", "小区")
        .await;
    let mut awarded = Vec::new();
    for (i, name) in ["lb-a", "lb-b", "lb-c"].iter().enumerate() {
        let who = app.login(name).await;
        // Users count on area boards through their home.
        crate::wishes::bind_home(&app, &who, &compound).await;
        let resp = app
            .op(
                Some(&admin.access),
                "points",
                "AwardPoints",
                json!({ "input": { "userId": who.user_id, "delta": 10 * (i as i64 + 1),
                                   "reason": "测试", "sourceKey": format!("t-{name}") } }),
            )
            .await;
        data(&resp);
        awarded.push(who.user_id);
    }
    let reader = app.login("lb-reader").await;
    let store_before = counter(&app, "emulin_redis_calls_total").await;
    let (statements, resp) = statements_during(
        &app,
        app.op(
            Some(&reader.access),
            "points",
            "Leaderboard",
            json!({ "scope": { "areaId": root }, "period": "ALL", "first": 20 }),
        ),
    )
    .await;
    let store_after = counter(&app, "emulin_redis_calls_total").await;
    let board = data(&resp)["leaderboard"].as_array().unwrap().clone();
    let ids: Vec<&str> = board
        .iter()
        .map(|e| e["user"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![awarded[2].as_str(), &awarded[1], &awarded[0]]);
    assert_eq!(board[0]["points"], 30);
    // At most one batched user load: none here, as this node met the people when awarding them.
    assert!(statements <= 1.0, "took {statements} statements");
    assert_eq!(
        store_after - store_before,
        2.0,
        "the request's admission and one sorted-set read"
    );

    // The people on it are kept for a while: reading it again needs no statement at all ...
    let board_again = || {
        app.op(
            Some(&reader.access),
            "points",
            "Leaderboard",
            json!({ "scope": { "areaId": root }, "period": "ALL", "first": 20 }),
        )
    };
    let (statements, resp) = statements_during(&app, board_again()).await;
    assert_eq!(statements, 0.0);
    assert_eq!(data(&resp)["leaderboard"].as_array().unwrap().len(), 3);
    // ... but a new nickname shows at once.
    let top = app.login("lb-c").await;
    let resp = app
        .op(
            Some(&top.access),
            "identity",
            "UpdateProfile",
            json!({ "input": { "nickname": "第一名" } }),
        )
        .await;
    data(&resp);
    let resp = board_again().await;
    assert_eq!(data(&resp)["leaderboard"][0]["user"]["nickname"], "第一名");

    // An empty board for an area that does not exist is still NOT_FOUND.
    let resp = app
        .op(
            Some(&reader.access),
            "points",
            "Leaderboard",
            json!({ "scope": { "areaId": "987654321" }, "period": "ALL", "first": 20 }),
        )
        .await;
    crate::helpers::assert_error(&resp, "NOT_FOUND");
}

async fn wish_count(app: &TestApp, token: &str) -> i64 {
    let resp = app
        .op(Some(token), "wishes", "Wishes", json!({ "first": 1 }))
        .await;
    data(&resp)["wishes"]["totalCount"].as_i64().unwrap()
}

#[tokio::test]
async fn the_feed_count_is_kept_between_changes_and_dropped_on_every_node() {
    let Some(_) = crate::helpers::redis_or_skip(
        "the_feed_count_is_kept_between_changes_and_dropped_on_every_node",
    ) else {
        return;
    };
    let n = crate::wishes::neighbourhood_on(quiet_app().await).await;
    let other = n.app.second_node().await;
    crate::wishes::post_wish(&n.app, &n.resident, "第一个").await;
    assert_eq!(wish_count(&n.app, &n.member.access).await, 1);
    assert_eq!(wish_count(&other, &n.member.access).await, 1);

    // Read again: the page is read, the count is not.
    let (statements, resp) = statements_during(
        &n.app,
        n.app.op(
            Some(&n.member.access),
            "wishes",
            "Wishes",
            json!({ "first": 1 }),
        ),
    )
    .await;
    assert_eq!(data(&resp)["wishes"]["totalCount"], 1);
    assert!(statements <= 3.0, "took {statements} statements");

    // A change through this node shows at once; through the other, as soon as the news arrives.
    crate::wishes::post_wish(&n.app, &n.resident, "第二个").await;
    assert_eq!(wish_count(&n.app, &n.member.access).await, 2);
    let mut seen = 0;
    for _ in 0..100 {
        seen = wish_count(&other, &n.member.access).await;
        if seen == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(seen, 2, "the other node still counts the old number");

    // A viewer's own list is counted fresh every time.
    let resp = n
        .app
        .op(
            Some(&n.resident.access),
            "wishes",
            "Wishes",
            json!({ "first": 1, "filter": { "mine": true } }),
        )
        .await;
    assert_eq!(data(&resp)["wishes"]["totalCount"], 2);
}
