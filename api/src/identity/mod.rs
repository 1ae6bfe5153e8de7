//! Sign-in and the current user: WeChat login, sessions, profile, phone and home.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::Utc;
use entity::role_grant::Role;
use entity::{area, role_grant, users};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    Set, TransactionTrait,
};

use crate::auth::{self, IssuedTokens, viewer};
use crate::error::{AppError, AppResult, check_text, on_unique, parse_id};
use crate::moderation::{self, Scene};
use crate::state::AppState;
use crate::wechat::WechatError;

/// The nickname WeChat itself shows for users who have not chosen one.
pub const DEFAULT_NICKNAME: &str = "微信用户";
const MAX_NICKNAME: usize = 32;
const MAX_ROOM: usize = 32;
const MAX_AVATAR_URL: usize = 512;

/// Tokens of a new or refreshed session.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Bearer token for `Authorization: Bearer ...`; valid for `expiresIn` seconds.
    pub access_token: String,
    /// Exchanges for a new pair through `refreshSession`; single use.
    pub refresh_token: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: i64,
    /// The signed-in user.
    pub user: users::Model,
}

/// Profile fields to change; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateProfileInput {
    /// 1..32 characters.
    pub nickname: Option<String>,
    /// An https address of at most 512 characters.
    pub avatar_url: Option<String>,
}

#[derive(Default)]
pub struct IdentityQuery;

#[Object]
impl IdentityQuery {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> AppResult<users::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        load_user(&state.db, viewer.user_id).await
    }
}

#[derive(Default)]
pub struct IdentityMutation;

#[Object]
impl IdentityMutation {
    /// Signs in with the code from wx.login(). A code WeChat rejects answers UNAUTHENTICATED;
    /// WeChat busy or unreachable answers a retryable error and no token.
    async fn wechat_login(&self, ctx: &Context<'_>, code: String) -> AppResult<AuthPayload> {
        let state = ctx.data_unchecked::<AppState>();
        if code.is_empty() || code.len() > 256 {
            return Err(AppError::Unauthenticated(
                "the login code is invalid".into(),
            ));
        }
        let session = state
            .wechat
            .code2session(&code)
            .await
            .map_err(|err| match err {
                WechatError::Refused { code, .. } => {
                    tracing::info!(errcode = code, "wechat rejected a login code");
                    AppError::Unauthenticated(
                        "WeChat rejected the login code; call wx.login() again".into(),
                    )
                }
                WechatError::Unavailable(detail) => {
                    tracing::warn!(%detail, "code2session failed");
                    AppError::Unavailable("WeChat is not answering; try again".into())
                }
                WechatError::NotConfigured => {
                    AppError::forbidden("WeChat login is not configured on this server")
                }
            })?;
        let user = find_or_create_user(&state.db, &session.openid).await?;
        let mut active = user.into_active_model();
        active.session_key = Set(Some(session.session_key));
        if session.unionid.is_some() {
            active.unionid = Set(session.unionid);
        }
        active.updated_at = Set(Utc::now());
        let user = active.update(&state.db).await?;
        payload(
            state,
            auth::start_session(state, user.id).await?,
            Some(user),
        )
        .await
    }

    /// Development only: signs in as the given openid without WeChat. FORBIDDEN whenever a
    /// WeChat app is configured or the server runs in production.
    async fn dev_login(&self, ctx: &Context<'_>, openid: String) -> AppResult<AuthPayload> {
        let state = ctx.data_unchecked::<AppState>();
        if !state.config.dev_login_enabled() {
            return Err(AppError::forbidden("dev login is off on this server"));
        }
        let openid = check_text("openid", &openid, 64)?;
        let user = find_or_create_user(&state.db, &openid).await?;
        payload(
            state,
            auth::start_session(state, user.id).await?,
            Some(user),
        )
        .await
    }

