//! Delivers the outbox. Every node runs one worker; a message is claimed with a conditional
//! UPDATE (only one node's claim succeeds) and held for a while, so two nodes never send it twice.
//! Transient WeChat failures (-1, network) are retried with exponential backoff; a refusal (43101),
//! a bad template (40037) or any other errcode drops the message.

use std::time::Duration;

use chrono::Utc;
use entity::{outbox, users};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use tokio::sync::watch;

use crate::error::AppResult;
use crate::state::AppState;
use crate::wechat::WechatError;

pub const PENDING: &str = "PENDING";
pub const SENT: &str = "SENT";
pub const DROPPED: &str = "DROPPED";

const BATCH: u64 = 20;
/// How long a claim holds a message: longer than one WeChat call with its retries.
const CLAIM: chrono::Duration = chrono::Duration::seconds(60);
const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// Runs until `shutdown` turns true, finishing the batch in hand.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let mut last_depth_log = std::time::Instant::now();
    loop {
        match deliver_due(&state).await {
            Ok(0) => {}
            Ok(sent) => tracing::debug!(sent, "outbox batch delivered"),
            Err(err) => tracing::warn!(error = %err, "outbox pass failed"),
        }
        if last_depth_log.elapsed() >= Duration::from_secs(60) {
            last_depth_log = std::time::Instant::now();
            match depth(&state).await {
                Ok(depth) => tracing::info!(outbox_depth = depth, "outbox depth"),
                Err(err) => tracing::warn!(error = %err, "outbox depth unknown"),
            }
        }
        tokio::select! {
            () = tokio::time::sleep(state.config.outbox.poll_interval) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            tracing::info!("outbox worker stopped");
            return;
        }
    }
}

/// Messages still waiting to be sent.
pub async fn depth(state: &AppState) -> AppResult<u64> {
    Ok(outbox::Entity::find()
        .filter(outbox::Column::Status.eq(PENDING))
        .count(&state.db)
        .await?)
}

/// One pass: claims due messages one by one and sends them. Answers how many were handled.
pub async fn deliver_due(state: &AppState) -> AppResult<usize> {
    let now = Utc::now();
    let free = Condition::any()
        .add(outbox::Column::LockedUntil.is_null())
        .add(outbox::Column::LockedUntil.lt(now));
    let due: Vec<i64> = outbox::Entity::find()
        .select_only()
        .column(outbox::Column::Id)
        .filter(outbox::Column::Status.eq(PENDING))
        .filter(outbox::Column::NextAttemptAt.lte(now))
        .filter(free.clone())
        .order_by_asc(outbox::Column::Id)
        .limit(BATCH)
        .into_tuple()
        .all(&state.db)
        .await?;
    tracing::debug!(due = due.len(), "outbox pass");
    let mut handled = 0;
    for id in due {
        let claimed = outbox::Entity::update_many()
            .col_expr(outbox::Column::LockedUntil, Expr::value(now + CLAIM))
            .col_expr(
                outbox::Column::Attempts,
                Expr::col(outbox::Column::Attempts).add(1),
            )
            .filter(outbox::Column::Id.eq(id))
            .filter(outbox::Column::Status.eq(PENDING))
            .filter(free.clone())
            .exec(&state.db)
            .await?;
        if claimed.rows_affected == 0 {
            continue; // another node has it
        }
        let Some(message) = outbox::Entity::find_by_id(id).one(&state.db).await? else {
            continue;
        };
        send(state, message).await?;
        handled += 1;
    }
    Ok(handled)
}

async fn send(state: &AppState, message: outbox::Model) -> AppResult<()> {
    let openid = users::Entity::find_by_id(message.user_id)
        .one(&state.db)
        .await?
        .map(|u| u.openid);
    let data: serde_json::Value = serde_json::from_str(&message.payload).unwrap_or_default();
    let result = match &openid {
        Some(openid) => {
            state
                .wechat
                .send_subscribe(openid, &message.template_id, &message.page, &data)
                .await
        }
        None => Err(WechatError::Refused {
            code: 0,
            message: "user no longer exists".into(),
        }),
    };
    let now = Utc::now();
    let update = outbox::Entity::update_many().filter(outbox::Column::Id.eq(message.id));
    let update = match result {
        Ok(()) => update
            .col_expr(outbox::Column::Status, Expr::value(SENT))
            .col_expr(outbox::Column::SentAt, Expr::value(now))
            .col_expr(
                outbox::Column::LockedUntil,
                Expr::value(Option::<chrono::DateTime<Utc>>::None),
            ),
        Err(WechatError::Unavailable(detail))
            if message.attempts < state.config.outbox.max_attempts =>
        {
            let backoff = state
                .config
                .outbox
                .retry_base
                .saturating_mul(1 << (message.attempts - 1).clamp(0, 16))
                .min(MAX_BACKOFF);
            tracing::info!(outbox = message.id, attempts = message.attempts, %detail, "subscribe message will be retried");
            update
                .col_expr(
                    outbox::Column::NextAttemptAt,
                    Expr::value(now + chrono::Duration::from_std(backoff).unwrap_or(CLAIM)),
                )
                .col_expr(
                    outbox::Column::LockedUntil,
                    Expr::value(Option::<chrono::DateTime<Utc>>::None),
                )
                .col_expr(outbox::Column::LastError, Expr::value(truncate(&detail)))
        }
        Err(err) => {
            tracing::info!(outbox = message.id, error = %err, "subscribe message dropped");
            update
                .col_expr(outbox::Column::Status, Expr::value(DROPPED))
                .col_expr(
                    outbox::Column::LockedUntil,
                    Expr::value(Option::<chrono::DateTime<Utc>>::None),
                )
                .col_expr(
                    outbox::Column::LastError,
                    Expr::value(truncate(&err.to_string())),
                )
        }
    };
    update.exec(&state.db).await?;
    Ok(())
}

fn truncate(text: &str) -> String {
    text.chars().take(250).collect()
}
