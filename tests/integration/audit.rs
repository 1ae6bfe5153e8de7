use entity::role_grant::Role;
use serde_json::{Value, json};

use crate::helpers::{assert_error, data};
use crate::wishes::{make_member, neighbourhood};

const AUDIT_LOG: &str = "{ auditLog(first: 50) { totalCount edges { node { action targetType targetId detail actor { id } at } } } }";

#[tokio::test]
async fn admin_actions_leave_an_audit_trail() {
    let n = neighbourhood().await;
    let app = &n.app;
    let worker = app.login("worker").await;
    let resp = app
        .op(
            Some(&n.admin.access),
            "org",
            "GrantRole",
            json!({ "userId": worker.user_id, "role": "GRID_WORKER", "areaId": n.community_a }),
        )
        .await;
    data(&resp);
    let resp = app
        .op(
            Some(&n.admin.access),
            "points",
            "AwardPoints",
            json!({ "input": { "userId": n.member.user_id, "delta": -3, "reason": "更正", "sourceKey": "fix-9" } }),
        )
        .await;
    data(&resp);
    let resp = app
        .op(
            Some(&n.admin.access),
            "points",
            "SetPointRule",
            json!({ "action": "ORDER_COMPLETED", "points": 6 }),
        )
        .await;
    data(&resp);
    make_member(app, &n.admin, &n.org_a, "new-member").await;
    let resp = app
        .op(
            Some(&worker.access),
            "care",
            "IssueNeighborCard",
            json!({ "input": { "holderId": n.resident.user_id, "reason": "ELDERLY_ALONE", "note": "独居，行动不便" } }),
        )
        .await;
    let card = data(&resp)["issueNeighborCard"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = app
        .op(
            Some(&worker.access),
            "care",
            "NeighborCard",
            json!({ "id": card }),
        )
        .await;
    assert_eq!(data(&resp)["neighborCard"]["note"], "独居，行动不便");

    let resp = app.gql(Some(&n.admin.access), AUDIT_LOG, json!({})).await;
    let entries: Vec<Value> = data(&resp)["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // Newest first; the neighbourhood's own setup (a verification) is in there too.
    assert_eq!(
        &actions[..5],
        [
            "card.note_read",
            "member.verify",
            "points.rule",
            "points.correct",
            "role.grant"
        ]
    );
    assert_eq!(entries[0]["actor"]["id"], worker.user_id.as_str());
    assert_eq!(entries[0]["targetId"], card.as_str());
    assert!(
        !entries[0]["detail"].as_str().unwrap().contains("独居"),
        "no personal data in the audit log"
    );
    assert_eq!(entries[4]["targetId"], worker.user_id.as_str());
    assert!(
        entries[4]["detail"]
            .as_str()
            .unwrap()
            .contains("GRID_WORKER")
    );
    assert!(entries[3]["detail"].as_str().unwrap().contains("-3"));

    // Only district admins read it.
    app.grant("admin-a", Role::CommunityAdmin, &n.community_a)
        .await;
    let admin_a = app.login("admin-a").await;
    assert_error(
        &app.gql(Some(&admin_a.access), AUDIT_LOG, json!({})).await,
        "FORBIDDEN",
    );
}
