//! Sessions and the signed-in user of a request.
//!
//! The access token is a short HS256 JWT carrying the session id; the refresh token is
//! `<sid>.<secret>`, of which only the secret's SHA-256 is stored, rotated on every refresh.
//! Every request checks that its session still exists, so a logout or a revoked session takes
//! effect at once on every node.

use std::sync::Arc;

use async_graphql::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use entity::role_grant::Role;
use entity::{area, role_grant};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, JoinType, QueryFilter, QuerySelect, RelationTrait,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::{Rotation, StoreResult};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    sid: String,
    iat: i64,
    exp: i64,
}

/// Signs and checks access tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        // Pinned to HS256: a token that names another algorithm (or "none") is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    fn sign(&self, user_id: i64, sid: &str, ttl_secs: i64) -> AppResult<String> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            sid: sid.to_owned(),
            iat: now,
            exp: now + ttl_secs,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(AppError::internal)
    }

    fn verify(&self, token: &str) -> Option<(i64, String)> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        Some((data.claims.sub.parse().ok()?, data.claims.sid))
    }
}

/// What a successful sign-in or refresh hands to the client.
pub struct IssuedTokens {
    pub user_id: i64,
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn store_error(err: crate::store::StoreError) -> AppError {
    AppError::internal(err)
}

/// Starts a new session for the user.
pub async fn start_session(state: &AppState, user_id: i64) -> AppResult<IssuedTokens> {
    let sid = random_token(16);
    let secret = random_token(32);
    state
        .store
        .create_session(
            &sid,
            user_id,
            &hash_secret(&secret),
            state.config.refresh_token_ttl,
        )
        .await
        .map_err(store_error)?;
    issue(state, user_id, &sid, &secret)
}

fn issue(state: &AppState, user_id: i64, sid: &str, secret: &str) -> AppResult<IssuedTokens> {
    let ttl = state.config.access_token_ttl.as_secs() as i64;
    Ok(IssuedTokens {
        user_id,
        access_token: state.keys.sign(user_id, sid, ttl)?,
        refresh_token: format!("{sid}.{secret}"),
        expires_in: ttl,
    })
}

/// Rotates a refresh token. A token already rotated away revokes the whole session.
pub async fn refresh_session(state: &AppState, refresh_token: &str) -> AppResult<IssuedTokens> {
    let invalid = || AppError::Unauthenticated("refresh token is invalid or expired".into());
    let (sid, secret) = refresh_token.split_once('.').ok_or_else(invalid)?;
    if sid.is_empty() || secret.is_empty() || refresh_token.len() > 256 {
        return Err(invalid());
    }
    let next = random_token(32);
    match state
        .store
        .rotate_refresh(
            sid,
            &hash_secret(secret),
            &hash_secret(&next),
            state.config.refresh_token_ttl,
        )
        .await
        .map_err(store_error)?
    {
        Rotation::Rotated { user_id } => issue(state, user_id, sid, &next),
        Rotation::Reused => {
            tracing::warn!("refresh token reused; session revoked");
            Err(AppError::Unauthenticated(
                "refresh token was already used; the session is revoked".into(),
            ))
        }
        Rotation::Unknown => Err(invalid()),
    }
}

/// A role grant of the viewer with the path of its area, for scope checks.
#[derive(Debug, Clone)]
pub struct Grant {
    pub role: Role,
    pub area_id: i64,
    pub path: String,
}

/// The signed-in user of a request.
pub struct Viewer {
    pub user_id: i64,
    pub sid: String,
    grants: OnceCell<Vec<Grant>>,
}

impl Viewer {
    /// The viewer's role grants, loaded once per request.
    pub async fn grants(&self, db: &DatabaseConnection) -> AppResult<&[Grant]> {
        let grants = self
            .grants
            .get_or_try_init(|| async {
                let rows: Vec<(Role, i64, String)> = role_grant::Entity::find()
                    .select_only()
                    .column(role_grant::Column::Role)
                    .column(role_grant::Column::AreaId)
                    .column(area::Column::Path)
                    .join(JoinType::InnerJoin, role_grant::Relation::Area.def())
                    .filter(role_grant::Column::UserId.eq(self.user_id))
                    .into_tuple()
                    .all(db)
                    .await?;
                Ok::<_, AppError>(
                    rows.into_iter()
                        .map(|(role, area_id, path)| Grant {
                            role,
                            area_id,
                            path,
                        })
                        .collect(),
                )
            })
            .await?;
        Ok(grants)
    }

    /// The highest role the viewer holds at `path` or above it.
    pub async fn highest_role_over(
        &self,
        db: &DatabaseConnection,
        path: &str,
    ) -> AppResult<Option<Role>> {
        Ok(self
            .grants(db)
            .await?
            .iter()
            .filter(|g| path.starts_with(&g.path))
            .map(|g| g.role)
            .max_by_key(|r| r.rank()))
    }

