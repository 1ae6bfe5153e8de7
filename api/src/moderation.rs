//! Content security: every piece of user text is checked with WeChat's msgSecCheck v2 before it
//! is written.
//!
//! - `pass`: written.
//! - `review`: written, and the row it belongs to is flagged for staff (`needsReview`).
//! - `risky`: BAD_USER_INPUT, nothing written.
//! - WeChat busy (-1) or unreachable: a retryable error, nothing written.
//! - WeChat refuses the author (40003 invalid openid, 61010 the user has not opened the
//!   mini-program in the last two hours): BAD_USER_INPUT asking to reopen it, nothing written.
//! - Any other refusal is our misconfiguration: an internal error, logged, nothing written.
//!
//! Without a configured WeChat app (development) every text passes.

use entity::users;

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::wechat::{Suggest, WechatError};

pub use crate::wechat::Scene;

/// errcode 40003: the openid is not valid for this app.
const INVALID_OPENID: i64 = 40003;
/// errcode 61010: the user has not visited the mini-program recently enough.
const USER_VISIT_EXPIRED: i64 = 61010;

/// The outcome of checks that did not reject anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// At least one text needs a person to look at it.
    Review,
}

impl Verdict {
    pub fn needs_review(self) -> bool {
        self == Verdict::Review
    }
}

/// Checks each non-empty text by `author` in `scene`, one WeChat call per text. The first risky
/// text or failure ends the check with an error.
pub async fn check(
    state: &AppState,
    author: &users::Model,
    scene: Scene,
    texts: &[&str],
) -> AppResult<Verdict> {
    let mut verdict = Verdict::Pass;
    for text in texts.iter().filter(|t| !t.trim().is_empty()) {
        let suggest = state
            .wechat
            .msg_sec_check(&author.openid, scene, text)
            .await
            .map_err(|err| refusal(author.id, err))?;
        match suggest {
            Suggest::Pass => {}
            Suggest::Review => verdict = Verdict::Review,
            Suggest::Risky => {
                tracing::info!(target: "audit", user = author.id, ?scene, "content rejected");
                return Err(AppError::bad_input(
                    "the content was rejected by content security",
                ));
            }
        }
    }
    Ok(verdict)
}

/// As `check`, for the signed-in user by id.
pub async fn check_user(
    state: &AppState,
    user_id: i64,
    scene: Scene,
    texts: &[&str],
) -> AppResult<Verdict> {
    if texts.iter().all(|t| t.trim().is_empty()) {
        return Ok(Verdict::Pass);
    }
    let author = crate::identity::load_user(&state.db, user_id).await?;
    check(state, &author, scene, texts).await
}

fn refusal(user_id: i64, err: WechatError) -> AppError {
    match err {
        WechatError::Unavailable(detail) => {
            tracing::warn!(%detail, "msg_sec_check failed");
            AppError::Unavailable("content security is not answering; try again".into())
        }
        WechatError::Refused { code, message }
            if code == INVALID_OPENID || code == USER_VISIT_EXPIRED =>
        {
            tracing::info!(user = user_id, errcode = code, %message, "msg_sec_check refused the author");
            AppError::bad_input(
                "content security could not check this text; reopen the mini-program and try again",
            )
        }
        other => AppError::internal(other),
    }
}
