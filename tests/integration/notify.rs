use entity::role_grant::Role;
use serde_json::json;

use crate::helpers::{TestApp, data, eventually, redis_or_skip};
use crate::wishes::{neighbourhood, post_wish};

async fn subscribe(app: &TestApp, token: &str, templates: &[&str]) -> serde_json::Value {
    let resp = app
        .op(
            Some(token),
            "notify",
            "RecordSubscriptions",
            json!({ "templateIds": templates }),
        )
        .await;
    data(&resp)["recordSubscriptions"].clone()
}

#[tokio::test]
async fn messages_are_counted_against_acceptances() {
    let n = neighbourhood().await;
    let app = &n.app;
    let quota = subscribe(
        app,
        &n.resident.access,
        &["tpl-wish", "tpl-wish", "tpl-other"],
    )
    .await;
    assert_eq!(
        quota,
        json!([{ "templateId": "tpl-wish", "remaining": 2 }, { "templateId": "tpl-other", "remaining": 1 }])
    );
    let resp = app
        .op(
            Some(&n.resident.access),
            "notify",
            "RecordSubscriptions",
            json!({ "templateIds": [] }),
        )
        .await;
    crate::helpers::assert_error(&resp, "BAD_USER_INPUT");

    // Three notable changes, two acceptances: two messages.
    for title in ["一", "二"] {
        let id = post_wish(app, &n.resident, title).await;
        data(
            &app.op(
                Some(&n.member.access),
                "wishes",
                "ClaimWish",
                json!({ "id": id }),
            )
            .await,
        );
        if title == "二" {
            data(
                &app.op(
                    Some(&n.member.access),
                    "wishes",
                    "FulfillWish",
                    json!({ "id": id }),
                )
                .await,
            );
        }
    }
    eventually("two wish messages are sent", || {
        app.wechat.sent().len() == 2
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let sent = app.wechat.sent();
    assert_eq!(sent.len(), 2, "the third change found no acceptance left");
    assert!(
        sent.iter()
            .all(|m| m.touser == "o-resident" && m.template_id == "tpl-wish")
    );
    assert_eq!(sent[0].data["thing1"]["value"], "一");
    assert_eq!(sent[0].data["phrase2"]["value"], "已认领");
    assert!(sent[0].page.starts_with("pages/wishes/detail?id="));
    let quota = subscribe(app, &n.resident.access, &["tpl-wish"]).await;
    assert_eq!(
        quota[0]["remaining"], 1,
        "both earlier acceptances were spent"
    );
}

#[tokio::test]
async fn transient_failures_are_retried_and_refusals_dropped() {
    let n = neighbourhood().await;
    let app = &n.app;
    subscribe(app, &n.resident.access, &["tpl-wish"]).await;
    app.wechat.fail_next_sends(2);
    let id = post_wish(
        app,
        &n.resident,
        "陪聊天陪聊天陪聊天陪聊天陪聊天陪聊天陪聊天",
    )
    .await;
    data(
        &app.op(
            Some(&n.member.access),
            "wishes",
            "ClaimWish",
            json!({ "id": id }),
        )
        .await,
    );
    eventually("the message gets through after two -1 answers", || {
        app.wechat.sent().len() == 1
    })
    .await;
    assert!(app.wechat.send_attempts() >= 3);
    // Long titles are cut to WeChat's 20-character limit for `thing` fields (the fake enforces it).
    assert_eq!(
        app.wechat.sent()[0].data["thing1"]["value"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        20
    );

    // A user who refused (43101): dropped after one attempt, never retried.
    app.grant("refuser", Role::Resident, &n.compound_a).await;
    let refuser = app.login("refuser").await;
    crate::wishes::bind_home(app, &refuser, &n.compound_a).await;
    subscribe(app, &refuser.access, &["tpl-wish"]).await;
    let attempts = app.wechat.send_attempts();
    let id = post_wish(app, &refuser, "修门锁").await;
    data(
        &app.op(
            Some(&n.member.access),
            "wishes",
            "ClaimWish",
            json!({ "id": id }),
        )
        .await,
    );
    eventually("the refused message is tried", || {
        app.wechat.send_attempts() == attempts + 1
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(app.wechat.send_attempts(), attempts + 1);
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let dropped = entity::prelude::Outbox::find()
        .filter(entity::outbox::Column::Status.eq("DROPPED"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(dropped.len(), 1);
    assert!(
        dropped[0]
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("43101")
    );
}

#[tokio::test]
async fn two_nodes_never_send_a_message_twice() {
    if redis_or_skip("two_nodes_never_send_a_message_twice").is_none() {
        return;
    }
    let n = neighbourhood().await;
    let app = &n.app;
    let _node_b = app.second_node().await;
    let _node_c = app.second_node().await;
    let templates: Vec<&str> = vec!["tpl-wish"; 15];
    subscribe(app, &n.resident.access, &templates).await;
    for i in 0..15 {
        let id = post_wish(app, &n.resident, &format!("心愿{i}")).await;
        data(
            &app.op(
                Some(&n.member.access),
                "wishes",
                "ClaimWish",
                json!({ "id": id }),
            )
            .await,
        );
    }
    eventually("all fifteen messages are sent", || {
        app.wechat.sent().len() >= 15
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let sent = app.wechat.sent();
    assert_eq!(
        sent.len(),
        15,
        "three nodes' workers sent each message once"
    );
    let mut titles: Vec<String> = sent
        .iter()
        .map(|m| m.data["thing1"]["value"].as_str().unwrap().to_owned())
        .collect();
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), 15);
}

#[tokio::test]
async fn errand_changes_notify_the_resident_and_the_assignee() {
    let n = neighbourhood().await;
    let app = &n.app;
    app.grant("steward", Role::Steward, &n.community_a).await;
    let steward = app.login("steward").await;
    let resp = app
        .op(
            Some(&n.admin.access),
            "orders",
            "CreateServiceItem",
            json!({ "input": { "areaId": n.root, "name": "代缴水电费", "description": "" } }),
        )
        .await;
    let item = data(&resp)["createServiceItem"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    subscribe(
        app,
        &n.resident.access,
        &["tpl-order", "tpl-order", "tpl-order"],
    )
    .await;
    subscribe(app, &n.volunteer.access, &["tpl-order"]).await;
    let resp = app
        .op(
            Some(&n.resident.access),
            "orders",
            "PlaceOrder",
            json!({ "input": { "serviceItemId": item, "description": "代缴本月电费", "contactPhone": "13800001111" } }),
        )
        .await;
    let id = data(&resp)["placeOrder"]["id"].as_str().unwrap().to_owned();
    data(
        &app.op(
            Some(&steward.access),
            "orders",
            "AcceptOrder",
            json!({ "id": id }),
        )
        .await,
    );
    data(
        &app.op(
            Some(&steward.access),
            "orders",
            "DispatchOrder",
            json!({ "id": id, "assigneeId": n.volunteer.user_id }),
        )
        .await,
    );
    data(
        &app.op(
            Some(&n.volunteer.access),
            "orders",
            "CompleteOrder",
            json!({ "id": id }),
        )
        .await,
    );
    eventually("three errand messages are sent", || {
        app.wechat.sent().len() == 3
    })
    .await;
    let sent = app.wechat.sent();
    let to: Vec<(&str, &str)> = sent
        .iter()
        .map(|m| {
            (
                m.touser.as_str(),
                m.data["phrase2"]["value"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        to,
        [
            ("o-resident", "已接单"),
            ("o-volunteer", "待处理"),
            ("o-resident", "已完成")
        ]
    );
    assert!(sent.iter().all(|m| m.template_id == "tpl-order"));
}