    /// Whether the viewer holds one of `roles` at `path` or above it.
    pub async fn holds_any_over(
        &self,
        db: &DatabaseConnection,
        path: &str,
        roles: &[Role],
    ) -> AppResult<bool> {
        Ok(self
            .grants(db)
            .await?
            .iter()
            .any(|g| roles.contains(&g.role) && path.starts_with(&g.path)))
    }

    /// Requires a role of at least `min` covering `path`; answers with the role held.
    pub async fn require_role_over(
        &self,
        db: &DatabaseConnection,
        path: &str,
        min: Role,
    ) -> AppResult<Role> {
        match self.highest_role_over(db, path).await? {
            Some(role) if role.rank() >= min.rank() => Ok(role),
            _ => Err(AppError::forbidden("outside your role or area scope")),
        }
    }
}

/// The authentication state of a request, decided once by the HTTP layer.
pub enum Auth {
    Anonymous,
    Invalid(&'static str),
    User(Arc<Viewer>),
}

/// What an `Authorization` header claims, before the session store has been asked.
pub enum Bearer {
    None,
    Invalid(&'static str),
    /// A token with a valid signature, for this user and session.
    Signed {
        user_id: i64,
        sid: String,
    },
}

impl Bearer {
    /// Checks the header's form and the token's signature and expiry; no I/O.
    pub fn parse(state: &AppState, header: Option<&str>) -> Bearer {
        let Some(header) = header else {
            return Bearer::None;
        };
        let Some(token) = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            return Bearer::Invalid("authorization header must be 'Bearer <accessToken>'");
        };
        Self::from_token(state, token)
    }

    /// Checks a bare access token (the WebSocket connection's init payload carries one).
    pub fn from_token(state: &AppState, token: &str) -> Bearer {
        match state.keys.verify(token) {
            Some((user_id, sid)) => Bearer::Signed { user_id, sid },
            None => Bearer::Invalid("access token is invalid or expired"),
        }
    }

    pub fn sid(&self) -> Option<&str> {
        match self {
            Bearer::Signed { sid, .. } => Some(sid),
            _ => None,
        }
    }

    pub fn user_id(&self) -> Option<i64> {
        match self {
            Bearer::Signed { user_id, .. } => Some(*user_id),
            _ => None,
        }
    }

    /// Decides the request's authentication from the store's answer about the session.
    pub fn into_auth(self, session_user: StoreResult<Option<i64>>) -> Auth {
        let (user_id, sid) = match self {
            Bearer::None => return Auth::Anonymous,
            Bearer::Invalid(reason) => return Auth::Invalid(reason),
            Bearer::Signed { user_id, sid } => (user_id, sid),
        };
        let live = match session_user {
            Ok(owner) => owner == Some(user_id),
            Err(err) => {
                // With the store unreachable a signature-checked token, at most 15 minutes old,
                // is honoured: residents keep working through a Redis outage, and revocation
                // takes effect again as soon as the store is back.
                tracing::warn!(error = %err, "session store unreachable; trusting the access token's signature");
                true
            }
        };
        if live {
            Auth::User(Arc::new(Viewer {
                user_id,
                sid,
                grants: OnceCell::new(),
            }))
        } else {
            Auth::Invalid("session has ended; sign in again")
        }
    }
}

impl Auth {
    /// Checks a bearer token: a valid signature and a session that still exists.
    pub async fn from_bearer(state: &AppState, header: Option<&str>) -> Auth {
        let bearer = Bearer::parse(state, header);
        Self::from_session(state, bearer).await
    }

    /// Checks a bare access token: a valid signature and a session that still exists.
    pub async fn from_token(state: &AppState, token: &str) -> Auth {
        Self::from_session(state, Bearer::from_token(state, token)).await
    }

    async fn from_session(state: &AppState, bearer: Bearer) -> Auth {
        let session_user = match bearer.sid() {
            Some(sid) => state.store.session_user(sid).await,
            None => Ok(None),
        };
        bearer.into_auth(session_user)
    }
}

/// The signed-in viewer, or UNAUTHENTICATED.
pub fn viewer<'a>(ctx: &'a Context<'_>) -> AppResult<&'a Viewer> {
    match ctx.data_opt::<Arc<Auth>>().map(Arc::as_ref) {
        Some(Auth::User(viewer)) => Ok(viewer),
        Some(Auth::Invalid(reason)) => Err(AppError::Unauthenticated((*reason).to_owned())),
        _ => Err(AppError::Unauthenticated("sign in first".into())),
    }
}
