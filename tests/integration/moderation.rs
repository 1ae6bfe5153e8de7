//! Content security: every user text goes through msgSecCheck v2 before it is written. The fake
//! answers risky for 违禁, review for 待审 and -1 (busy) for 忙碌.

use entity::role_grant::Role;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, assert_error, data};
use crate::wishes::{Neighbourhood, neighbourhood};

const REJECTED: &str = "the content was rejected by content security";

fn assert_rejected(resp: &Value) {
    assert_error(resp, "BAD_USER_INPUT");
    assert_eq!(resp["errors"][0]["message"], REJECTED, "{resp}");
}

fn assert_retryable(resp: &Value) {
    assert_error(resp, "INTERNAL_SERVER_ERROR");
    assert_eq!(resp["errors"][0]["extensions"]["retryable"], true, "{resp}");
}

/// The (openid, scene, content) of the fake's latest check.
fn last_check(app: &TestApp) -> (String, i64, String) {
    let check = app.wechat.sec_checks().last().cloned().expect("no check");
    (check.openid, check.scene, check.content)
}

async fn post(app: &TestApp, who: &Session, title: &str, description: &str) -> Value {
    app.gql(
        Some(&who.access),
        "mutation($input: PostWishInput!) { postWish(input: $input) { id status needsReview } }",
        json!({ "input": { "title": title, "description": description, "category": "DAILY_HELP" } }),
    )
    .await
}

async fn my_wish_count(app: &TestApp, who: &Session) -> i64 {
    let resp = app
        .gql(
            Some(&who.access),
            "{ wishes(filter: { mine: true }) { totalCount } }",
            json!({}),
        )
        .await;
    data(&resp)["wishes"]["totalCount"].as_i64().unwrap()
}

