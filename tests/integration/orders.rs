use entity::role_grant::Role;
use futures::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, assert_error, data, error_code, redis_or_skip};
use crate::wishes::{Neighbourhood, neighbourhood};

/// The neighbourhood plus errand staff: a steward and property staff in community A, a grid
/// worker in community B, and catalogue items at the district, community A and community B.
pub(crate) struct Errands {
    pub(crate) n: Neighbourhood,
    pub(crate) steward: Session,
    pub(crate) grid_b: Session,
    pub(crate) property: Session,
    pub(crate) district_item: String,
    pub(crate) item_a: String,
    pub(crate) item_b: String,
}

async fn create_item(app: &TestApp, admin: &Session, area: &str, name: &str) -> String {
    let resp = app
        .op(
            Some(&admin.access),
            "orders",
            "CreateServiceItem",
            json!({ "input": { "areaId": area, "name": name, "description": "上门服务" } }),
        )
        .await;
    data(&resp)["createServiceItem"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) async fn errands() -> Errands {
    let n = neighbourhood().await;
    let app = &n.app;
    app.grant("steward", Role::Steward, &n.community_a).await;
    app.grant("grid-b", Role::GridWorker, &n.community_b).await;
    app.grant("property", Role::PropertyStaff, &n.community_a)
        .await;
    let steward = app.login("steward").await;
    let grid_b = app.login("grid-b").await;
    let property = app.login("property").await;
    let district_item = create_item(app, &n.admin, &n.root, "代缴水电费").await;
    let item_a = create_item(app, &n.admin, &n.community_a, "代买药品").await;
    let item_b = create_item(app, &n.admin, &n.community_b, "助浴服务").await;
    Errands {
        n,
        steward,
        grid_b,
        property,
        district_item,
        item_a,
        item_b,
    }
}

async fn place(app: &TestApp, who: &Session, item: &str) -> Value {
    app.op(
        Some(&who.access),
        "orders",
        "PlaceOrder",
        json!({ "input": { "serviceItemId": item, "description": "帮忙取药", "contactPhone": "13912345678" } }),
    )
    .await
}

pub(crate) async fn placed(app: &TestApp, who: &Session, item: &str) -> String {
    data(&place(app, who, item).await)["placeOrder"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn act(app: &TestApp, who: &Session, operation: &str, vars: Value) -> Value {
    app.op(Some(&who.access), "orders", operation, vars).await
}

#[tokio::test]
async fn the_catalogue_is_inherited_from_above() {
    let e = errands().await;
    let app = &e.n.app;
    let resp = app
        .op(
            Some(&e.n.resident.access),
            "orders",
            "ServiceItems",
            json!({ "areaId": e.n.compound_a }),
        )
        .await;
    let names: Vec<&str> = data(&resp)["serviceItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["代缴水电费", "代买药品"]);
    let resp = app
        .op(
            Some(&e.n.resident.access),
            "orders",
            "ServiceItems",
            json!({ "areaId": e.n.compound_b }),
        )
        .await;
    assert_eq!(data(&resp)["serviceItems"].as_array().unwrap().len(), 2);
    assert_eq!(
        data(&resp)["serviceItems"][1]["area"]["id"],
        e.n.community_b.as_str()
    );

    // Only admins in scope add items, with valid names, once per area.
    app.grant("admin-a", Role::CommunityAdmin, &e.n.community_a)
        .await;
    let admin_a = app.login("admin-a").await;
    for (who, area, name, code) in [
        (&admin_a, &e.n.community_b, "x", "FORBIDDEN"),
        (&e.steward, &e.n.community_a, "x", "FORBIDDEN"),
        (&admin_a, &e.n.community_a, "", "BAD_USER_INPUT"),
        (&admin_a, &e.n.community_a, "代买药品", "CONFLICT"),
    ] {
        let resp = app
            .op(
                Some(&who.access),
                "orders",
                "CreateServiceItem",
                json!({ "input": { "areaId": area, "name": name, "description": "" } }),
            )
            .await;
        assert_error(&resp, code);
    }
    let _ = (
        &e.district_item,
        &e.grid_b,
        &e.property,
        &e.item_b,
        &e.item_a,
    );
}

#[tokio::test]
async fn an_errand_from_order_to_rating_with_points_at_the_end() {
    let e = errands().await;
    let (app, n) = (&e.n.app, &e.n);
    assert_error(&place(app, &n.resident, &e.item_b).await, "BAD_USER_INPUT");
    assert_error(&place(app, &n.resident, "777").await, "NOT_FOUND");
    let resp = app
        .op(
            Some(&n.resident.access),
            "orders",
            "PlaceOrder",
            json!({ "input": { "serviceItemId": e.item_a, "description": "帮忙取药", "contactPhone": "12345" } }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT");
    let homeless = app.login("homeless").await;
    assert_error(
        &place(app, &homeless, &e.district_item).await,
        "BAD_USER_INPUT",
    );

    let resp = place(app, &n.resident, &e.item_a).await;
    let order = data(&resp)["placeOrder"].clone();
    assert_eq!(order["status"], "PLACED");
    assert_eq!(order["serviceItem"]["id"], e.item_a.as_str());
    assert_eq!(order["area"]["id"], n.compound_a.as_str());
    let id = order["id"].as_str().unwrap().to_owned();
    let by_id = json!({ "id": id });

    assert_error(
        &act(app, &e.grid_b, "AcceptOrder", by_id.clone()).await,
        "FORBIDDEN",
    );
    assert_error(
        &act(app, &e.property, "AcceptOrder", by_id.clone()).await,
        "FORBIDDEN",
    );
    let resp = act(app, &e.steward, "AcceptOrder", by_id.clone()).await;
    assert_eq!(
        data(&resp)["acceptOrder"],
        json!({ "id": id, "status": "ACCEPTED", "steward": { "id": e.steward.user_id } })
    );

    let dispatch = |to: &str| json!({ "id": id, "assigneeId": to });
    assert_error(
        &act(
            app,
            &e.steward,
            "DispatchOrder",
            dispatch(&n.member.user_id),
        )
        .await,
        "BAD_USER_INPUT",
    );
    assert_error(
        &act(
            app,
            &e.grid_b,
            "DispatchOrder",
            dispatch(&n.volunteer.user_id),
        )
        .await,
        "FORBIDDEN",
    );
    let resp = act(
        app,
        &e.steward,
        "DispatchOrder",
        dispatch(&n.volunteer.user_id),
    )
    .await;
    assert_eq!(
        data(&resp)["dispatchOrder"]["assignee"]["id"],
        n.volunteer.user_id.as_str()
    );
    assert_eq!(data(&resp)["dispatchOrder"]["status"], "DISPATCHED");

    assert_error(
        &act(app, &e.steward, "CompleteOrder", by_id.clone()).await,
        "FORBIDDEN",
    );
    let resp = act(
        app,
        &n.volunteer,
        "CompleteOrder",
        json!({ "id": id, "note": "药已送到" }),
    )
    .await;
    assert_eq!(data(&resp)["completeOrder"]["status"], "COMPLETED");

    let rate = |stars: i64| json!({ "id": id, "stars": stars, "comment": "很及时" });
    assert_error(
        &act(app, &n.volunteer, "RateOrder", rate(5)).await,
        "FORBIDDEN",
    );
    for stars in [0, 6] {
        assert_error(
            &act(app, &n.resident, "RateOrder", rate(stars)).await,
            "BAD_USER_INPUT",
        );
    }
    let resp = act(app, &n.resident, "RateOrder", rate(5)).await;
    assert_eq!(
        data(&resp)["rateOrder"]["rating"],
        json!({ "stars": 5, "comment": "很及时" })
    );
    assert_eq!(data(&resp)["rateOrder"]["status"], "RATED");
    assert_error(
        &act(app, &n.resident, "RateOrder", rate(4)).await,
        "CONFLICT",
    );

    let resp = app
        .op(Some(&n.volunteer.access), "points", "MyPoints", json!({}))
        .await;
    assert_eq!(data(&resp)["myPoints"]["total"], 5);
    assert_eq!(
        data(&resp)["myPoints"]["history"]["edges"][0]["node"]["sourceKey"],
        format!("order:{id}:rated")
    );

    let resp = app
        .op(Some(&n.resident.access), "orders", "Order", by_id.clone())
        .await;
    let order = &data(&resp)["order"];
    assert_eq!(order["contactPhoneMasked"], "139****5678");
    let actions: Vec<&str> = order["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ev| ev["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["PLACED", "ACCEPTED", "DISPATCHED", "COMPLETED", "RATED"]
    );
    assert_eq!(order["events"][3]["note"], "药已送到");
    assert_eq!(
        order["events"][3]["actor"]["id"],
        n.volunteer.user_id.as_str()
    );

    // The full phone is for the participants only; strangers do not see the errand at all.
    let phone = |who: &Session| {
        let token = who.access.clone();
        let id = id.clone();
        async move {
            app.gql(
                Some(&token),
                "query($id: ID!) { order(id: $id) { contactPhone } }",
                json!({ "id": id }),
            )
            .await
        }
    };
    for who in [&n.resident, &e.steward, &n.volunteer] {
        assert_eq!(
            data(&phone(who).await)["order"]["contactPhone"],
            "13912345678"
        );
    }
    assert_eq!(
        data(&phone(&n.admin).await)["order"]["contactPhone"],
        Value::Null
    );
    assert_error(&phone(&e.grid_b).await, "FORBIDDEN");
    assert_error(&phone(&n.member).await, "FORBIDDEN");
    assert_error(
        &app.op(
            Some(&n.member.access),
            "orders",
            "Order",
            json!({ "id": "999" }),
        )
        .await,
        "NOT_FOUND",
    );

    // The phone is not in the database in plain text.
    use sea_orm::EntityTrait;
    let row = entity::prelude::ServiceOrder::find_by_id(id.parse::<i64>().unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(!row.contact_phone.contains("13912345678"));
}

#[tokio::test]
async fn property_staff_earn_no_points() {
    let e = errands().await;
    let (app, n) = (&e.n.app, &e.n);
    let id = placed(app, &n.resident, &e.item_a).await;
    data(&act(app, &e.steward, "AcceptOrder", json!({ "id": id })).await);
    data(
        &act(
            app,
            &e.steward,
            "DispatchOrder",
            json!({ "id": id, "assigneeId": e.property.user_id }),
        )
        .await,
    );
    data(&act(app, &e.property, "CompleteOrder", json!({ "id": id })).await);
    data(
        &act(
            app,
            &n.resident,
            "RateOrder",
            json!({ "id": id, "stars": 4 }),
        )
        .await,
    );
    let resp = app
        .op(Some(&e.property.access), "points", "MyPoints", json!({}))
        .await;
    assert_eq!(data(&resp)["myPoints"]["total"], 0);
}

#[tokio::test]
async fn reject_and_cancel_paths() {
    let e = errands().await;
    let (app, n) = (&e.n.app, &e.n);
    let id = placed(app, &n.resident, &e.item_a).await;
    assert_error(
        &act(
            app,
            &e.steward,
            "RejectOrder",
            json!({ "id": id, "reason": "  " }),
        )
        .await,
        "BAD_USER_INPUT",
    );
    assert_error(
        &act(
            app,
            &e.grid_b,
            "RejectOrder",
            json!({ "id": id, "reason": "不在范围" }),
        )
        .await,
        "FORBIDDEN",
    );
    let resp = act(
        app,
        &e.steward,
        "RejectOrder",
        json!({ "id": id, "reason": "该事项暂停办理" }),
    )
    .await;
    assert_eq!(data(&resp)["rejectOrder"]["status"], "REJECTED");
    assert_error(
        &act(app, &n.resident, "CancelOrder", json!({ "id": id })).await,
        "CONFLICT",
    );
    assert_error(
        &act(app, &e.steward, "AcceptOrder", json!({ "id": id })).await,
        "CONFLICT",
    );

    let placed_one = placed(app, &n.resident, &e.item_a).await;
    assert_error(
        &act(app, &n.member, "CancelOrder", json!({ "id": placed_one })).await,
        "FORBIDDEN",
    );
    assert_eq!(
        data(&act(app, &n.resident, "CancelOrder", json!({ "id": placed_one })).await)["cancelOrder"]
            ["status"],
        "CANCELLED"
    );

    let accepted = placed(app, &n.resident, &e.item_a).await;
    data(&act(app, &e.steward, "AcceptOrder", json!({ "id": accepted })).await);
    assert_eq!(
        data(&act(app, &n.resident, "CancelOrder", json!({ "id": accepted })).await)["cancelOrder"]
            ["status"],
        "CANCELLED"
    );
    assert_error(
        &act(
            app,
            &e.steward,
            "DispatchOrder",
            json!({ "id": accepted, "assigneeId": e.property.user_id }),
        )
        .await,
        "CONFLICT",
    );

    let dispatched = placed(app, &n.resident, &e.item_a).await;
    data(&act(app, &e.steward, "AcceptOrder", json!({ "id": dispatched })).await);
    data(
        &act(
            app,
            &e.steward,
            "DispatchOrder",
            json!({ "id": dispatched, "assigneeId": e.property.user_id }),
        )
        .await,
    );
    assert_error(
        &act(app, &n.resident, "CancelOrder", json!({ "id": dispatched })).await,
        "CONFLICT",
    );
    assert_error(
        &act(
            app,
            &n.resident,
            "RateOrder",
            json!({ "id": dispatched, "stars": 5 }),
        )
        .await,
        "CONFLICT",
    );
}

#[tokio::test]
async fn of_concurrent_accepts_one_wins() {
    let e = errands().await;
    let (app, n) = (&e.n.app, &e.n);
    let second = match redis_or_skip("the second node of the accept race") {
        Some(_) => Some(app.second_node().await),
        None => None,
    };
    let node_b = second.as_ref().unwrap_or(app);
    let mut stewards = Vec::new();
    for i in 0..10 {
        let name = format!("steward{i}");
        app.grant(
            &name,
            if i % 2 == 0 {
                Role::Steward
            } else {
                Role::GridWorker
            },
            &n.street,
        )
        .await;
        stewards.push(app.login(&name).await);
    }
    let id = placed(app, &n.resident, &e.item_a).await;
    let results = join_all(stewards.iter().enumerate().map(|(i, s)| {
        act(
            if i % 2 == 0 { app } else { node_b },
            s,
            "AcceptOrder",
            json!({ "id": id }),
        )
    }))
    .await;
    assert_eq!(
        results.iter().filter(|r| r.get("errors").is_none()).count(),
        1
    );
    assert!(
        results
            .iter()
            .filter(|r| r.get("errors").is_some())
            .all(|r| error_code(r) == "CONFLICT")
    );
    let resp = app
        .op(
            Some(&n.resident.access),
            "orders",
            "Order",
            json!({ "id": id }),
        )
        .await;
    let accepted = data(&resp)["order"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|ev| ev["action"] == "ACCEPTED")
        .count();
    assert_eq!(accepted, 1);
}

#[tokio::test]
async fn the_errand_list_filters_and_keeps_to_scope() {
    let e = errands().await;
    let (app, n) = (&e.n.app, &e.n);
    let neighbour_b = app.login("neighbour-b").await;
    crate::wishes::bind_home(app, &neighbour_b, &n.compound_b).await;
    let a1 = placed(app, &n.resident, &e.item_a).await;
    let a2 = placed(app, &n.resident, &e.district_item).await;
    let b1 = placed(app, &neighbour_b, &e.item_b).await;
    data(&act(app, &e.steward, "AcceptOrder", json!({ "id": a1 })).await);
    data(
        &act(
            app,
            &e.steward,
            "DispatchOrder",
            json!({ "id": a1, "assigneeId": n.volunteer.user_id }),
        )
        .await,
    );

    let list = |who: &Session, filter: Value| {
        let token = who.access.clone();
        async move {
            app.op(
                Some(&token),
                "orders",
                "Orders",
                json!({ "filter": filter }),
            )
            .await
        }
    };
    let ids = |resp: &Value| -> Vec<String> {
        data(resp)["orders"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(&list(&n.resident, json!({})).await),
        [a2.clone(), a1.clone()]
    );
    assert_eq!(
        ids(&list(&n.resident, json!({ "mine": true, "status": "PLACED" })).await),
        std::slice::from_ref(&a2)
    );
    assert_eq!(
        ids(&list(&n.volunteer, json!({ "assignedToMe": true })).await),
        std::slice::from_ref(&a1)
    );
    assert_eq!(
        ids(&list(&e.steward, json!({ "areaId": n.community_a })).await),
        [a2.clone(), a1.clone()]
    );
    assert_eq!(
        ids(&list(&n.admin, json!({ "areaId": n.street })).await),
        [b1.clone(), a2, a1]
    );
    assert_error(
        &list(&e.steward, json!({ "areaId": n.community_b })).await,
        "FORBIDDEN",
    );
    assert_error(
        &list(&n.resident, json!({ "areaId": n.compound_a })).await,
        "FORBIDDEN",
    );
    let resp = list(&e.grid_b, json!({ "areaId": n.community_b })).await;
    assert_eq!(data(&resp)["orders"]["totalCount"], 1);
}
