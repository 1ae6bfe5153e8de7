use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;

use crate::helpers::{TestApp, assert_error, data, redis_or_skip};

#[tokio::test]
async fn wechat_login_creates_the_user_once_and_me_answers() {
    let app = TestApp::spawn().await;
    let resp = app
        .op(
            None,
            "identity",
            "WechatLogin",
            json!({ "code": "alice#1" }),
        )
        .await;
    let login = &data(&resp)["wechatLogin"];
    assert_eq!(login["expiresIn"], 900);
    assert_eq!(login["user"]["nickname"], "微信用户");
    let token = login["accessToken"].as_str().unwrap();

    let me = app.op(Some(token), "identity", "Me", json!({})).await;
    let me = &data(&me)["me"];
    assert_eq!(me["id"], login["user"]["id"]);
    assert_eq!(me["phoneMasked"], serde_json::Value::Null);
    assert_eq!(me["roles"], json!([]));
    assert_eq!(me["home"], serde_json::Value::Null);

    // The same WeChat user signing in again is the same user.
    let again = app.login("alice").await;
    assert_eq!(again.user_id, login["user"]["id"].as_str().unwrap());
    // The session key stays on the server, stored for the user.
    session_key_is_stored(&app, &again.user_id).await;
}

async fn session_key_is_stored(app: &TestApp, user_id: &str) {
    use sea_orm::EntityTrait;
    let user = entity::prelude::Users::find_by_id(user_id.parse::<i64>().unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        user.session_key
            .as_deref()
            .is_some_and(|k| k.starts_with("sk-alice#"))
    );
    assert_eq!(user.openid, "o-alice");
}

#[tokio::test]
async fn codes_that_wechat_rejects_are_unauthenticated_and_busy_wechat_is_retryable() {
    let app = TestApp::spawn().await;
    for code in ["invalid-code", "blocked-user"] {
        let resp = app
            .op(None, "identity", "WechatLogin", json!({ "code": code }))
            .await;
        assert_error(&resp, "UNAUTHENTICATED");
        assert_eq!(resp["data"], serde_json::Value::Null);
    }
    // A code used once is rejected by WeChat with 40163.
    let resp = app
        .op(
            None,
            "identity",
            "WechatLogin",
            json!({ "code": "bob#same" }),
        )
        .await;
    assert!(data(&resp)["wechatLogin"]["accessToken"].is_string());
    let resp = app
        .op(
            None,
            "identity",
            "WechatLogin",
            json!({ "code": "bob#same" }),
        )
        .await;
    assert_error(&resp, "UNAUTHENTICATED");

    let resp = app
        .op(None, "identity", "WechatLogin", json!({ "code": "busy" }))
        .await;
    assert_error(&resp, "INTERNAL_SERVER_ERROR");
    assert_eq!(resp["errors"][0]["extensions"]["retryable"], true);
    assert_eq!(resp["data"], serde_json::Value::Null);
}

#[tokio::test]
async fn unreachable_wechat_gives_a_retryable_error_and_no_token() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let app = TestApp::spawn_with(|vars| {
        vars.insert("WECHAT_API_BASE".into(), format!("http://{closed}"));
    })
    .await;
    let resp = app
        .op(None, "identity", "WechatLogin", json!({ "code": "carol" }))
        .await;
    assert_error(&resp, "INTERNAL_SERVER_ERROR");
    assert_eq!(resp["errors"][0]["extensions"]["retryable"], true);
    assert_eq!(resp["data"], serde_json::Value::Null);
}

