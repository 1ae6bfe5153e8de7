use entity::role_grant::Role;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, assert_error, data};

/// A district with two sibling communities under one street, and an admin for each.
struct District {
    app: TestApp,
    root: String,
    street: String,
    community_a: String,
    community_b: String,
    district_admin: Session,
    admin_a: Session,
}

async fn district() -> District {
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
    app.grant("admin-a", Role::CommunityAdmin, &community_a)
        .await;
    let admin_a = app.login("admin-a").await;
    District {
        app,
        root,
        street,
        community_a,
        community_b,
        district_admin,
        admin_a,
    }
}

#[tokio::test]
async fn the_area_tree_reads_and_grows_by_kind() {
    let d = district().await;
    let app = &d.app;
    let resp = app
        .op(Some(&d.admin_a.access), "org", "RootArea", json!({}))
        .await;
    assert_eq!(
        data(&resp)["rootArea"],
        json!({ "id": d.root, "name": "万柏林区", "kind": "DISTRICT" })
    );
    assert_error(
        &app.op(None, "org", "RootArea", json!({})).await,
        "UNAUTHENTICATED",
    );

    let resp = app
        .op(
            Some(&d.admin_a.access),
            "org",
            "Area",
            json!({ "id": d.street }),
        )
        .await;
    let street = &data(&resp)["area"];
    assert_eq!(street["parent"]["id"], d.root.as_str());
    assert_eq!(
        street["children"],
        json!([
            { "id": d.community_a, "name": "南寒社区", "kind": "COMMUNITY" },
            { "id": d.community_b, "name": "千峰社区", "kind": "COMMUNITY" }
        ])
    );
    let resp = app
        .op(
            Some(&d.admin_a.access),
            "org",
            "Area",
            json!({ "id": "424242" }),
        )
        .await;
    assert_error(&resp, "NOT_FOUND");

    // COMMUNITY -> COMPOUND -> GRID -> BUILDING, and BUILDING straight under COMPOUND.
    let compound = app
        .create_area(&d.admin_a, &d.community_a, "COMPOUND", "金泽华府")
        .await;
    let grid = app
        .create_area(&d.admin_a, &compound, "GRID", "第一网格")
        .await;
    app.create_area(&d.admin_a, &grid, "BUILDING", "1号楼")
        .await;
    let resp = app
        .op(
            Some(&d.admin_a.access),
            "org",
            "CreateArea",
            json!({ "input": { "parentId": compound, "kind": "BUILDING", "name": "2号楼" } }),
        )
        .await;
    assert_eq!(data(&resp)["createArea"]["parent"]["id"], compound.as_str());

    let cases: Vec<(Value, &str)> = vec![
        (
            json!({ "parentId": d.community_a, "kind": "BUILDING", "name": "x" }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "parentId": d.community_a, "kind": "STREET", "name": "x" }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "parentId": d.community_a, "kind": "DISTRICT", "name": "x" }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "parentId": compound, "kind": "COMPOUND", "name": "x" }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "parentId": d.community_a, "kind": "COMPOUND", "name": "" }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "parentId": d.community_a, "kind": "COMPOUND", "name": "名".repeat(51) }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "parentId": d.community_a, "kind": "CASTLE", "name": "x" }),
            "BAD_USER_INPUT",
        ),
        (
            json!({ "parentId": d.community_a, "kind": "COMPOUND", "name": "金泽华府" }),
            "CONFLICT",
        ),
        (
            json!({ "parentId": "777777", "kind": "COMPOUND", "name": "x" }),
            "NOT_FOUND",
        ),
        (
            json!({ "parentId": d.community_b, "kind": "COMPOUND", "name": "x" }),
            "FORBIDDEN",
        ),
    ];
    for (input, code) in cases {
        let resp = app
            .op(
                Some(&d.admin_a.access),
                "org",
                "CreateArea",
                json!({ "input": input }),
            )
            .await;
        assert_error(&resp, code);
    }
    // None of the refused inputs left a trace.
    let resp = app
        .op(
            Some(&d.admin_a.access),
            "org",
            "Area",
            json!({ "id": d.community_a }),
        )
        .await;
    assert_eq!(data(&resp)["area"]["children"].as_array().unwrap().len(), 1);
    let resp = app
        .op(
            Some(&d.admin_a.access),
            "org",
            "Area",
            json!({ "id": d.community_b }),
        )
        .await;
    assert_eq!(data(&resp)["area"]["children"], json!([]));

    // A resident may read but not build.
    let resident = app.login("resident").await;
    let resp = app
        .op(
            Some(&resident.access),
            "org",
            "CreateArea",
            json!({ "input": { "parentId": d.community_a, "kind": "COMPOUND", "name": "y" } }),
        )
        .await;
    assert_error(&resp, "FORBIDDEN");
}

