//! 睦邻卡: contacts resolved from the nearest area, who may issue and pair, who sees what of a
//! card, the encrypted note, the services offered at the holder's home, and the staff list.

use entity::role_grant::Role;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, assert_error, data};
use crate::wishes::bind_home;

const NOTE: &str = "独居，患糖尿病，每周三女儿来探望";

/// A street with two sibling communities and a compound in each; a holder living in compound A;
/// staff of every kind around them.
struct Care {
    app: TestApp,
    root: String,
    street: String,
    community_a: String,
    community_b: String,
    compound_a: String,
    compound_b: String,
    district_admin: Session,
    admin_a: Session,
    admin_b: Session,
    grid_a: Session,
    grid_b: Session,
    steward_a: Session,
    leader_a: Session,
    holder: Session,
    neighbour: Session,
    stranger: Session,
}

async fn care() -> Care {
    let app = TestApp::spawn().await;
    let root = app.root_area_id().await;
    app.grant("district-admin", Role::DistrictAdmin, &root)
        .await;
    let district_admin = app.login("district-admin").await;
    let street = app
        .create_area(&district_admin, &root, "STREET", "南寒街道")
        .await;
    let community_a = app
        .create_area(&district_admin, &street, "COMMUNITY", "南寒社区")
        .await;
    let community_b = app
        .create_area(&district_admin, &street, "COMMUNITY", "千峰社区")
        .await;
    let compound_a = app
        .create_area(&district_admin, &community_a, "COMPOUND", "金泽华府")
        .await;
    let compound_b = app
        .create_area(&district_admin, &community_b, "COMPOUND", "滨花苑")
        .await;
    let staff = [
        ("admin-a", Role::CommunityAdmin, &community_a),
        ("admin-b", Role::CommunityAdmin, &community_b),
        ("grid-a", Role::GridWorker, &community_a),
        ("grid-b", Role::GridWorker, &community_b),
        ("steward-a", Role::Steward, &community_a),
        ("leader-a", Role::BuildingLeader, &compound_a),
    ];
    for (name, role, area) in staff {
        app.grant(name, role, area).await;
    }
    let holder = app.login("holder").await;
    bind_home(&app, &holder, &compound_a).await;
    rename(&app, &holder, "张奶奶").await;
    let neighbour = app.login("neighbour").await;
    bind_home(&app, &neighbour, &compound_a).await;
    rename(&app, &neighbour, "李阿姨").await;
    Care {
        root,
        street,
        community_a,
        community_b,
        compound_a,
        compound_b,
        district_admin,
        admin_a: app.login("admin-a").await,
        admin_b: app.login("admin-b").await,
        grid_a: app.login("grid-a").await,
        grid_b: app.login("grid-b").await,
        steward_a: app.login("steward-a").await,
        leader_a: app.login("leader-a").await,
        stranger: app.login("stranger").await,
        holder,
        neighbour,
        app,
    }
}

async fn rename(app: &TestApp, who: &Session, nickname: &str) {
    let resp = app
        .op(
            Some(&who.access),
            "identity",
            "UpdateProfile",
            json!({ "input": { "nickname": nickname } }),
        )
        .await;
    data(&resp);
}

async fn set_contact(
    app: &TestApp,
    who: &Session,
    area: &str,
    kind: &str,
    name: &str,
    phone: &str,
) -> Value {
    app.op(
        Some(&who.access),
        "care",
        "SetAreaContact",
        json!({ "input": { "areaId": area, "kind": kind, "name": name, "phone": phone } }),
    )
    .await
}

async fn issue(app: &TestApp, who: &Session, holder: &str, note: Option<&str>) -> Value {
    app.op(
        Some(&who.access),
        "care",
        "IssueNeighborCard",
        json!({ "input": { "holderId": holder, "reason": "ELDERLY_ALONE", "note": note } }),
    )
    .await
}