#[tokio::test]
async fn dev_login_only_without_a_wechat_app() {
    let app = TestApp::spawn().await;
    let resp = app
        .op(
            None,
            "identity",
            "DevLogin",
            json!({ "openid": "dev-user" }),
        )
        .await;
    assert_error(&resp, "FORBIDDEN");

    let dev = TestApp::spawn_with(|vars| {
        vars.remove("WECHAT_APPID");
        vars.remove("WECHAT_SECRET");
    })
    .await;
    let resp = dev
        .op(
            None,
            "identity",
            "DevLogin",
            json!({ "openid": "dev-user" }),
        )
        .await;
    let token = data(&resp)["devLogin"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = dev.op(Some(&token), "identity", "Me", json!({})).await;
    assert_eq!(data(&me)["me"]["id"], data(&resp)["devLogin"]["user"]["id"]);
    let resp = dev
        .op(None, "identity", "DevLogin", json!({ "openid": "" }))
        .await;
    assert_error(&resp, "BAD_USER_INPUT");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_session() {
    let app = TestApp::spawn().await;
    let first = app.login("dave").await;

    let resp = app
        .op(
            None,
            "identity",
            "RefreshSession",
            json!({ "refreshToken": first.refresh }),
        )
        .await;
    let second = data(&resp)["refreshSession"].clone();
    let second_access = second["accessToken"].as_str().unwrap();
    let second_refresh = second["refreshToken"].as_str().unwrap();
    assert_ne!(second_refresh, first.refresh);
    assert_eq!(second["expiresIn"], 900);
    let me = app
        .op(Some(second_access), "identity", "Me", json!({}))
        .await;
    assert_eq!(data(&me)["me"]["id"], first.user_id.as_str());

    // The old refresh token again: the session is revoked, every token of it dead.
    let resp = app
        .op(
            None,
            "identity",
            "RefreshSession",
            json!({ "refreshToken": first.refresh }),
        )
        .await;
    assert_error(&resp, "UNAUTHENTICATED");
    let me = app
        .op(Some(second_access), "identity", "Me", json!({}))
        .await;
    assert_error(&me, "UNAUTHENTICATED");
    let resp = app
        .op(
            None,
            "identity",
            "RefreshSession",
            json!({ "refreshToken": second_refresh }),
        )
        .await;
    assert_error(&resp, "UNAUTHENTICATED");

    // Garbage is simply unauthenticated and harms no one.
    let other = app.login("erin").await;
    for bad in ["", "nodot", "x.y", &format!("{}x", other.refresh)] {
        let resp = app
            .op(
                None,
                "identity",
                "RefreshSession",
                json!({ "refreshToken": bad }),
            )
            .await;
        assert_error(&resp, "UNAUTHENTICATED");
    }
    let me = app
        .op(Some(&other.access), "identity", "Me", json!({}))
        .await;
    assert_eq!(data(&me)["me"]["id"], other.user_id.as_str());
}

#[tokio::test]
async fn logout_ends_the_session_at_once() {
    let app = TestApp::spawn().await;
    let session = app.login("frank").await;
    let other = app.login("frank").await;
    let resp = app
        .op(Some(&session.access), "identity", "Logout", json!({}))
        .await;
    assert_eq!(data(&resp)["logout"], true);
    assert_error(
        &app.op(Some(&session.access), "identity", "Me", json!({}))
            .await,
        "UNAUTHENTICATED",
    );
    let resp = app
        .op(
            None,
            "identity",
            "RefreshSession",
            json!({ "refreshToken": session.refresh }),
        )
        .await;
    assert_error(&resp, "UNAUTHENTICATED");
    // Another session of the same user lives on.
    let me = app
        .op(Some(&other.access), "identity", "Me", json!({}))
        .await;
    assert_eq!(data(&me)["me"]["id"], other.user_id.as_str());
    assert_error(
        &app.op(None, "identity", "Logout", json!({})).await,
        "UNAUTHENTICATED",
    );
}

#[tokio::test]
async fn logout_on_one_node_is_seen_by_another() {
    if redis_or_skip("logout_on_one_node_is_seen_by_another").is_none() {
        return;
    }
    let node_a = TestApp::spawn().await;
    let node_b = node_a.second_node().await;
    let session = node_a.login("grace").await;
    let me = node_b
        .op(Some(&session.access), "identity", "Me", json!({}))
        .await;
    assert_eq!(data(&me)["me"]["id"], session.user_id.as_str());

    let resp = node_b
        .op(Some(&session.access), "identity", "Logout", json!({}))
        .await;
    assert_eq!(data(&resp)["logout"], true);
    assert_error(
        &node_a
            .op(Some(&session.access), "identity", "Me", json!({}))
            .await,
        "UNAUTHENTICATED",
    );

    // Refresh rotation on one node, reuse detected on the other.
    let s = node_a.login("heidi").await;
    let resp = node_a
        .op(
            None,
            "identity",
            "RefreshSession",
            json!({ "refreshToken": s.refresh }),
        )
        .await;
    let fresh = data(&resp)["refreshSession"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = node_b
        .op(
            None,
            "identity",
            "RefreshSession",
            json!({ "refreshToken": s.refresh }),
        )
        .await;
    assert_error(&resp, "UNAUTHENTICATED");
    assert_error(
        &node_a.op(Some(&fresh), "identity", "Me", json!({})).await,
        "UNAUTHENTICATED",
    );
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    sub: &'a str,
    sid: &'a str,
    iat: i64,
    exp: i64,
}

fn sid_of(access: &str) -> String {
    let payload = access.split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["sid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn forged_expired_and_malformed_tokens_are_unauthenticated() {
    let app = TestApp::spawn().await;
    let session = app.login("ivan").await;
    let sid = sid_of(&session.access);
    let now = chrono::Utc::now().timestamp();
    let secret = app.config.jwt_secret.clone();
    let sign = |alg: jsonwebtoken::Algorithm, key: &[u8], exp: i64| {
        let claims = Claims {
            sub: &session.user_id,
            sid: &sid,
            iat: now - 10,
            exp,
        };
        jsonwebtoken::encode(&Header::new(alg), &claims, &EncodingKey::from_secret(key)).unwrap()
    };
    let forged = sign(
        jsonwebtoken::Algorithm::HS256,
        b"someone-elses-secret-of-32-bytes!!",
        now + 600,
    );
    let expired = sign(jsonwebtoken::Algorithm::HS256, &secret, now - 120);
    let other_alg = sign(jsonwebtoken::Algorithm::HS512, &secret, now + 600);
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(
            &json!({ "sub": session.user_id, "sid": sid, "iat": now, "exp": now + 600 }),
        )
        .unwrap(),
    );
    let alg_none = format!("{header}.{body}.");
    let truncated = session.access[..session.access.len() - 10].to_owned();
    // Another user's id under a valid signature but this session's id.
    let wrong_user = {
        let claims = Claims {
            sub: "999999",
            sid: &sid,
            iat: now,
            exp: now + 600,
        };
        jsonwebtoken::encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(&secret),
        )
        .unwrap()
    };
    for token in [
        forged,
        expired,
        other_alg,
        alg_none,
        truncated,
        wrong_user,
        "garbage".into(),
    ] {
        let resp = app.op(Some(&token), "identity", "Me", json!({})).await;
        assert_error(&resp, "UNAUTHENTICATED");
    }
    // A token signed right with a live session still works: the checks above could have passed.
    let good = sign(jsonwebtoken::Algorithm::HS256, &secret, now + 600);
    let me = app.op(Some(&good), "identity", "Me", json!({})).await;
    assert_eq!(data(&me)["me"]["id"], session.user_id.as_str());
}

#[tokio::test]
async fn update_profile_validates_and_changes_nothing_on_bad_input() {
    let app = TestApp::spawn().await;
    let s = app.login("judy").await;
    let resp = app
        .op(
            Some(&s.access),
            "identity",
            "UpdateProfile",
            json!({ "input": { "nickname": "  朱迪  ", "avatarUrl": "https://img.example.com/a.png" } }),
        )
        .await;
    assert_eq!(data(&resp)["updateProfile"]["nickname"], "朱迪");
    assert_eq!(
        data(&resp)["updateProfile"]["avatarUrl"],
        "https://img.example.com/a.png"
    );

    for input in [
        json!({ "nickname": "" }),
        json!({ "nickname": "   " }),
        json!({ "nickname": "长".repeat(33) }),
        json!({ "nickname": "ok", "avatarUrl": "javascript:alert(1)" }),
        json!({ "nickname": 42 }),
    ] {
        let resp = app
            .op(
                Some(&s.access),
                "identity",
                "UpdateProfile",
                json!({ "input": input }),
            )
            .await;
        assert_error(&resp, "BAD_USER_INPUT");
    }
    let me = app.op(Some(&s.access), "identity", "Me", json!({})).await;
    assert_eq!(data(&me)["me"]["nickname"], "朱迪");
    // 32 characters is still fine.
    let resp = app
        .op(
            Some(&s.access),
            "identity",
            "UpdateProfile",
            json!({ "input": { "nickname": "长".repeat(32) } }),
        )
        .await;
    assert_eq!(data(&resp)["updateProfile"]["nickname"], "长".repeat(32));
}

#[tokio::test]
async fn bind_phone_masks_the_number_and_refreshes_the_access_token_once() {
    let app = TestApp::spawn().await;
    let s = app.login("ken").await;
    let resp = app
        .op(
            Some(&s.access),
            "identity",
            "BindPhone",
            json!({ "code": "phone:13900000042" }),
        )
        .await;
    assert_eq!(data(&resp)["bindPhone"]["phoneMasked"], "139****0042");
    assert_eq!(app.wechat.stable_token_calls(), 1);

    // The cached token is reused...
    let resp = app
        .op(
            Some(&s.access),
            "identity",
            "BindPhone",
            json!({ "code": "phone:13700001111" }),
        )
        .await;
    assert_eq!(data(&resp)["bindPhone"]["phoneMasked"], "137****1111");
    assert_eq!(app.wechat.stable_token_calls(), 1);

    // ...until WeChat says it is stale (40001): fetched again once, and the call succeeds.
    app.wechat.rotate_access_token();
    let calls_before = app.wechat.phone_calls();
    let resp = app
        .op(
            Some(&s.access),
            "identity",
            "BindPhone",
            json!({ "code": "phone:13600002222" }),
        )
        .await;
    assert_eq!(data(&resp)["bindPhone"]["phoneMasked"], "136****2222");
    assert_eq!(app.wechat.stable_token_calls(), 2);
    assert_eq!(app.wechat.phone_calls(), calls_before + 2);

    let resp = app
        .op(
            Some(&s.access),
            "identity",
            "BindPhone",
            json!({ "code": "invalid-code" }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT");
    let resp = app
        .op(
            Some(&s.access),
            "identity",
            "BindPhone",
            json!({ "code": "busy" }),
        )
        .await;
    assert_error(&resp, "INTERNAL_SERVER_ERROR");
    assert_eq!(resp["errors"][0]["extensions"]["retryable"], true);
    let me = app.op(Some(&s.access), "identity", "Me", json!({})).await;
    assert_eq!(data(&me)["me"]["phoneMasked"], "136****2222");

    assert_error(
        &app.op(
            None,
            "identity",
            "BindPhone",
            json!({ "code": "phone:13900000042" }),
        )
        .await,
        "UNAUTHENTICATED",
    );
}

#[tokio::test]
async fn bind_home_takes_compounds_and_buildings_only() {
    let app = TestApp::spawn().await;
    let root = app.root_area_id().await;
    app.grant("admin", entity::role_grant::Role::DistrictAdmin, &root)
        .await;
    let admin = app.login("admin").await;
    let street = app.create_area(&admin, &root, "STREET", "南寒街道").await;
    let community = app
        .create_area(&admin, &street, "COMMUNITY", "南寒社区")
        .await;
    let compound = app
        .create_area(&admin, &community, "COMPOUND", "金泽华府")
        .await;
    let building = app
        .create_area(&admin, &compound, "BUILDING", "1号楼")
        .await;

    let s = app.login("mia").await;
    let resp = app
        .op(
            Some(&s.access),
            "identity",
            "BindHome",
            json!({ "areaId": compound, "room": "3-2-501" }),
        )
        .await;
    assert_eq!(
        data(&resp)["bindHome"]["home"],
        json!({ "id": compound, "name": "金泽华府", "kind": "COMPOUND" })
    );
    let resp = app
        .op(
            Some(&s.access),
            "identity",
            "BindHome",
            json!({ "areaId": building }),
        )
        .await;
    assert_eq!(data(&resp)["bindHome"]["home"]["kind"], "BUILDING");
    let me = app.op(Some(&s.access), "identity", "Me", json!({})).await;
    let roles = data(&me)["me"]["roles"].as_array().unwrap().clone();
    assert_eq!(
        roles.len(),
        1,
        "one RESIDENT role, at the current home: {roles:?}"
    );
    assert_eq!(roles[0]["role"], "RESIDENT");
    assert_eq!(roles[0]["area"]["id"], building.as_str());

    for (area, code) in [
        (street.as_str(), "BAD_USER_INPUT"),
        (community.as_str(), "BAD_USER_INPUT"),
        ("987654", "NOT_FOUND"),
        ("not-an-id", "NOT_FOUND"),
    ] {
        let resp = app
            .op(
                Some(&s.access),
                "identity",
                "BindHome",
                json!({ "areaId": area }),
            )
            .await;
        assert_error(&resp, code);
    }
    let resp = app
        .op(
            Some(&s.access),
            "identity",
            "BindHome",
            json!({ "areaId": compound, "room": "9".repeat(33) }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT");
    let me = app.op(Some(&s.access), "identity", "Me", json!({})).await;
    assert_eq!(data(&me)["me"]["home"]["id"], building.as_str());
}
