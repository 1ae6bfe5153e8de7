use entity::role_grant::Role;
use futures::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, assert_error, data, error_code, redis_or_skip};

/// Two communities with a compound each, a district admin, a resident with a home in compound A,
/// an ACTIVE party member of A's organisation and a volunteer.
pub struct Neighbourhood {
    pub app: TestApp,
    pub root: String,
    pub street: String,
    pub community_a: String,
    pub community_b: String,
    pub compound_a: String,
    pub compound_b: String,
    pub org_a: String,
    pub admin: Session,
    pub resident: Session,
    pub member: Session,
    pub volunteer: Session,
}

pub async fn bind_home(app: &TestApp, who: &Session, area: &str) {
    let resp = app
        .op(
            Some(&who.access),
            "identity",
            "BindHome",
            json!({ "areaId": area }),
        )
        .await;
    data(&resp);
}

pub async fn make_member(app: &TestApp, admin: &Session, org: &str, name: &str) -> Session {
    let s = app.login(name).await;
    let resp = app
        .op(
            Some(&s.access),
            "org",
            "RegisterPartyMember",
            json!({ "input": { "partyOrgId": org, "category": "RETIRED" } }),
        )
        .await;
    let id = data(&resp)["registerPartyMember"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = app
        .op(
            Some(&admin.access),
            "org",
            "VerifyPartyMember",
            json!({ "id": id, "approve": true }),
        )
        .await;
    assert_eq!(data(&resp)["verifyPartyMember"]["status"], "ACTIVE");
    s
}

pub async fn neighbourhood_on(app: TestApp) -> Neighbourhood {
    let root = app.root_area_id().await;
    app.grant("admin", Role::DistrictAdmin, &root).await;
    let admin = app.login("admin").await;
    let street = app.create_area(&admin, &root, "STREET", "南寒街道").await;
    let community_a = app
        .create_area(&admin, &street, "COMMUNITY", "南寒社区")
        .await;
    let community_b = app
        .create_area(&admin, &street, "COMMUNITY", "千峰社区")
        .await;
    let compound_a = app
        .create_area(&admin, &community_a, "COMPOUND", "金泽华府")
        .await;
    let compound_b = app
        .create_area(&admin, &community_b, "COMPOUND", "滨花苑")
        .await;
    let resp = app
        .op(
            Some(&admin.access),
            "org",
            "CreatePartyOrg",
            json!({ "input": { "areaId": compound_a, "name": "金泽华府小区党支部" } }),
        )
        .await;
    let org_a = data(&resp)["createPartyOrg"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resident = app.login("resident").await;
    bind_home(&app, &resident, &compound_a).await;
    let member = make_member(&app, &admin, &org_a, "member").await;
    bind_home(&app, &member, &compound_a).await;
    app.grant("volunteer", Role::Volunteer, &root).await;
    let volunteer = app.login("volunteer").await;
    bind_home(&app, &volunteer, &compound_b).await;
    Neighbourhood {
        app,
        root,
        street,
        community_a,
        community_b,
        compound_a,
        compound_b,
        org_a,
        admin,
        resident,
        member,
        volunteer,
    }
}

pub async fn neighbourhood() -> Neighbourhood {
    neighbourhood_on(TestApp::spawn().await).await
}

pub async fn post_wish(app: &TestApp, who: &Session, title: &str) -> String {
    let resp = app
        .op(
            Some(&who.access),
            "wishes",
            "PostWish",
            json!({ "input": { "title": title, "description": "帮忙取快递", "category": "DAILY_HELP" } }),
        )
        .await;
    data(&resp)["postWish"]["id"].as_str().unwrap().to_owned()
}

async fn act(app: &TestApp, who: &Session, operation: &str, id: &str) -> Value {
    app.op(Some(&who.access), "wishes", operation, json!({ "id": id }))
        .await
}

#[tokio::test]
async fn a_wish_from_post_to_points() {
    let n = neighbourhood().await;
    let app = &n.app;
    let resp = app
        .op(
            Some(&n.resident.access),
            "wishes",
            "PostWish",
            json!({ "input": { "title": "  想学用智能手机  ", "description": "教我视频通话", "category": "STUDY" } }),
        )
        .await;
    let wish = data(&resp)["postWish"].clone();
    assert_eq!(wish["title"], "想学用智能手机");
    assert_eq!(wish["status"], "OPEN");
    assert_eq!(wish["category"], "STUDY");
    assert_eq!(wish["poster"]["id"], n.resident.user_id.as_str());
    assert_eq!(wish["area"]["id"], n.compound_a.as_str());
    let id = wish["id"].as_str().unwrap().to_owned();

    // Who may not claim: the poster, a plain resident.
    assert_error(&act(app, &n.resident, "ClaimWish", &id).await, "FORBIDDEN");
    let bystander = app.login("bystander").await;
    assert_error(&act(app, &bystander, "ClaimWish", &id).await, "FORBIDDEN");

    let resp = act(app, &n.member, "ClaimWish", &id).await;
    assert_eq!(
        data(&resp)["claimWish"],
        json!({ "id": id, "status": "CLAIMED", "claimant": { "id": n.member.user_id } })
    );
    assert_error(&act(app, &n.volunteer, "ClaimWish", &id).await, "CONFLICT");
    assert_error(
        &act(app, &n.volunteer, "ReleaseWish", &id).await,
        "FORBIDDEN",
    );
    let resp = act(app, &n.member, "ReleaseWish", &id).await;
    assert_eq!(
        data(&resp)["releaseWish"],
        json!({ "id": id, "status": "OPEN", "claimant": null })
    );
    assert_error(&act(app, &n.member, "FulfillWish", &id).await, "FORBIDDEN");

    data(&act(app, &n.volunteer, "ClaimWish", &id).await);
    assert_error(&act(app, &n.resident, "ConfirmWish", &id).await, "CONFLICT");
    let resp = app
        .op(
            Some(&n.volunteer.access),
            "wishes",
            "FulfillWish",
            json!({ "id": id, "note": "已教会视频通话" }),
        )
        .await;
    assert_eq!(data(&resp)["fulfillWish"]["status"], "FULFILLED");
    assert_error(
        &act(app, &n.volunteer, "ConfirmWish", &id).await,
        "FORBIDDEN",
    );
    assert_error(&act(app, &n.resident, "CancelWish", &id).await, "CONFLICT");
    let resp = act(app, &n.resident, "ConfirmWish", &id).await;
    assert_eq!(data(&resp)["confirmWish"]["status"], "CONFIRMED");
    assert_error(&act(app, &n.resident, "ConfirmWish", &id).await, "CONFLICT");

    let resp = app
        .op(Some(&n.admin.access), "wishes", "Wish", json!({ "id": id }))
        .await;
    let wish = &data(&resp)["wish"];
    assert_eq!(wish["claimant"]["id"], n.volunteer.user_id.as_str());
    let events: Vec<(String, String)> = wish["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["actor"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let who = |s: &Session| s.user_id.clone();
    assert_eq!(
        events,
        vec![
            ("POSTED".into(), who(&n.resident)),
            ("CLAIMED".into(), who(&n.member)),
            ("RELEASED".into(), who(&n.member)),
            ("CLAIMED".into(), who(&n.volunteer)),
            ("FULFILLED".into(), who(&n.volunteer)),
            ("CONFIRMED".into(), who(&n.resident)),
        ]
    );
    assert_eq!(wish["events"][4]["note"], "已教会视频通话");

    // The claimant earned the WISH_FULFILLED points, once.
    let resp = app
        .op(Some(&n.volunteer.access), "points", "MyPoints", json!({}))
        .await;
    let mine = &data(&resp)["myPoints"];
    assert_eq!(mine["total"], 10);
    assert_eq!(mine["thisMonth"], 10);
    assert_eq!(mine["thisYear"], 10);
    assert_eq!(mine["rank"], 1);
    assert_eq!(mine["history"]["totalCount"], 1);
    assert_eq!(
        mine["history"]["edges"][0]["node"]["sourceKey"],
        format!("wish:{id}:confirm")
    );
    assert_eq!(mine["history"]["edges"][0]["node"]["delta"], 10);

    // Cancelling: the poster, an OPEN wish only.
    let other = post_wish(app, &n.resident, "修水龙头").await;
    assert_error(
        &act(app, &n.member, "CancelWish", &other).await,
        "FORBIDDEN",
    );
    assert_eq!(
        data(&act(app, &n.resident, "CancelWish", &other).await)["cancelWish"]["status"],
        "CANCELLED"
    );
    assert_error(&act(app, &n.member, "ClaimWish", &other).await, "CONFLICT");
    assert_error(
        &act(app, &n.member, "ClaimWish", "123456").await,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn bad_wishes_are_refused_and_change_nothing() {
    let n = neighbourhood().await;
    let app = &n.app;
    let post = |input: Value| {
        app.op(
            Some(&n.resident.access),
            "wishes",
            "PostWish",
            json!({ "input": input }),
        )
    };
    for input in [
        json!({ "title": "", "description": "d", "category": "OTHER" }),
        json!({ "title": "题".repeat(61), "description": "d", "category": "OTHER" }),
        json!({ "title": "t", "description": "", "category": "OTHER" }),
        json!({ "title": "t", "description": "字".repeat(1001), "category": "OTHER" }),
        json!({ "title": "t", "description": "d", "category": "GOSSIP" }),
        json!({ "title": 7, "description": "d", "category": "OTHER" }),
    ] {
        assert_error(&post(input).await, "BAD_USER_INPUT");
    }
    let ok = post(
        json!({ "title": "题".repeat(60), "description": "字".repeat(1000), "category": "OTHER" }),
    )
    .await;
    data(&ok);
    let homeless = app.login("homeless").await;
    let resp = app
        .op(
            Some(&homeless.access),
            "wishes",
            "PostWish",
            json!({ "input": { "title": "t", "description": "d", "category": "OTHER" } }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT");
    let resp = app
        .op(Some(&n.admin.access), "wishes", "Wishes", json!({}))
        .await;
    assert_eq!(data(&resp)["wishes"]["totalCount"], 1);
    assert_error(
        &app.op(None, "wishes", "Wishes", json!({})).await,
        "UNAUTHENTICATED",
    );
}

#[tokio::test]
async fn the_feed_pages_newest_first_and_filters_by_subtree() {
    let n = neighbourhood().await;
    let app = &n.app;
    let neighbour = app.login("neighbour-b").await;
    bind_home(app, &neighbour, &n.compound_b).await;
    let mut a_ids = Vec::new();
    for i in 0..23 {
        a_ids.push(post_wish(app, &n.resident, &format!("心愿{i}")).await);
    }
    let b_id = post_wish(app, &neighbour, "B的心愿").await;
    data(&act(app, &n.member, "ClaimWish", &a_ids[3]).await);

    let feed = |filter: Value, first: Option<i64>, after: Option<String>| {
        app.op(
            Some(&n.admin.access),
            "wishes",
            "Wishes",
            json!({ "filter": filter, "first": first, "after": after }),
        )
    };
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let resp = feed(json!({ "areaId": n.community_a }), Some(10), after.clone()).await;
        let conn = data(&resp)["wishes"].clone();
        assert_eq!(conn["totalCount"], 23);
        for edge in conn["edges"].as_array().unwrap() {
            assert_eq!(edge["node"]["area"]["name"], "金泽华府");
            assert_eq!(edge["node"]["poster"]["id"], n.resident.user_id.as_str());
            seen.push(edge["node"]["id"].as_str().unwrap().to_owned());
        }
        if conn["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = Some(conn["pageInfo"]["endCursor"].as_str().unwrap().to_owned());
    }
    let mut expected = a_ids.clone();
    expected.reverse();
    assert_eq!(seen, expected, "no duplicates, no gaps, newest first");

    let total = |resp: &Value| data(resp)["wishes"]["totalCount"].as_i64().unwrap();
    assert_eq!(
        total(&feed(json!({ "areaId": n.street }), None, None).await),
        24
    );
    assert_eq!(
        total(&feed(json!({ "areaId": n.root }), None, None).await),
        24
    );
    let resp = feed(json!({ "areaId": n.community_b }), None, None).await;
    assert_eq!(
        data(&resp)["wishes"]["edges"][0]["node"]["id"],
        b_id.as_str()
    );
    assert_eq!(total(&resp), 1);
    assert_eq!(
        total(&feed(json!({ "status": "CLAIMED" }), None, None).await),
        1
    );
    let resp = feed(json!({ "status": "CLAIMED" }), None, None).await;
    assert_eq!(
        data(&resp)["wishes"]["edges"][0]["node"]["claimant"]["id"],
        n.member.user_id.as_str()
    );
    let resp = app
        .op(
            Some(&n.member.access),
            "wishes",
            "Wishes",
            json!({ "filter": { "claimedByMe": true } }),
        )
        .await;
    assert_eq!(total(&resp), 1);
    let resp = app
        .op(
            Some(&neighbour.access),
            "wishes",
            "Wishes",
            json!({ "filter": { "mine": true } }),
        )
        .await;
    assert_eq!(total(&resp), 1);
    let resp = feed(json!({}), Some(20), None).await;
    assert_eq!(data(&resp)["wishes"]["edges"].as_array().unwrap().len(), 20);
    assert_error(&feed(json!({}), Some(101), None).await, "BAD_USER_INPUT");
    assert_error(
        &feed(json!({ "areaId": "99999" }), None, None).await,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn of_many_concurrent_claims_through_two_nodes_exactly_one_wins() {
    let n = neighbourhood().await;
    let second = match redis_or_skip("the second node of the claim race") {
        Some(_) => Some(n.app.second_node().await),
        None => None,
    };
    let node_b = second.as_ref().unwrap_or(&n.app);
    let id = post_wish(&n.app, &n.resident, "陪老人散步").await;
    let mut claimers = Vec::new();
    for i in 0..12 {
        let name = format!("claimer{i}");
        n.app.grant(&name, Role::Volunteer, &n.root).await;
        claimers.push(n.app.login(&name).await);
    }
    let attempts = claimers.iter().enumerate().map(|(i, s)| {
        let node = if i % 2 == 0 { &n.app } else { node_b };
        act(node, s, "ClaimWish", &id)
    });
    let results = join_all(attempts).await;
    let winners: Vec<&Value> = results
        .iter()
        .filter(|r| r.get("errors").is_none())
        .collect();
    assert_eq!(winners.len(), 1, "exactly one claim wins");
    for loser in results.iter().filter(|r| r.get("errors").is_some()) {
        assert_eq!(error_code(loser), "CONFLICT", "{loser}");
    }
    let resp = n
        .app
        .op(
            Some(&n.resident.access),
            "wishes",
            "Wish",
            json!({ "id": id }),
        )
        .await;
    let wish = &data(&resp)["wish"];
    assert_eq!(
        wish["claimant"]["id"],
        winners[0]["data"]["claimWish"]["claimant"]["id"]
    );
    let claimed = wish["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "CLAIMED")
        .count();
    assert_eq!(claimed, 1);
}

#[tokio::test]
async fn concurrent_confirms_award_once() {
    let n = neighbourhood().await;
    let app = &n.app;
    let second = match redis_or_skip("the second node of the confirm race") {
        Some(_) => Some(app.second_node().await),
        None => None,
    };
    let node_b = second.as_ref().unwrap_or(app);
    let id = post_wish(app, &n.resident, "换灯泡").await;
    data(&act(app, &n.member, "ClaimWish", &id).await);
    data(&act(app, &n.member, "FulfillWish", &id).await);
    let results = join_all((0..6).map(|i| {
        act(
            if i % 2 == 0 { app } else { node_b },
            &n.resident,
            "ConfirmWish",
            &id,
        )
    }))
    .await;
    assert_eq!(
        results.iter().filter(|r| r.get("errors").is_none()).count(),
        1
    );
    let resp = app
        .op(Some(&n.member.access), "points", "MyPoints", json!({}))
        .await;
    assert_eq!(data(&resp)["myPoints"]["total"], 10);
    assert_eq!(data(&resp)["myPoints"]["history"]["totalCount"], 1);
}