#[tokio::test]
async fn roles_are_granted_within_scope_and_no_higher_than_ones_own() {
    let d = district().await;
    let app = &d.app;
    let worker = app.login("worker").await;
    let grant =
        |role: &str, area: &str| json!({ "userId": worker.user_id, "role": role, "areaId": area });

    let resp = app
        .op(
            Some(&d.admin_a.access),
            "org",
            "GrantRole",
            grant("GRID_WORKER", &d.community_a),
        )
        .await;
    assert_eq!(
        data(&resp)["grantRole"]["roles"],
        json!([{ "role": "GRID_WORKER", "area": { "id": d.community_a } }])
    );
    // Granting it again changes nothing.
    let resp = app
        .op(
            Some(&d.admin_a.access),
            "org",
            "GrantRole",
            grant("GRID_WORKER", &d.community_a),
        )
        .await;
    assert_eq!(
        data(&resp)["grantRole"]["roles"].as_array().unwrap().len(),
        1
    );

    // The sibling community is outside admin A's scope; a higher role is beyond their own.
    for (vars, code) in [
        (grant("GRID_WORKER", &d.community_b), "FORBIDDEN"),
        (grant("STREET_ADMIN", &d.community_a), "FORBIDDEN"),
        (grant("COMMUNITY_ADMIN", &d.street), "FORBIDDEN"),
        (grant("GRID_WORKER", "31337"), "NOT_FOUND"),
        (
            json!({ "userId": "31337", "role": "GRID_WORKER", "areaId": d.community_a }),
            "NOT_FOUND",
        ),
        (grant("OVERLORD", &d.community_a), "BAD_USER_INPUT"),
    ] {
        let resp = app
            .op(Some(&d.admin_a.access), "org", "GrantRole", vars)
            .await;
        assert_error(&resp, code);
    }
    // The grid worker, though staff, is no admin and may grant nothing.
    let resp = app
        .op(
            Some(&worker.access),
            "org",
            "GrantRole",
            grant("RESIDENT", &d.community_a),
        )
        .await;
    assert_error(&resp, "FORBIDDEN");

    // An equal role is fine; the district admin may do it anywhere.
    let resp = app
        .op(
            Some(&d.admin_a.access),
            "org",
            "GrantRole",
            grant("COMMUNITY_ADMIN", &d.community_a),
        )
        .await;
    assert_eq!(
        data(&resp)["grantRole"]["roles"].as_array().unwrap().len(),
        2
    );
    let resp = app
        .op(
            Some(&d.district_admin.access),
            "org",
            "GrantRole",
            grant("STEWARD", &d.community_b),
        )
        .await;
    assert_eq!(
        data(&resp)["grantRole"]["roles"].as_array().unwrap().len(),
        3
    );

    // Revoking follows the same scope rules.
    let resp = app
        .op(
            Some(&d.admin_a.access),
            "org",
            "RevokeRole",
            grant("STEWARD", &d.community_b),
        )
        .await;
    assert_error(&resp, "FORBIDDEN");
    let resp = app
        .op(
            Some(&d.admin_a.access),
            "org",
            "RevokeRole",
            grant("GRID_WORKER", &d.community_a),
        )
        .await;
    let roles = data(&resp)["revokeRole"]["roles"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        roles.iter().all(|r| r["role"] != "GRID_WORKER"),
        "{roles:?}"
    );
    let resp = app
        .op(
            Some(&d.admin_a.access),
            "org",
            "RevokeRole",
            grant("GRID_WORKER", &d.community_a),
        )
        .await;
    assert_error(&resp, "NOT_FOUND");

    let me = app
        .op(Some(&worker.access), "identity", "Me", json!({}))
        .await;
    let roles: Vec<String> = data(&me)["me"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["role"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(roles, ["COMMUNITY_ADMIN", "STEWARD"]);
}

async fn create_org(
    app: &TestApp,
    admin: &Session,
    area: &str,
    parent: Option<&str>,
    name: &str,
) -> Value {
    app.op(
        Some(&admin.access),
        "org",
        "CreatePartyOrg",
        json!({ "input": { "areaId": area, "parentId": parent, "name": name } }),
    )
    .await
}

#[tokio::test]
async fn party_organisations_and_members_from_registration_to_verification() {
    let d = district().await;
    let app = &d.app;
    let resp = create_org(app, &d.district_admin, &d.root, None, "万柏林区委").await;
    let top = data(&resp)["createPartyOrg"].clone();
    assert_eq!(top["parent"], Value::Null);
    assert_eq!(top["area"]["id"], d.root.as_str());
    let top_id = top["id"].as_str().unwrap().to_owned();
    let resp = create_org(
        app,
        &d.admin_a,
        &d.community_a,
        Some(&top_id),
        "南寒社区党委",
    )
    .await;
    let org_a = data(&resp)["createPartyOrg"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        data(&resp)["createPartyOrg"]["parent"]["id"],
        top_id.as_str()
    );
    let resp = create_org(
        app,
        &d.district_admin,
        &d.community_b,
        Some(&top_id),
        "千峰社区党委",
    )
    .await;
    let org_b = data(&resp)["createPartyOrg"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A child's area must lie under its parent's; scope and names are checked as for areas.
    assert_error(
        &create_org(app, &d.district_admin, &d.community_a, Some(&org_b), "x").await,
        "BAD_USER_INPUT",
    );
    assert_error(
        &create_org(app, &d.admin_a, &d.community_b, Some(&top_id), "x").await,
        "FORBIDDEN",
    );
    assert_error(
        &create_org(app, &d.admin_a, &d.community_a, Some(&top_id), "").await,
        "BAD_USER_INPUT",
    );
    assert_error(
        &create_org(app, &d.admin_a, &d.community_a, Some("5555"), "x").await,
        "NOT_FOUND",
    );

    let register = |org: &str, category: &str, unit: Option<&str>| json!({ "input": { "partyOrgId": org, "category": category, "workUnit": unit } });
    let member = app.login("member").await;
    let resp = app
        .op(
            Some(&member.access),
            "org",
            "RegisterPartyMember",
            register(&org_a, "IN_SERVICE", None),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT");
    let resp = app
        .op(
            Some(&member.access),
            "org",
            "RegisterPartyMember",
            register(&org_a, "IN_SERVICE", Some("区人民医院")),
        )
        .await;
    let registration = data(&resp)["registerPartyMember"].clone();
    assert_eq!(registration["status"], "PENDING");
    assert_eq!(registration["category"], "IN_SERVICE");
    assert_eq!(registration["workUnit"], "区人民医院");
    assert_eq!(registration["partyOrg"]["id"], org_a.as_str());
    let member_id = registration["id"].as_str().unwrap().to_owned();
    let resp = app
        .op(
            Some(&member.access),
            "org",
            "RegisterPartyMember",
            register(&org_b, "RETIRED", None),
        )
        .await;
    assert_error(&resp, "CONFLICT");

    // Only an admin whose scope covers the organisation answers, and only once.
    let verify = |approve: bool| json!({ "id": member_id, "approve": approve });
    let admin_b_user = app.login("admin-b").await;
    app.grant("admin-b", Role::CommunityAdmin, &d.community_b)
        .await;
    let resp = app
        .op(
            Some(&admin_b_user.access),
            "org",
            "VerifyPartyMember",
            verify(true),
        )
        .await;
    assert_error(&resp, "FORBIDDEN");
    let resp = app
        .op(
            Some(&member.access),
            "org",
            "VerifyPartyMember",
            verify(true),
        )
        .await;
    assert_error(&resp, "FORBIDDEN");
    let resp = app
        .op(
            Some(&d.admin_a.access),
            "org",
            "VerifyPartyMember",
            json!({ "id": "999", "approve": true }),
        )
        .await;
    assert_error(&resp, "NOT_FOUND");
    let resp = app
        .op(
            Some(&d.admin_a.access),
            "org",
            "VerifyPartyMember",
            verify(true),
        )
        .await;
    assert_eq!(
        data(&resp)["verifyPartyMember"],
        json!({ "id": member_id, "status": "ACTIVE" })
    );
    let resp = app
        .op(
            Some(&d.admin_a.access),
            "org",
            "VerifyPartyMember",
            verify(false),
        )
        .await;
    assert_error(&resp, "CONFLICT");

    // A rejected applicant may register again.
    let other = app.login("applicant").await;
    let resp = app
        .op(
            Some(&other.access),
            "org",
            "RegisterPartyMember",
            register(&org_a, "FLOATING", None),
        )
        .await;
    let other_id = data(&resp)["registerPartyMember"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = app
        .op(
            Some(&d.admin_a.access),
            "org",
            "VerifyPartyMember",
            json!({ "id": other_id, "approve": false }),
        )
        .await;
    assert_eq!(data(&resp)["verifyPartyMember"]["status"], "REJECTED");
    let resp = app
        .op(
            Some(&other.access),
            "org",
            "RegisterPartyMember",
            register(&org_a, "RETIRED", None),
        )
        .await;
    assert_eq!(data(&resp)["registerPartyMember"]["status"], "PENDING");
    assert_eq!(data(&resp)["registerPartyMember"]["id"], other_id.as_str());
}

#[tokio::test]
async fn party_members_page_with_stable_cursors() {
    let d = district().await;
    let app = &d.app;
    let resp = create_org(app, &d.admin_a, &d.community_a, None, "南寒社区党委").await;
    let org = data(&resp)["createPartyOrg"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ids = Vec::new();
    for i in 0..5 {
        let s = app.login(&format!("m{i}")).await;
        let resp = app
            .op(
                Some(&s.access),
                "org",
                "RegisterPartyMember",
                json!({ "input": { "partyOrgId": org, "category": "RETIRED" } }),
            )
            .await;
        ids.push(
            data(&resp)["registerPartyMember"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    app.op(
        Some(&d.admin_a.access),
        "org",
        "VerifyPartyMember",
        json!({ "id": ids[1], "approve": true }),
    )
    .await;

    let page = |first: Option<i64>, after: Option<String>, status: Option<&str>| json!({ "partyOrgId": org, "first": first, "after": after, "status": status });
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let resp = app
            .op(
                Some(&d.admin_a.access),
                "org",
                "PartyMembers",
                page(Some(2), after.clone(), None),
            )
            .await;
        let conn = data(&resp)["partyMembers"].clone();
        assert_eq!(conn["totalCount"], 5);
        for edge in conn["edges"].as_array().unwrap() {
            seen.push(edge["node"]["id"].as_str().unwrap().to_owned());
            assert!(edge["node"]["user"]["nickname"].is_string());
        }
        if conn["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = Some(conn["pageInfo"]["endCursor"].as_str().unwrap().to_owned());
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    let resp = app
        .op(
            Some(&d.admin_a.access),
            "org",
            "PartyMembers",
            page(None, None, Some("ACTIVE")),
        )
        .await;
    let conn = &data(&resp)["partyMembers"];
    assert_eq!(conn["totalCount"], 1);
    assert_eq!(conn["edges"][0]["node"]["id"], ids[1].as_str());
    assert_eq!(conn["edges"][0]["node"]["status"], "ACTIVE");

    for (vars, code) in [
        (page(Some(101), None, None), "BAD_USER_INPUT"),
        (page(Some(-1), None, None), "BAD_USER_INPUT"),
        (
            page(Some(2), Some("not-a-cursor".into()), None),
            "BAD_USER_INPUT",
        ),
    ] {
        assert_error(
            &app.op(Some(&d.admin_a.access), "org", "PartyMembers", vars)
                .await,
            code,
        );
    }
    let resp = app
        .op(
            Some(&d.admin_a.access),
            "org",
            "PartyMembers",
            page(Some(100), None, None),
        )
        .await;
    assert_eq!(
        data(&resp)["partyMembers"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        5
    );

    // Members are visible to admins in scope only.
    app.grant("admin-b", Role::CommunityAdmin, &d.community_b)
        .await;
    let admin_b = app.login("admin-b").await;
    let resp = app
        .op(
            Some(&admin_b.access),
            "org",
            "PartyMembers",
            page(None, None, None),
        )
        .await;
    assert_error(&resp, "FORBIDDEN");
    let resp = app
        .op(
            Some(&d.district_admin.access),
            "org",
            "PartyMembers",
            page(None, None, None),
        )
        .await;
    assert_eq!(data(&resp)["partyMembers"]["totalCount"], 5);
}

#[tokio::test]
async fn admin_grant_on_the_command_line_bootstraps_the_first_admin() {
    let app = TestApp::spawn().await;
    let bin = env!("CARGO_BIN_EXE_emulin");
    let run = |args: &[&str]| {
        std::process::Command::new(bin)
            .args(args)
            .env_clear()
            .env("DATABASE_URL", &app.config.database_url)
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    };
    let out = run(&[
        "admin",
        "grant",
        "--openid",
        "o-boss",
        "--role",
        "DISTRICT_ADMIN",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let boss = app.login("boss").await;
    let me = app
        .op(Some(&boss.access), "identity", "Me", json!({}))
        .await;
    assert_eq!(data(&me)["me"]["roles"][0]["role"], "DISTRICT_ADMIN");
    assert_eq!(data(&me)["me"]["roles"][0]["area"]["kind"], "DISTRICT");

    let out = run(&["admin", "grant", "--openid", "o-boss", "--role", "EMPEROR"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown role 'EMPEROR'"));
    let out = run(&[
        "admin", "grant", "--openid", "o-boss", "--role", "STEWARD", "--area", "999999",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("area 999999"));
}
