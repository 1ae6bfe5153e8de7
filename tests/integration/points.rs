use std::collections::HashMap;

use entity::role_grant::Role;
use futures::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, assert_error, data, redis_or_skip};
use crate::wishes::{bind_home, make_member, neighbourhood, neighbourhood_on, post_wish};

async fn award(app: &TestApp, admin: &Session, user: &str, delta: i64, key: &str) -> Value {
    app.op(
        Some(&admin.access),
        "points",
        "AwardPoints",
        json!({ "input": { "userId": user, "delta": delta, "reason": "双报到服务", "sourceKey": key } }),
    )
    .await
}

async fn board(
    app: &TestApp,
    who: &Session,
    scope: Value,
    period: &str,
) -> Vec<(String, i64, i64)> {
    let resp = app
        .op(
            Some(&who.access),
            "points",
            "Leaderboard",
            json!({ "scope": scope, "period": period, "first": 100 }),
        )
        .await;
    data(&resp)["leaderboard"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["user"]["id"].as_str().unwrap().to_owned(),
                e["points"].as_i64().unwrap(),
                e["rank"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn rules_are_set_by_the_district_admin_only() {
    let n = neighbourhood().await;
    let app = &n.app;
    let resp = app
        .op(Some(&n.resident.access), "points", "PointRules", json!({}))
        .await;
    let rules: HashMap<String, i64> = data(&resp)["pointRules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_owned(),
                r["points"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rules,
        HashMap::from([
            ("WISH_FULFILLED".into(), 10),
            ("ORDER_COMPLETED".into(), 5),
            ("ACTIVITY_ATTENDED".into(), 3),
            ("COMMUNITY_REPORT".into(), 2)
        ])
    );
    app.grant("community-admin", Role::CommunityAdmin, &n.community_a)
        .await;
    let community_admin = app.login("community-admin").await;
    let set = |who: &Session, points: i64, cap: Option<i64>| {
        let token = who.access.clone();
        async move {
            app.op(
                Some(&token),
                "points",
                "SetPointRule",
                json!({ "action": "WISH_FULFILLED", "points": points, "dailyCap": cap }),
            )
            .await
        }
    };
    assert_error(&set(&community_admin, 20, None).await, "FORBIDDEN");
    assert_error(&set(&n.admin, -5, None).await, "BAD_USER_INPUT");
    assert_error(&set(&n.admin, 5, Some(0)).await, "BAD_USER_INPUT");
    let resp = set(&n.admin, 20, Some(2)).await;
    assert_eq!(
        data(&resp)["setPointRule"],
        json!({ "action": "WISH_FULFILLED", "points": 20, "dailyCap": 2 })
    );
}

#[tokio::test]
async fn manual_awards_are_scoped_validated_and_idempotent() {
    let n = neighbourhood().await;
    let app = &n.app;
    app.grant("admin-b", Role::CommunityAdmin, &n.community_b)
        .await;
    let admin_b = app.login("admin-b").await;
    let member = &n.member.user_id;

    assert_error(&award(app, &admin_b, member, 5, "k1").await, "FORBIDDEN");
    let first = award(app, &n.admin, member, 5, "k1").await;
    let entry = data(&first)["awardPoints"].clone();
    assert_eq!(entry["delta"], 5);
    assert_eq!(entry["user"]["id"], member.as_str());
    // The same key again: the first entry, nothing counted (even with another delta).
    let again = award(app, &n.admin, member, 50, "k1").await;
    assert_eq!(data(&again)["awardPoints"]["id"], entry["id"]);
    assert_eq!(data(&again)["awardPoints"]["delta"], 5);

    // Five identical awards at once count once.
    let results = join_all((0..5).map(|_| award(app, &n.admin, member, 7, "burst"))).await;
    let ids: Vec<&Value> = results
        .iter()
        .map(|r| &data(r)["awardPoints"]["id"])
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");

    let correction = award(app, &n.admin, member, -2, "fix-1").await;
    assert_eq!(data(&correction)["awardPoints"]["delta"], -2);

    for (delta, key, reason, code) in [
        (0, "z", "r", "BAD_USER_INPUT"),
        (i64::from(i32::MIN), "z", "r", "BAD_USER_INPUT"),
        (10_001, "z", "r", "BAD_USER_INPUT"),
        (5, "", "r", "BAD_USER_INPUT"),
        (5, "z", "", "BAD_USER_INPUT"),
        (5, "z", &"理".repeat(201), "BAD_USER_INPUT"),
    ] {
        let resp = app
            .op(
                Some(&n.admin.access),
                "points",
                "AwardPoints",
                json!({ "input": { "userId": member, "delta": delta, "reason": reason, "sourceKey": key } }),
            )
            .await;
        assert_error(&resp, code);
    }
    assert_error(&award(app, &n.admin, "424242", 5, "z").await, "NOT_FOUND");
    assert_error(&award(app, &n.member, member, 5, "self").await, "FORBIDDEN");

    let resp = app
        .op(Some(&n.member.access), "points", "MyPoints", json!({}))
        .await;
    let mine = &data(&resp)["myPoints"];
    assert_eq!(mine["total"], 5 + 7 - 2);
    assert_eq!(mine["history"]["totalCount"], 3);
}

#[tokio::test]
async fn the_daily_cap_holds_inside_the_confirm() {
    let n = neighbourhood().await;
    let app = &n.app;
    let resp = app
        .op(
            Some(&n.admin.access),
            "points",
            "SetPointRule",
            json!({ "action": "WISH_FULFILLED", "points": 10, "dailyCap": 1 }),
        )
        .await;
    data(&resp);
    for title in ["一", "二"] {
        let id = post_wish(app, &n.resident, title).await;
        for op in ["ClaimWish", "FulfillWish"] {
            data(
                &app.op(Some(&n.member.access), "wishes", op, json!({ "id": id }))
                    .await,
            );
        }
        let resp = app
            .op(
                Some(&n.resident.access),
                "wishes",
                "ConfirmWish",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(data(&resp)["confirmWish"]["status"], "CONFIRMED");
    }
    let resp = app
        .op(Some(&n.member.access), "points", "MyPoints", json!({}))
        .await;
    assert_eq!(
        data(&resp)["myPoints"]["total"],
        10,
        "the second confirmation of the day earns nothing"
    );
}

#[tokio::test]
async fn leaderboards_follow_areas_party_organisations_and_periods() {
    let n = neighbourhood().await;
    let app = &n.app;
    let b_member = app.login("b-resident").await;
    bind_home(app, &b_member, &n.compound_b).await;
    // A party member without a home counts under the organisation's area.
    let homeless = make_member(app, &n.admin, &n.org_a, "homeless-member").await;
    for (who, points) in [
        (&n.member, 30),
        (&n.volunteer, 20),
        (&b_member, 50),
        (&homeless, 10),
    ] {
        data(&award(app, &n.admin, &who.user_id, points, "seed").await);
    }
    let ids = |rows: &[(String, i64, i64)]| {
        rows.iter()
            .map(|r| (r.0.clone(), r.1, r.2))
            .collect::<Vec<_>>()
    };
    let a = board(app, &n.resident, json!({ "areaId": n.community_a }), "ALL").await;
    assert_eq!(
        ids(&a),
        vec![
            (n.member.user_id.clone(), 30, 1),
            (homeless.user_id.clone(), 10, 2)
        ]
    );
    let street = board(app, &n.resident, json!({ "areaId": n.street }), "ALL").await;
    let order: Vec<&str> = street.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        order,
        [
            &b_member.user_id,
            &n.member.user_id,
            &n.volunteer.user_id,
            &homeless.user_id
        ]
    );
    for period in ["MONTH", "YEAR"] {
        assert_eq!(
            board(app, &n.resident, json!({ "areaId": n.street }), period).await,
            street
        );
    }
    let org = board(app, &n.resident, json!({ "partyOrgId": n.org_a }), "ALL").await;
    assert_eq!(
        ids(&org),
        vec![
            (n.member.user_id.clone(), 30, 1),
            (homeless.user_id.clone(), 10, 2)
        ]
    );
    let b = board(app, &n.resident, json!({ "areaId": n.compound_b }), "ALL").await;
    assert_eq!(b.len(), 2);

    let resp = app
        .op(Some(&n.volunteer.access), "points", "MyPoints", json!({}))
        .await;
    assert_eq!(
        data(&resp)["myPoints"]["rank"],
        2,
        "behind b-resident in compound B"
    );

    for scope in [
        json!({}),
        json!({ "areaId": n.root, "partyOrgId": n.org_a }),
    ] {
        let resp = app
            .op(
                Some(&n.resident.access),
                "points",
                "Leaderboard",
                json!({ "scope": scope, "period": "ALL" }),
            )
            .await;
        assert_error(&resp, "BAD_USER_INPUT");
    }
    let resp = app
        .op(
            Some(&n.resident.access),
            "points",
            "Leaderboard",
            json!({ "scope": { "areaId": "9999" }, "period": "ALL" }),
        )
        .await;
    assert_error(&resp, "NOT_FOUND");
    let resp = app
        .op(
            Some(&n.resident.access),
            "points",
            "Leaderboard",
            json!({ "scope": { "areaId": n.root }, "period": "ALL", "first": 101 }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT");
}

/// A private redis-server, stopped when dropped (also when the test fails).
struct RedisServer(std::process::Child);

impl RedisServer {
    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn start_redis(port: u16) -> RedisServer {
    // Wrapped at once, so that every path out of here stops it.
    let server = RedisServer(
        std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server"),
    );
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("redis-server did not start on {port}");
}

#[tokio::test]
async fn boards_survive_losing_redis_through_a_rebuild() {
    if redis_or_skip("boards_survive_losing_redis_through_a_rebuild").is_none() {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = start_redis(port);
    let url = format!("redis://127.0.0.1:{port}");
    let app = TestApp::spawn_with(|vars| {
        vars.insert("REDIS_URL".into(), url.clone());
    })
    .await;
    let n = neighbourhood_on(app).await;
    let app = &n.app;
    data(&award(app, &n.admin, &n.member.user_id, 30, "before").await);
    data(&award(app, &n.admin, &n.volunteer.user_id, 10, "before").await);

    // Redis goes away: awards still commit and answer.
    redis.stop();
    data(&award(app, &n.admin, &n.volunteer.user_id, 40, "during").await);
    data(&award(app, &n.admin, &n.resident.user_id, 5, "during").await);

    // An empty Redis comes back; the rebuild restores every board from the ledger.
    let _redis = start_redis(port);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_emulin"))
        .args(["points", "rebuild"])
        .env_clear()
        .env("DATABASE_URL", &app.config.database_url)
        .env("REDIS_URL", &url)
        .env("REDIS_KEY_PREFIX", &app.config.redis_key_prefix)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("rebuilt"));

    // Sessions were lost with Redis: sign in again.
    let viewer = app.login("viewer").await;
    let root = board(app, &viewer, json!({ "areaId": n.root }), "ALL").await;
    assert_eq!(
        root,
        vec![
            (n.volunteer.user_id.clone(), 50, 1),
            (n.member.user_id.clone(), 30, 2),
            (n.resident.user_id.clone(), 5, 3)
        ]
    );
    for period in ["MONTH", "YEAR"] {
        assert_eq!(
            board(app, &viewer, json!({ "areaId": n.root }), period).await,
            root
        );
    }
    let a = board(app, &viewer, json!({ "areaId": n.compound_a }), "ALL").await;
    assert_eq!(
        a,
        vec![
            (n.member.user_id.clone(), 30, 1),
            (n.resident.user_id.clone(), 5, 2)
        ]
    );
    let org = board(app, &viewer, json!({ "partyOrgId": n.org_a }), "ALL").await;
    assert_eq!(org, vec![(n.member.user_id.clone(), 30, 1)]);
}
