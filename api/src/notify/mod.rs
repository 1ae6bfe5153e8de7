//! WeChat subscribe messages. The mini-program reports the templates a user accepted; each
//! acceptance allows one message. A change that deserves a message queues it in the outbox inside
//! its own transaction, spending one acceptance; the worker (`worker.rs`) delivers it later, so
//! sending never fails or delays the mutation.

pub mod worker;

use async_graphql::{Context, Object};
use chrono::{DateTime, Utc};
use entity::{outbox, service_order, subscription_quota, wish};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionTrait,
};
use serde_json::{Value, json};

use crate::auth::viewer;
use crate::error::{AppError, AppResult, check_text};
use crate::points::ledger::local_offset;
use crate::state::AppState;

const MAX_TEMPLATES: usize = 20;
const MAX_TEMPLATE_ID: usize = 64;

/// Which configured template a message uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Template {
    OrderStatus,
    WishStatus,
}

/// A message to queue for one user.
pub struct Notice {
    pub user_id: i64,
    pub template: Template,
    pub page: String,
    pub data: Value,
}

/// Cuts a value to WeChat's limit for its field type (thing: 20 characters, phrase: 5, ...).
fn fit(value: &str, max_chars: usize) -> String {
    let value = value.trim();
    if value.chars().count() <= max_chars {
        return value.to_owned();
    }
    let mut cut: String = value.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn local_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&local_offset())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn fields(subject: &str, status_word: &str, at: DateTime<Utc>, id: i64) -> Value {
    json!({
        "thing1": { "value": fit(subject, 20) },
        "phrase2": { "value": fit(status_word, 5) },
        "time3": { "value": local_time(at) },
        "character_string4": { "value": fit(&id.to_string(), 32) },
    })
}

impl Notice {
    pub fn order(user_id: i64, order: &service_order::Model, status_word: &str) -> Self {
        Notice {
            user_id,
            template: Template::OrderStatus,
            page: format!("pages/orders/detail?id={}", order.id),
            data: fields(&order.description, status_word, order.updated_at, order.id),
        }
    }

    pub fn wish(user_id: i64, wish: &wish::Model, status_word: &str) -> Self {
        Notice {
            user_id,
            template: Template::WishStatus,
            page: format!("pages/wishes/detail?id={}", wish.id),
            data: fields(&wish.title, status_word, Utc::now(), wish.id),
        }
    }
}

/// Queues a message inside the caller's transaction if the template is configured and the user
/// has an acceptance left, spending it. Otherwise nothing is queued.
pub async fn enqueue(
    txn: &impl ConnectionTrait,
    state: &AppState,
    notice: Notice,
) -> AppResult<()> {
    let template = match notice.template {
        Template::OrderStatus => state.config.wechat.template_order_status.as_deref(),
        Template::WishStatus => state.config.wechat.template_wish_status.as_deref(),
    };
    let Some(template) = template else {
        return Ok(());
    };
    let spent = subscription_quota::Entity::update_many()
        .col_expr(
            subscription_quota::Column::Remaining,
            Expr::col(subscription_quota::Column::Remaining).sub(1),
        )
        .col_expr(
            subscription_quota::Column::UpdatedAt,
            Expr::value(Utc::now()),
        )
        .filter(subscription_quota::Column::UserId.eq(notice.user_id))
        .filter(subscription_quota::Column::TemplateId.eq(template))
        .filter(subscription_quota::Column::Remaining.gt(0))
        .exec(txn)
        .await?;
    if spent.rows_affected == 0 {
        tracing::debug!(
            user = notice.user_id,
            template,
            "no acceptance left; no message queued"
        );
        return Ok(());
    }
    let now = Utc::now();
    outbox::ActiveModel {
        user_id: Set(notice.user_id),
        template_id: Set(template.to_owned()),
        page: Set(notice.page),
        payload: Set(notice.data.to_string()),
        status: Set(worker::PENDING.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

#[derive(Default)]
pub struct NotifyMutation;

#[Object]
impl NotifyMutation {
    /// Records the templates the user accepted in wx.requestSubscribeMessage; each acceptance
    /// allows one message. Answers what is left for each template named.
    async fn record_subscriptions(
        &self,
        ctx: &Context<'_>,
        template_ids: Vec<String>,
    ) -> AppResult<Vec<subscription_quota::Model>> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        if template_ids.is_empty() || template_ids.len() > MAX_TEMPLATES {
            return Err(AppError::bad_input(format!(
                "name 1 to {MAX_TEMPLATES} templates"
            )));
        }
        let ids: Vec<String> = template_ids
            .iter()
            .map(|id| check_text("templateId", id, MAX_TEMPLATE_ID))
            .collect::<AppResult<_>>()?;
        let now = Utc::now();
        let txn = state.db.begin().await?;
        for id in &ids {
            subscription_quota::Entity::insert(subscription_quota::ActiveModel {
                user_id: Set(viewer.user_id),
                template_id: Set(id.clone()),
                remaining: Set(1),
                updated_at: Set(now),
            })
            .on_conflict(
                OnConflict::columns([
                    subscription_quota::Column::UserId,
                    subscription_quota::Column::TemplateId,
                ])
                .value(
                    subscription_quota::Column::Remaining,
                    Expr::col((
                        subscription_quota::Entity,
                        subscription_quota::Column::Remaining,
                    ))
                    .add(1),
                )
                .value(subscription_quota::Column::UpdatedAt, Expr::value(now))
                .to_owned(),
            )
            .exec(&txn)
            .await?;
        }
        let rows = subscription_quota::Entity::find()
            .filter(subscription_quota::Column::UserId.eq(viewer.user_id))
            .filter(subscription_quota::Column::TemplateId.is_in(ids.iter().cloned()))
            .all(&txn)
            .await?;
        txn.commit().await?;
        let mut seen = std::collections::HashSet::new();
        Ok(ids
            .iter()
            .filter(|id| seen.insert((*id).clone()))
            .filter_map(|id| rows.iter().find(|r| &r.template_id == id).cloned())
            .collect())
    }
}