    /// Exchanges a refresh token for a new pair; the old one stops working. Presenting an
    /// already used refresh token revokes the whole session.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> AppResult<AuthPayload> {
        let state = ctx.data_unchecked::<AppState>();
        let tokens = auth::refresh_session(state, &refresh_token).await?;
        payload(state, tokens, None).await
    }

    /// Ends the current session at once, on every server node.
    async fn logout(&self, ctx: &Context<'_>) -> AppResult<bool> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        state
            .store
            .delete_session(&viewer.sid)
            .await
            .map_err(AppError::internal)?;
        Ok(true)
    }

    /// Changes the nickname or avatar. A nickname content security rejects is BAD_USER_INPUT.
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        input: UpdateProfileInput,
    ) -> AppResult<users::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let nickname = input
            .nickname
            .map(|n| check_text("nickname", &n, MAX_NICKNAME))
            .transpose()?;
        let avatar_url = input
            .avatar_url
            .map(|url| {
                let url = check_text("avatarUrl", &url, MAX_AVATAR_URL)?;
                if !url.starts_with("https://") {
                    return Err(AppError::bad_input("avatarUrl must be an https address"));
                }
                Ok(url)
            })
            .transpose()?;
        let user = load_user(&state.db, viewer.user_id).await?;
        if nickname.is_none() && avatar_url.is_none() {
            return Ok(user);
        }
        if let Some(nickname) = &nickname {
            let verdict = moderation::check(state, &user, Scene::Profile, &[nickname]).await?;
            if verdict.needs_review() {
                tracing::warn!(target: "audit", user = user.id, "nickname flagged for review");
            }
        }
        let mut active = user.into_active_model();
        if let Some(nickname) = nickname {
            active.nickname = Set(nickname);
        }
        if let Some(url) = avatar_url {
            active.avatar_url = Set(Some(url));
        }
        active.updated_at = Set(Utc::now());
        let user = active.update(&state.db).await?;
        state.profiles.invalidate(&user.id);
        Ok(user)
    }

    /// Binds the phone number behind a getPhoneNumber button code.
    async fn bind_phone(&self, ctx: &Context<'_>, code: String) -> AppResult<users::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        if code.is_empty() || code.len() > 256 {
            return Err(AppError::bad_input("the phone code is invalid"));
        }
        let phone = state
            .wechat
            .phone_number(&code)
            .await
            .map_err(|err| match err {
                WechatError::Refused { code, .. } => {
                    tracing::info!(errcode = code, "wechat rejected a phone code");
                    AppError::bad_input("WeChat rejected the phone code; ask the user again")
                }
                WechatError::Unavailable(detail) => {
                    tracing::warn!(%detail, "phone number API failed");
                    AppError::Unavailable("WeChat is not answering; try again".into())
                }
                WechatError::NotConfigured => {
                    AppError::forbidden("WeChat is not configured on this server")
                }
            })?;
        let mut active = load_user(&state.db, viewer.user_id)
            .await?
            .into_active_model();
        active.phone = Set(Some(phone));
        active.updated_at = Set(Utc::now());
        let user = active.update(&state.db).await?;
        state.profiles.invalidate(&user.id);
        Ok(user)
    }

    /// Sets the resident's home: a COMPOUND or BUILDING area, plus a free-text room ("3-2-501").
    /// The user becomes a RESIDENT there (and no longer at a previous home).
    async fn bind_home(
        &self,
        ctx: &Context<'_>,
        area_id: ID,
        room: Option<String>,
    ) -> AppResult<users::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let area_id = parse_id(&area_id, "area")?;
        let room = room.map(|r| check_text("room", &r, MAX_ROOM)).transpose()?;
        let home = area::Entity::find_by_id(area_id)
            .one(&state.db)
            .await?
            .ok_or_else(|| AppError::not_found("area"))?;
        if !home.kind.is_home() {
            return Err(AppError::bad_input(
                "a home must be a COMPOUND or BUILDING area",
            ));
        }
        let user = load_user(&state.db, viewer.user_id).await?;
        let txn = state.db.begin().await?;
        role_grant::Entity::delete_many()
            .filter(role_grant::Column::UserId.eq(user.id))
            .filter(role_grant::Column::Role.eq(Role::Resident))
            .exec(&txn)
            .await?;
        role_grant::ActiveModel {
            user_id: Set(user.id),
            role: Set(Role::Resident),
            area_id: Set(home.id),
            granted_by: Set(Some(user.id)),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let mut active = user.into_active_model();
        active.home_area_id = Set(Some(home.id));
        active.room = Set(room);
        active.updated_at = Set(Utc::now());
        let user = active.update(&txn).await?;
        txn.commit().await?;
        state.profiles.invalidate(&user.id);
        Ok(user)
    }
}

async fn payload(
    state: &AppState,
    tokens: IssuedTokens,
    user: Option<users::Model>,
) -> AppResult<AuthPayload> {
    let user = match user {
        Some(user) => user,
        None => load_user(&state.db, tokens.user_id).await?,
    };
    Ok(AuthPayload {
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        expires_in: tokens.expires_in,
        user,
    })
}

/// The user behind a live session; a session whose user is gone is no session at all.
pub async fn load_user(db: &DatabaseConnection, user_id: i64) -> AppResult<users::Model> {
    users::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::Unauthenticated("the signed-in user no longer exists".into()))
}

/// The user with this openid, created on first sight. Two first logins at once both end with the
/// same row: the loser of the insert race reads the winner's.
pub async fn find_or_create_user(db: &DatabaseConnection, openid: &str) -> AppResult<users::Model> {
    if let Some(user) = users::Entity::find()
        .filter(users::Column::Openid.eq(openid))
        .one(db)
        .await?
    {
        return Ok(user);
    }
    let now = Utc::now();
    let inserted = users::ActiveModel {
        openid: Set(openid.to_owned()),
        nickname: Set(DEFAULT_NICKNAME.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(on_unique("user exists"));
    match inserted {
        Ok(user) => Ok(user),
        Err(AppError::Conflict(_)) => users::Entity::find()
            .filter(users::Column::Openid.eq(openid))
            .one(db)
            .await?
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("user vanished after insert race"))),
        Err(err) => Err(err),
    }
}
