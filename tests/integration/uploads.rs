use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, assert_error, data};
use crate::orders::errands;
use crate::wishes::neighbourhood;

const MIB: usize = 1024 * 1024;

/// A PNG's signature and the start of its header chunk, padded with `salt` so that tests can
/// make distinct images.
fn png(salt: u8) -> Vec<u8> {
    let mut bytes = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    bytes.extend_from_slice(&[0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0, 1, 0, 0, 0, 1]);
    bytes.extend_from_slice(&[8, 6, 0, 0, 0, salt]);
    bytes
}

fn jpeg() -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    bytes.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    bytes.extend_from_slice(&[0xFF, 0xD9]);
    bytes
}

fn webp() -> Vec<u8> {
    let mut bytes = b"RIFF".to_vec();
    bytes.extend_from_slice(&26u32.to_le_bytes());
    bytes.extend_from_slice(b"WEBPVP8 ");
    bytes.extend_from_slice(&[0x0E, 0, 0, 0, 0x30, 0x01, 0, 0x9D, 0x01, 0x2A, 1, 0, 1, 0]);
    bytes
}

async fn send(
    app: &TestApp,
    token: Option<&str>,
    field: &str,
    name: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned());
    let form = reqwest::multipart::Form::new().part(field.to_owned(), part);
    let mut req = app.http().post(app.url("/upload")).multipart(form);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

/// Uploads an image that must be accepted; answers `{"id", "url"}`.
async fn upload(app: &TestApp, who: &Session, name: &str, bytes: Vec<u8>) -> Value {
    let resp = send(app, Some(&who.access), "file", name, bytes).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_type().unwrap().is_file())
        .count()
}

#[tokio::test]
async fn images_are_judged_by_their_bytes_and_served_back() {
    let app = TestApp::spawn().await;
    let alice = app.login("alice").await;
    for (name, bytes, content_type, ext) in [
        ("a.png", png(1), "image/png", "png"),
        ("b.jpg", jpeg(), "image/jpeg", "jpg"),
        ("c.webp", webp(), "image/webp", "webp"),
        // The name does not matter, the bytes do.
        ("photo.bin", png(2), "image/png", "png"),
    ] {
        let answer = upload(&app, &alice, name, bytes.clone()).await;
        assert!(answer["id"].as_str().is_some_and(|id| !id.is_empty()));
        let url = answer["url"].as_str().unwrap();
        assert!(
            url.starts_with("/media/") && url.ends_with(&format!(".{ext}")),
            "{url}"
        );
        let resp = app.http().get(app.url(url)).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], content_type);
        let cache = resp.headers()["cache-control"].to_str().unwrap().to_owned();
        assert!(cache.contains("max-age=31536000"), "{cache}");
        assert_eq!(resp.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }

    // Not an image, whatever its name: 415.
    let resp = send(
        &app,
        Some(&alice.access),
        "file",
        "notes.png",
        b"just some text, not a picture".to_vec(),
    )
    .await;
    assert_eq!(resp.status(), 415);
    // Without a token, or with a bad one: 401.
    let resp = send(&app, None, "file", "a.png", png(3)).await;
    assert_eq!(resp.status(), 401);
    let resp = send(&app, Some("nonsense"), "file", "a.png", png(3)).await;
    assert_eq!(resp.status(), 401);
    // Without the `file` field: 400.
    let resp = send(&app, Some(&alice.access), "picture", "a.png", png(3)).await;
    assert_eq!(resp.status(), 400);
    // Unknown and malformed keys: 404.
    for path in [
        format!("/media/{}.png", "0".repeat(64)),
        "/media/..%2Fsecret".to_owned(),
        "/media/abc.png".to_owned(),
    ] {
        let resp = app.http().get(app.url(&path)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn an_image_over_five_mib_is_refused() {
    let app = TestApp::spawn().await;
    let alice = app.login("alice").await;
    let mut exactly = png(0);
    exactly.resize(5 * MIB, 7);
    let answer = upload(&app, &alice, "big.png", exactly).await;
    assert!(answer["url"].as_str().is_some());
    let mut over = png(0);
    over.resize(5 * MIB + 1, 7);
    let resp = send(&app, Some(&alice.access), "file", "big.png", over).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(files_in(&app.media_dir()), 1);
    // GraphQL keeps its own, smaller limit.
    let resp = app
        .http()
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * MIB])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
}