async fn issue_ok(app: &TestApp, who: &Session, holder: &str, note: Option<&str>) -> String {
    let resp = issue(app, who, holder, note).await;
    data(&resp)["issueNeighborCard"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn pair(app: &TestApp, who: &Session, card: &str, neighbour: &str) -> Value {
    app.op(
        Some(&who.access),
        "care",
        "PairNeighbor",
        json!({ "cardId": card, "neighborId": neighbour }),
    )
    .await
}

async fn card(app: &TestApp, who: &Session, id: &str) -> Value {
    app.op(
        Some(&who.access),
        "care",
        "NeighborCard",
        json!({ "id": id }),
    )
    .await
}

async fn my_card(app: &TestApp, who: &Session) -> Value {
    let resp = app
        .op(Some(&who.access), "care", "MyNeighborCard", json!({}))
        .await;
    data(&resp)["myNeighborCard"].clone()
}

#[tokio::test]
async fn each_kind_of_contact_comes_from_the_nearest_area() {
    let c = care().await;
    let app = &c.app;
    let admin = &c.district_admin;
    for (area, kind, name, phone) in [
        (&c.root, "POLICE", "区公安分局", "0351-110"),
        (&c.root, "GRID_WORKER", "区网格中心", "0351-6000000"),
        (&c.root, "PROPERTY", "区物业热线", "12345"),
        (&c.street, "POLICE", "南寒派出所", "0351 6111111"),
        (&c.street, "BUILDING_LEADER", "街道楼长办", "0351-6222222"),
    ] {
        data(&set_contact(app, admin, area, kind, name, phone).await);
    }
    // The community admin sets the compound's property desk: it answers with what it stored.
    let resp = set_contact(
        app,
        &c.admin_a,
        &c.compound_a,
        "PROPERTY",
        " 金泽物业 ",
        "+86 139-0000-0001",
    )
    .await;
    assert_eq!(
        data(&resp)["setAreaContact"],
        json!({ "kind": "PROPERTY", "name": "金泽物业", "phone": "+86 139-0000-0001",
                "area": { "id": c.compound_a } })
    );
    // Setting it again replaces it.
    let resp = set_contact(
        app,
        &c.admin_a,
        &c.compound_a,
        "PROPERTY",
        "金泽华府物业服务中心",
        "13900000002",
    )
    .await;
    assert_eq!(
        data(&resp)["setAreaContact"]["name"],
        "金泽华府物业服务中心"
    );

    let card_a = issue_ok(app, &c.grid_a, &c.holder.user_id, None).await;
    let expected = json!([
        { "kind": "POLICE", "name": "南寒派出所", "phone": "0351 6111111" },
        { "kind": "BUILDING_LEADER", "name": "街道楼长办", "phone": "0351-6222222" },
        { "kind": "GRID_WORKER", "name": "区网格中心", "phone": "0351-6000000" },
        { "kind": "PROPERTY", "name": "金泽华府物业服务中心", "phone": "13900000002" },
    ]);
    assert_eq!(my_card(app, &c.holder).await["contacts"], expected);
    let resp = card(app, &c.grid_a, &card_a).await;
    assert_eq!(data(&resp)["neighborCard"]["contacts"], expected);

    // A holder in the sibling community gets the street's and the district's only.
    let other = app.login("holder-b").await;
    bind_home(app, &other, &c.compound_b).await;
    issue_ok(app, &c.grid_b, &other.user_id, None).await;
    assert_eq!(
        my_card(app, &other).await["contacts"],
        json!([
            { "kind": "POLICE", "name": "南寒派出所", "phone": "0351 6111111" },
            { "kind": "BUILDING_LEADER", "name": "街道楼长办", "phone": "0351-6222222" },
            { "kind": "GRID_WORKER", "name": "区网格中心", "phone": "0351-6000000" },
            { "kind": "PROPERTY", "name": "区物业热线", "phone": "12345" },
        ])
    );

    // Who may set contacts: admins in scope only.
    for (who, area) in [
        (&c.admin_a, &c.street),
        (&c.admin_a, &c.compound_b),
        (&c.grid_a, &c.compound_a),
        (&c.holder, &c.compound_a),
    ] {
        assert_error(
            &set_contact(app, who, area, "POLICE", "某人", "110").await,
            "FORBIDDEN",
        );
    }
    assert_error(
        &set_contact(app, admin, "999999", "POLICE", "某人", "110").await,
        "NOT_FOUND",
    );
    assert_error(
        &app.op(
            None,
            "care",
            "SetAreaContact",
            json!({ "input": { "areaId": c.root, "kind": "POLICE", "name": "某人", "phone": "110" } }),
        )
        .await,
        "UNAUTHENTICATED",
    );
}

#[tokio::test]
async fn bad_contact_inputs_change_nothing() {
    let c = care().await;
    let app = &c.app;
    data(&set_contact(app, &c.admin_a, &c.compound_a, "POLICE", "王警官", "110").await);
    let long_name = "名".repeat(51);
    let long_phone = "1".repeat(33);
    for (name, phone) in [
        ("", "110"),
        ("   ", "110"),
        (long_name.as_str(), "110"),
        ("李警官", ""),
        ("李警官", long_phone.as_str()),
        ("李警官", "call 110"),
        ("李警官", "110#2"),
        ("李警官", "１１０"),
        ("李警官", "+-"),
    ] {
        assert_error(
            &set_contact(app, &c.admin_a, &c.compound_a, "POLICE", name, phone).await,
            "BAD_USER_INPUT",
        );
    }
    // Exactly at the limits is fine.
    let name50 = "名".repeat(50);
    let phone32 = "1".repeat(32);
    let resp = set_contact(
        app,
        &c.admin_a,
        &c.compound_a,
        "GRID_WORKER",
        &name50,
        &phone32,
    )
    .await;
    assert_eq!(data(&resp)["setAreaContact"]["name"], name50.as_str());

    issue_ok(app, &c.grid_a, &c.holder.user_id, None).await;
    assert_eq!(
        my_card(app, &c.holder).await["contacts"],
        json!([
            { "kind": "POLICE", "name": "王警官", "phone": "110" },
            { "kind": "GRID_WORKER", "name": name50, "phone": phone32 },
        ])
    );
    let rows = entity::prelude::AreaContact::find()
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
}

#[tokio::test]
async fn who_may_issue_a_card() {
    let c = care().await;
    let app = &c.app;
    let holder = c.holder.user_id.as_str();

    // Not staff, the wrong kind of staff, or staff of another community.
    for who in [
        &c.steward_a,
        &c.leader_a,
        &c.grid_b,
        &c.admin_b,
        &c.stranger,
    ] {
        assert_error(&issue(app, who, holder, None).await, "FORBIDDEN");
    }
    assert_error(&issue(app, &c.grid_a, "999999", None).await, "NOT_FOUND");
    let homeless = app.login("homeless").await;
    assert_error(
        &issue(app, &c.grid_a, &homeless.user_id, None).await,
        "BAD_USER_INPUT",
    );
    // A steward is refused before anything about the holder is told.
    assert_error(
        &issue(app, &c.steward_a, &homeless.user_id, None).await,
        "FORBIDDEN",
    );
    let long_note = "很".repeat(501);
    assert_error(
        &issue(app, &c.grid_a, holder, Some(&long_note)).await,
        "BAD_USER_INPUT",
    );
    assert!(
        entity::prelude::NeighborCard::find()
            .all(&app.db)
            .await
            .unwrap()
            .is_empty(),
        "refused issues write nothing"
    );

    let resp = issue(app, &c.grid_a, holder, Some(NOTE)).await;
    let issued = &data(&resp)["issueNeighborCard"];
    assert_eq!(issued["reason"], "ELDERLY_ALONE");
    assert_eq!(issued["holder"]["id"], holder);
    assert_error(&issue(app, &c.grid_a, holder, None).await, "CONFLICT");
    assert_error(
        &issue(app, &c.district_admin, holder, None).await,
        "CONFLICT",
    );

    // Admins at every level above the home issue too.
    for (name, who) in [("h1", &c.admin_a), ("h2", &c.district_admin)] {
        let resident = app.login(name).await;
        bind_home(app, &resident, &c.compound_a).await;
        issue_ok(app, who, &resident.user_id, Some("  ")).await;
        assert_eq!(my_card(app, &resident).await["reason"], "ELDERLY_ALONE");
    }
    app.grant("street-admin", Role::StreetAdmin, &c.street)
        .await;
    let street_admin = app.login("street-admin").await;
    let resident = app.login("h3").await;
    bind_home(app, &resident, &c.compound_b).await;
    issue_ok(app, &street_admin, &resident.user_id, None).await;
    assert!(my_card(app, &c.stranger).await.is_null());
}

#[tokio::test]
async fn each_kind_of_user_sees_what_they_may() {
    let c = care().await;
    let app = &c.app;
    data(
        &set_contact(
            app,
            &c.admin_a,
            &c.community_a,
            "GRID_WORKER",
            "张网格员",
            "13900000003",
        )
        .await,
    );
    let id = issue_ok(app, &c.grid_a, &c.holder.user_id, Some(NOTE)).await;

    // Pairing: the issuing staff only, never the holder with themself.
    for who in [
        &c.steward_a,
        &c.leader_a,
        &c.grid_b,
        &c.holder,
        &c.neighbour,
    ] {
        assert_error(
            &pair(app, who, &id, &c.neighbour.user_id).await,
            "FORBIDDEN",
        );
    }
    assert_error(
        &pair(app, &c.grid_a, &id, &c.holder.user_id).await,
        "BAD_USER_INPUT",
    );
    assert_error(&pair(app, &c.grid_a, &id, "999999").await, "NOT_FOUND");
    assert_error(
        &pair(app, &c.grid_a, "999999", &c.neighbour.user_id).await,
        "NOT_FOUND",
    );
    let resp = pair(app, &c.admin_a, &id, &c.neighbour.user_id).await;
    assert_eq!(
        data(&resp)["pairNeighbor"],
        json!({ "id": id, "pairedNeighbor": { "id": c.neighbour.user_id, "nickname": "李阿姨" } })
    );

    let contacts = json!([{ "kind": "GRID_WORKER", "name": "张网格员", "phone": "13900000003" }]);
    let whole = json!({
        "id": id,
        "reason": "ELDERLY_ALONE",
        "note": NOTE,
        "holder": { "id": c.holder.user_id, "nickname": "张奶奶" },
        "contacts": contacts,
    });
    // The holder, in-scope staff of every reading kind, and admins above see it whole.
    for who in [
        &c.holder,
        &c.grid_a,
        &c.leader_a,
        &c.admin_a,
        &c.district_admin,
    ] {
        let resp = card(app, who, &id).await;
        assert_eq!(data(&resp)["neighborCard"], whole);
    }
    // The paired neighbour: contacts, but neither the note nor the holder.
    let resp = card(app, &c.neighbour, &id).await;
    assert_eq!(
        data(&resp)["neighborCard"],
        json!({ "id": id, "reason": "ELDERLY_ALONE", "note": null, "holder": null, "contacts": contacts })
    );
    // Out of scope, the wrong kind of staff, strangers: nothing.
    for who in [&c.admin_b, &c.grid_b, &c.steward_a, &c.stranger] {
        assert_error(&card(app, who, &id).await, "FORBIDDEN");
    }
    assert_error(&card(app, &c.holder, "999999").await, "NOT_FOUND");
    assert_error(&card(app, &c.holder, "not-an-id").await, "NOT_FOUND");
    assert_error(
        &app.op(None, "care", "NeighborCard", json!({ "id": id }))
            .await,
        "UNAUTHENTICATED",
    );

    // The holder's own view names the paired neighbour.
    let mine = my_card(app, &c.holder).await;
    assert_eq!(mine["id"], id.as_str());
    assert_eq!(
        mine["pairedNeighbor"],
        json!({ "id": c.neighbour.user_id, "nickname": "李阿姨" })
    );
    assert!(my_card(app, &c.neighbour).await.is_null());

    // A new pairing replaces the old one: the former neighbour loses sight of the card.
    let other = app.login("other-neighbour").await;
    data(&pair(app, &c.grid_a, &id, &other.user_id).await);
    assert_error(&card(app, &c.neighbour, &id).await, "FORBIDDEN");
    assert!(data(&card(app, &other, &id).await)["neighborCard"]["note"].is_null());
}

#[tokio::test]
async fn the_note_is_stored_encrypted() {
    let c = care().await;
    let app = &c.app;
    let id = issue_ok(app, &c.grid_a, &c.holder.user_id, Some(NOTE)).await;
    let row = entity::prelude::NeighborCard::find_by_id(id.parse::<i64>().unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let stored = row.note_encrypted.expect("a note was written");
    assert!(!stored.contains(NOTE), "{stored}");
    assert!(!stored.contains("糖尿病"), "{stored}");
    assert!(stored.starts_with("v1:"), "{stored}");
    assert_eq!(row.area_id.to_string(), c.compound_a);
    let resp = card(app, &c.holder, &id).await;
    assert_eq!(data(&resp)["neighborCard"]["note"], NOTE);

    // Without a note the column stays empty and the field null.
    let resident = app.login("no-note").await;
    bind_home(app, &resident, &c.compound_a).await;
    let id = issue_ok(app, &c.grid_a, &resident.user_id, None).await;
    let row = entity::prelude::NeighborCard::find_by_id(id.parse::<i64>().unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(row.note_encrypted.is_none());
    assert!(data(&card(app, &c.grid_a, &id).await)["neighborCard"]["note"].is_null());
}

async fn create_item(app: &TestApp, who: &Session, area: &str, name: &str) -> String {
    let resp = app
        .op(
            Some(&who.access),
            "orders",
            "CreateServiceItem",
            json!({ "input": { "areaId": area, "name": name, "description": "" } }),
        )
        .await;
    data(&resp)["createServiceItem"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn services_are_those_offered_at_the_holders_home() {
    let c = care().await;
    let app = &c.app;
    let district_item = create_item(app, &c.district_admin, &c.root, "代缴水电费").await;
    let compound_item = create_item(app, &c.admin_a, &c.compound_a, "上门理发").await;
    create_item(app, &c.admin_b, &c.community_b, "代购药品").await;

    let id = issue_ok(app, &c.grid_a, &c.holder.user_id, None).await;
    let expected = json!([
        { "id": district_item, "name": "代缴水电费" },
        { "id": compound_item, "name": "上门理发" },
    ]);
    assert_eq!(my_card(app, &c.holder).await["services"], expected);
    data(&pair(app, &c.grid_a, &id, &c.neighbour.user_id).await);
    // The paired neighbour may order them for the holder.
    let resp = app
        .gql(
            Some(&c.neighbour.access),
            "query($id: ID!) { neighborCard(id: $id) { services { id name } holder { id } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        data(&resp)["neighborCard"],
        json!({ "services": expected, "holder": null })
    );
}

#[tokio::test]
async fn staff_list_the_cards_of_their_scope() {
    let c = care().await;
    let app = &c.app;
    let mut in_a = Vec::new();
    for i in 0..5 {
        let resident = app.login(&format!("a{i}")).await;
        bind_home(app, &resident, &c.compound_a).await;
        in_a.push(issue_ok(app, &c.grid_a, &resident.user_id, None).await);
    }
    let mut in_b = Vec::new();
    for i in 0..2 {
        let resident = app.login(&format!("b{i}")).await;
        bind_home(app, &resident, &c.compound_b).await;
        in_b.push(issue_ok(app, &c.grid_b, &resident.user_id, None).await);
    }
    let list = |who: Session, area: String, first: Option<i64>, after: Option<String>| async move {
        app.op(
            Some(&who.access),
            "care",
            "NeighborCards",
            json!({ "areaId": area, "first": first, "after": after }),
        )
        .await
    };

    // Two at a time through community A, newest first, no gaps or repeats.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let resp = list(c.leader_a.clone(), c.compound_a.clone(), Some(2), after).await;
        let conn = data(&resp)["neighborCards"].clone();
        assert_eq!(conn["totalCount"], 5);
        for edge in conn["edges"].as_array().unwrap() {
            assert!(edge["node"]["holder"]["nickname"].is_string());
            assert_eq!(edge["node"]["reason"], "ELDERLY_ALONE");
            seen.push(edge["node"]["id"].as_str().unwrap().to_owned());
        }
        if conn["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = Some(conn["pageInfo"]["endCursor"].as_str().unwrap().to_owned());
    }
    let mut expected = in_a.clone();
    expected.reverse();
    assert_eq!(seen, expected);

    // The street sees both communities; the admin of B only B's.
    let resp = list(c.district_admin.clone(), c.street.clone(), Some(100), None).await;
    assert_eq!(data(&resp)["neighborCards"]["totalCount"], 7);
    let resp = list(c.admin_b.clone(), c.community_b.clone(), None, None).await;
    let ids: Vec<&str> = data(&resp)["neighborCards"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![in_b[1].as_str(), in_b[0].as_str()]);

    // Out of scope, the wrong kind of staff, residents.
    for (who, area) in [
        (&c.admin_b, &c.community_a),
        (&c.grid_a, &c.street),
        (&c.leader_a, &c.community_a),
        (&c.steward_a, &c.community_a),
        (&c.holder, &c.compound_a),
    ] {
        assert_error(
            &list(who.clone(), area.clone(), None, None).await,
            "FORBIDDEN",
        );
    }
    assert_error(
        &list(c.district_admin.clone(), c.root.clone(), Some(101), None).await,
        "BAD_USER_INPUT",
    );
    assert_error(
        &list(
            c.district_admin.clone(),
            c.root.clone(),
            None,
            Some("garbage".into()),
        )
        .await,
        "BAD_USER_INPUT",
    );
    assert_error(
        &list(c.district_admin.clone(), "999999".into(), None, None).await,
        "NOT_FOUND",
    );
}