#[tokio::test]
async fn a_wish_is_checked_before_it_is_posted() {
    let n = neighbourhood().await;
    let app = &n.app;
    let before = app.wechat.sec_check_calls();

    // Invalid input is refused before WeChat is asked.
    let resp = post(app, &n.resident, &"违禁".repeat(31), "想找人陪我去医院").await;
    assert_error(&resp, "BAD_USER_INPUT");
    assert_ne!(resp["errors"][0]["message"], REJECTED);
    assert_eq!(app.wechat.sec_check_calls(), before);

    assert_rejected(&post(app, &n.resident, "违禁的标题", "想找人陪我去医院").await);
    assert_rejected(&post(app, &n.resident, "陪诊", "描述里有违禁的话").await);
    assert_retryable(&post(app, &n.resident, "陪诊", "WeChat 忙碌").await);
    assert_eq!(my_wish_count(app, &n.resident).await, 0);

    let resp = post(app, &n.resident, "陪诊", "周三上午 待审 一下").await;
    let flagged = data(&resp)["postWish"].clone();
    assert_eq!(flagged["status"], "OPEN");
    assert_eq!(flagged["needsReview"], true);
    assert_eq!(
        last_check(app),
        ("o-resident".into(), 3, "周三上午 待审 一下".into())
    );

    let resp = post(app, &n.resident, "Walk the dog", "Twice a day, please").await;
    assert_eq!(data(&resp)["postWish"]["needsReview"], false);
    let checks = app.wechat.sec_checks();
    let titles: Vec<_> = checks.iter().rev().take(2).collect();
    assert_eq!(titles[1].content, "Walk the dog");
    assert_eq!(titles[0].content, "Twice a day, please");
    assert!(
        titles
            .iter()
            .all(|c| c.scene == 3 && c.openid == "o-resident")
    );
    assert_eq!(my_wish_count(app, &n.resident).await, 2);

    // Staff find the flagged ones.
    let resp = app
        .gql(
            Some(&n.admin.access),
            "{ wishes(filter: { needsReview: true }) { totalCount edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&resp)["wishes"]["totalCount"], 1);
    assert_eq!(
        data(&resp)["wishes"]["edges"][0]["node"]["id"],
        flagged["id"]
    );
}

#[tokio::test]
async fn a_fulfilment_note_is_checked_as_a_comment() {
    let n = neighbourhood().await;
    let app = &n.app;
    let resp = post(app, &n.resident, "修水龙头", "厨房的水龙头漏水").await;
    let id = data(&resp)["postWish"]["id"].as_str().unwrap().to_owned();
    let resp = app
        .op(
            Some(&n.member.access),
            "wishes",
            "ClaimWish",
            json!({ "id": id }),
        )
        .await;
    data(&resp);
    let fulfil = |note: &str| {
        app.gql(
            Some(&n.member.access),
            "mutation($id: ID!, $note: String) { fulfillWish(id: $id, note: $note) { id status needsReview } }",
            json!({ "id": id, "note": note }),
        )
    };
    let before = app.wechat.sec_check_calls();
    assert_error(&fulfil(&"修".repeat(201)).await, "BAD_USER_INPUT");
    assert_eq!(app.wechat.sec_check_calls(), before);
    assert_rejected(&fulfil("违禁").await);
    assert_eq!(last_check(app), ("o-member".into(), 2, "违禁".into()));
    assert_retryable(&fulfil("忙碌").await);
    let resp = app
        .gql(
            Some(&n.resident.access),
            "query($id: ID!) { wish(id: $id) { status needsReview events { action } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data(&resp)["wish"]["status"], "CLAIMED");
    assert_eq!(data(&resp)["wish"]["needsReview"], false);
    assert_eq!(data(&resp)["wish"]["events"].as_array().unwrap().len(), 2);

    let resp = fulfil("已修好，待审").await;
    assert_eq!(data(&resp)["fulfillWish"]["status"], "FULFILLED");
    assert_eq!(data(&resp)["fulfillWish"]["needsReview"], true);
}

/// The neighbourhood with a steward and property staff in community A and an item there.
async fn errands() -> (Neighbourhood, Session, Session, String) {
    let n = neighbourhood().await;
    let app = &n.app;
    app.grant("steward", Role::Steward, &n.community_a).await;
    app.grant("property", Role::PropertyStaff, &n.community_a)
        .await;
    let steward = app.login("steward").await;
    let property = app.login("property").await;
    let resp = app
        .op(
            Some(&n.admin.access),
            "orders",
            "CreateServiceItem",
            json!({ "input": { "areaId": n.community_a, "name": "代买药品", "description": "上门服务" } }),
        )
        .await;
    let item = data(&resp)["createServiceItem"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (n, steward, property, item)
}

const ORDER_FIELDS: &str = "id status needsReview rejectReason rating { stars comment }";

async fn place(app: &TestApp, who: &Session, item: &str, description: &str) -> Value {
    app.gql(
        Some(&who.access),
        &format!("mutation($input: PlaceOrderInput!) {{ placeOrder(input: $input) {{ {ORDER_FIELDS} }} }}"),
        json!({ "input": { "serviceItemId": item, "description": description, "contactPhone": "13912345678" } }),
    )
    .await
}

async fn order(app: &TestApp, who: &Session, id: &str) -> Value {
    let resp = app
        .gql(
            Some(&who.access),
            &format!("query($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}"),
            json!({ "id": id }),
        )
        .await;
    data(&resp)["order"].clone()
}

async fn step(app: &TestApp, who: &Session, call: &str, vars: Value) -> Value {
    let name = call.split('(').next().unwrap();
    let resp = app
        .gql(
            Some(&who.access),
            &format!("mutation($id: ID!, $text: String!) {{ {call} {{ {ORDER_FIELDS} }} }}"),
            vars,
        )
        .await;
    if resp.get("errors").is_none() {
        return resp["data"][name].clone();
    }
    resp
}

#[tokio::test]
async fn errand_texts_are_checked_at_every_step() {
    let (n, steward, property, item) = errands().await;
    let app = &n.app;
    let count = || async {
        let resp = app
            .gql(
                Some(&n.resident.access),
                "{ orders(filter: { mine: true }) { totalCount } }",
                json!({}),
            )
            .await;
        data(&resp)["orders"]["totalCount"].as_i64().unwrap()
    };

    // Placing: scene 3, by the resident.
    let before = app.wechat.sec_check_calls();
    assert_error(
        &place(app, &n.resident, &item, &"药".repeat(501)).await,
        "BAD_USER_INPUT",
    );
    assert_eq!(app.wechat.sec_check_calls(), before);
    assert_rejected(&place(app, &n.resident, &item, "买点违禁品").await);
    assert_eq!(
        last_check(app),
        ("o-resident".into(), 3, "买点违禁品".into())
    );
    assert_retryable(&place(app, &n.resident, &item, "忙碌").await);
    assert_eq!(count().await, 0);
    let resp = place(app, &n.resident, &item, "帮忙取药，待审").await;
    assert_eq!(data(&resp)["placeOrder"]["needsReview"], true);
    let resp = place(app, &n.resident, &item, "帮忙取药").await;
    assert_eq!(data(&resp)["placeOrder"]["needsReview"], false);
    let id = data(&resp)["placeOrder"]["id"].as_str().unwrap().to_owned();
    assert_eq!(count().await, 2);

    // Rejecting: the steward's reason, scene 2.
    let reject = "rejectOrder(id: $id, reason: $text)";
    let with = |text: &str| json!({ "id": id, "text": text });
    assert_error(
        &step(app, &steward, reject, with(&"不".repeat(201))).await,
        "BAD_USER_INPUT",
    );
    assert_rejected(&step(app, &steward, reject, with("违禁理由")).await);
    assert_eq!(last_check(app), ("o-steward".into(), 2, "违禁理由".into()));
    assert_retryable(&step(app, &steward, reject, with("忙碌")).await);
    let now = order(app, &n.resident, &id).await;
    assert_eq!(now["status"], "PLACED");
    assert_eq!(now["rejectReason"], Value::Null);
    let other = data(&place(app, &n.resident, &item, "再买一次药").await)["placeOrder"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rejected = step(
        app,
        &steward,
        reject,
        json!({ "id": other, "text": "超出范围，待审" }),
    )
    .await;
    assert_eq!(rejected["status"], "REJECTED");
    assert_eq!(rejected["needsReview"], true);

    // Completing: the assignee's note, scene 2.
    let resp = app
        .op(
            Some(&steward.access),
            "orders",
            "AcceptOrder",
            json!({ "id": id }),
        )
        .await;
    data(&resp);
    let resp = app
        .op(
            Some(&steward.access),
            "orders",
            "DispatchOrder",
            json!({ "id": id, "assigneeId": property.user_id }),
        )
        .await;
    data(&resp);
    let complete = "completeOrder(id: $id, note: $text)";
    assert_rejected(&step(app, &property, complete, with("违禁备注")).await);
    assert_eq!(last_check(app), ("o-property".into(), 2, "违禁备注".into()));
    assert_retryable(&step(app, &property, complete, with("忙碌")).await);
    assert_eq!(order(app, &n.resident, &id).await["status"], "DISPATCHED");
    let done = step(app, &property, complete, with("已送到")).await;
    assert_eq!(done["status"], "COMPLETED");
    assert_eq!(done["needsReview"], false);

    // Rating: the resident's comment, scene 2.
    let rate = "rateOrder(id: $id, stars: 5, comment: $text)";
    assert_error(
        &step(app, &n.resident, rate, with(&"好".repeat(201))).await,
        "BAD_USER_INPUT",
    );
    assert_rejected(&step(app, &n.resident, rate, with("违禁评价")).await);
    assert_eq!(last_check(app), ("o-resident".into(), 2, "违禁评价".into()));
    assert_retryable(&step(app, &n.resident, rate, with("忙碌")).await);
    let now = order(app, &n.resident, &id).await;
    assert_eq!(now["status"], "COMPLETED");
    assert_eq!(now["rating"], Value::Null);
    let rated = step(app, &n.resident, rate, with("很好，待审")).await;
    assert_eq!(rated["status"], "RATED");
    assert_eq!(rated["needsReview"], true);
    assert_eq!(rated["rating"]["comment"], "很好，待审");
}

#[tokio::test]
async fn a_nickname_is_checked_as_profile() {
    let n = neighbourhood().await;
    let app = &n.app;
    let rename = |nickname: String| {
        app.op(
            Some(&n.resident.access),
            "identity",
            "UpdateProfile",
            json!({ "input": { "nickname": nickname } }),
        )
    };
    let nickname = || async {
        let resp = app
            .op(Some(&n.resident.access), "identity", "Me", json!({}))
            .await;
        data(&resp)["me"]["nickname"].as_str().unwrap().to_owned()
    };
    let original = nickname().await;
    let before = app.wechat.sec_check_calls();
    assert_error(&rename("违".repeat(33)).await, "BAD_USER_INPUT");
    assert_eq!(app.wechat.sec_check_calls(), before);
    assert_rejected(&rename("违禁昵称".into()).await);
    assert_eq!(last_check(app), ("o-resident".into(), 1, "违禁昵称".into()));
    assert_retryable(&rename("忙碌".into()).await);
    assert_eq!(nickname().await, original);
    data(&rename("待审的人".into()).await);
    assert_eq!(nickname().await, "待审的人");
    data(&rename("王阿姨".into()).await);
    assert_eq!(nickname().await, "王阿姨");
    // An avatar alone has no text to check.
    let calls = app.wechat.sec_check_calls();
    let resp = app
        .op(
            Some(&n.resident.access),
            "identity",
            "UpdateProfile",
            json!({ "input": { "avatarUrl": "https://example.com/a.png" } }),
        )
        .await;
    data(&resp);
    assert_eq!(app.wechat.sec_check_calls(), calls);
}

#[tokio::test]
async fn a_card_note_is_checked() {
    let n = neighbourhood().await;
    let app = &n.app;
    let issue = |note: &str| {
        app.gql(
            Some(&n.admin.access),
            "mutation($input: IssueNeighborCardInput!) { issueNeighborCard(input: $input) { id needsReview } }",
            json!({ "input": { "holderId": n.resident.user_id, "reason": "ELDERLY_ALONE", "note": note } }),
        )
    };
    let before = app.wechat.sec_check_calls();
    assert_error(&issue(&"注".repeat(501)).await, "BAD_USER_INPUT");
    assert_eq!(app.wechat.sec_check_calls(), before);
    assert_rejected(&issue("违禁备注").await);
    assert_eq!(last_check(app), ("o-admin".into(), 3, "违禁备注".into()));
    assert_retryable(&issue("忙碌").await);
    let resp = app
        .gql(
            Some(&n.admin.access),
            "query($area: ID!) { neighborCards(areaId: $area) { totalCount } }",
            json!({ "area": n.root }),
        )
        .await;
    assert_eq!(data(&resp)["neighborCards"]["totalCount"], 0);
    let resp = issue("独居，待审").await;
    assert_eq!(data(&resp)["issueNeighborCard"]["needsReview"], true);
}

#[tokio::test]
async fn a_replaced_access_token_is_fetched_again_once() {
    let n = neighbourhood().await;
    let app = &n.app;
    data(&post(app, &n.resident, "陪诊", "周三上午").await);
    let tokens = app.wechat.stable_token_calls();
    app.wechat.rotate_access_token();
    let resp = post(app, &n.resident, "陪诊", "周四上午").await;
    assert_eq!(data(&resp)["postWish"]["needsReview"], false);
    assert_eq!(app.wechat.stable_token_calls(), tokens + 1);
}

#[tokio::test]
async fn without_a_wechat_app_every_text_passes_unchecked() {
    let app = TestApp::spawn_with(|vars| {
        vars.remove("WECHAT_APPID");
        vars.remove("WECHAT_SECRET");
    })
    .await;
    let resp = app
        .op(None, "identity", "DevLogin", json!({ "openid": "o-dev" }))
        .await;
    let token = data(&resp)["devLogin"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = app
        .op(
            Some(&token),
            "identity",
            "UpdateProfile",
            json!({ "input": { "nickname": "违禁也行" } }),
        )
        .await;
    assert_eq!(data(&resp)["updateProfile"]["nickname"], "违禁也行");
    assert_eq!(app.wechat.sec_check_calls(), 0);
}