#[tokio::test]
async fn identical_bytes_are_stored_once_but_owned_per_upload() {
    let app = TestApp::spawn().await;
    let alice = app.login("alice").await;
    let bob = app.login("bob").await;
    let first = upload(&app, &alice, "a.png", png(9)).await;
    let again = upload(&app, &alice, "again.png", png(9)).await;
    let bobs = upload(&app, &bob, "b.png", png(9)).await;
    assert_eq!(first["url"], again["url"]);
    assert_eq!(first["url"], bobs["url"]);
    assert_ne!(first["id"], again["id"]);
    assert_ne!(first["id"], bobs["id"]);
    assert_eq!(files_in(&app.media_dir()), 1);
    upload(&app, &alice, "other.png", png(10)).await;
    assert_eq!(files_in(&app.media_dir()), 2);
}

const POST_WISH: &str = "mutation($input: PostWishInput!) {
  postWish(input: $input) { id images { id url } }
}";

fn wish_input(images: &[&Value]) -> Value {
    let ids: Vec<&Value> = images.iter().map(|u| &u["id"]).collect();
    json!({ "input": {
        "title": "帮忙修门锁", "description": "门锁坏了", "category": "DAILY_HELP", "imageIds": ids,
    } })
}

fn urls(images: &Value) -> Vec<&str> {
    images
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["url"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn wishes_show_their_images_in_order() {
    let n = neighbourhood().await;
    let app = &n.app;
    let a = upload(app, &n.resident, "a.png", png(1)).await;
    let b = upload(app, &n.resident, "b.jpg", jpeg()).await;
    let c = upload(app, &n.resident, "c.webp", webp()).await;
    let resp = app
        .gql(
            Some(&n.resident.access),
            POST_WISH,
            wish_input(&[&c, &a, &b]),
        )
        .await;
    let wish = &data(&resp)["postWish"];
    let expected = vec![
        c["url"].as_str().unwrap(),
        a["url"].as_str().unwrap(),
        b["url"].as_str().unwrap(),
    ];
    assert_eq!(urls(&wish["images"]), expected);
    assert_eq!(wish["images"][0]["id"], c["id"]);
    let id = wish["id"].as_str().unwrap().to_owned();

    // A wish without images has an empty list.
    let resp = app
        .gql(Some(&n.resident.access), POST_WISH, wish_input(&[]))
        .await;
    data(&resp);

    let resp = app
        .gql(
            Some(&n.member.access),
            "query($id: ID!) { wish(id: $id) { images { id url } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(urls(&data(&resp)["wish"]["images"]), expected);
    let resp = app
        .gql(
            Some(&n.member.access),
            "{ wishes(first: 10) { edges { node { id images { url } } } } }",
            json!({}),
        )
        .await;
    let edges = data(&resp)["wishes"]["edges"].as_array().unwrap().clone();
    assert_eq!(edges.len(), 2);
    assert_eq!(edges[0]["node"]["images"], json!([]));
    assert_eq!(edges[1]["node"]["id"], id.as_str());
    assert_eq!(urls(&edges[1]["node"]["images"]), expected);
}

async fn wish_count(app: &TestApp, who: &Session) -> u64 {
    let resp = app
        .gql(
            Some(&who.access),
            "{ wishes(filter: { mine: true }) { totalCount } }",
            json!({}),
        )
        .await;
    data(&resp)["wishes"]["totalCount"].as_u64().unwrap()
}

#[tokio::test]
async fn a_wish_takes_only_the_posters_uploads_and_at_most_nine() {
    let n = neighbourhood().await;
    let app = &n.app;
    let mine = upload(app, &n.resident, "a.png", png(1)).await;
    let theirs = upload(app, &n.member, "a.png", png(1)).await;
    let resp = app
        .gql(
            Some(&n.resident.access),
            POST_WISH,
            wish_input(&[&mine, &theirs]),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT");
    assert!(resp.to_string().contains("not your upload"), "{resp}");
    let unknown = json!({ "id": "999999" });
    let resp = app
        .gql(Some(&n.resident.access), POST_WISH, wish_input(&[&unknown]))
        .await;
    assert_error(&resp, "BAD_USER_INPUT");
    assert_eq!(wish_count(app, &n.resident).await, 0);

    let mut ten = Vec::new();
    for salt in 0..10 {
        ten.push(upload(app, &n.resident, "x.png", png(salt)).await);
    }
    let refs: Vec<&Value> = ten.iter().collect();
    let resp = app
        .gql(Some(&n.resident.access), POST_WISH, wish_input(&refs))
        .await;
    assert_error(&resp, "BAD_USER_INPUT");
    assert_eq!(wish_count(app, &n.resident).await, 0);
    let resp = app
        .gql(Some(&n.resident.access), POST_WISH, wish_input(&refs[..9]))
        .await;
    assert_eq!(
        data(&resp)["postWish"]["images"].as_array().unwrap().len(),
        9
    );
    assert_eq!(wish_count(app, &n.resident).await, 1);
}

const PLACE_ORDER: &str = "mutation($input: PlaceOrderInput!) {
  placeOrder(input: $input) { id images { id url } }
}";

fn order_input(item: &str, images: &[&Value]) -> Value {
    let ids: Vec<&Value> = images.iter().map(|u| &u["id"]).collect();
    json!({ "input": {
        "serviceItemId": item, "description": "帮忙取药", "contactPhone": "13912345678",
        "imageIds": ids,
    } })
}

async fn order_count(app: &TestApp, who: &Session) -> u64 {
    let resp = app
        .gql(
            Some(&who.access),
            "{ orders(filter: { mine: true }) { totalCount } }",
            json!({}),
        )
        .await;
    data(&resp)["orders"]["totalCount"].as_u64().unwrap()
}

#[tokio::test]
async fn errands_take_the_residents_uploads_in_order() {
    let e = errands().await;
    let app = &e.n.app;
    let resident = &e.n.resident;
    let a = upload(app, resident, "a.png", png(1)).await;
    let b = upload(app, resident, "b.webp", webp()).await;
    let theirs = upload(app, &e.steward, "s.jpg", jpeg()).await;

    let resp = app
        .gql(
            Some(&resident.access),
            PLACE_ORDER,
            order_input(&e.item_a, &[&a, &theirs]),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT");
    assert!(resp.to_string().contains("not your upload"), "{resp}");
    let mut ten = Vec::new();
    for salt in 0..10 {
        ten.push(upload(app, resident, "x.png", png(salt)).await);
    }
    let refs: Vec<&Value> = ten.iter().collect();
    let resp = app
        .gql(
            Some(&resident.access),
            PLACE_ORDER,
            order_input(&e.item_a, &refs),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT");
    assert_eq!(order_count(app, resident).await, 0);

    let resp = app
        .gql(
            Some(&resident.access),
            PLACE_ORDER,
            order_input(&e.item_a, &[&b, &a]),
        )
        .await;
    let order = &data(&resp)["placeOrder"];
    let expected = vec![b["url"].as_str().unwrap(), a["url"].as_str().unwrap()];
    assert_eq!(urls(&order["images"]), expected);
    let id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(order_count(app, resident).await, 1);

    // The steward in scope sees the same images.
    let resp = app
        .gql(
            Some(&e.steward.access),
            "query($id: ID!) { order(id: $id) { images { url } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(urls(&data(&resp)["order"]["images"]), expected);
    let resp = app
        .gql(
            Some(&resident.access),
            "{ orders(first: 10) { edges { node { id images { url } } } } }",
            json!({}),
        )
        .await;
    let edges = &data(&resp)["orders"]["edges"];
    assert_eq!(edges[0]["node"]["id"], id.as_str());
    assert_eq!(urls(&edges[0]["node"]["images"]), expected);
}
