use async_graphql::{ComplexObject, Context, ID, SimpleObject};
use sea_orm::entity::prelude::*;

use crate::context::internal;
use crate::loader::{RequestLoader, UserById};

/// One administrative action: a role granted or revoked, points awarded or corrected, a rule
/// changed, a member verified, a card's note read by staff.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, SimpleObject)]
#[sea_orm(table_name = "audit_log")]
#[graphql(name = "AuditEntry", complex)]
pub struct Model {
    #[sea_orm(primary_key)]
    #[graphql(skip)]
    pub id: i64,
    #[graphql(skip)]
    pub actor_id: Option<i64>,
    /// What was done, e.g. `role.grant`, `points.award`, `card.note_read`.
    pub action: String,
    /// The kind of object acted on, e.g. `user`, `party_member`, `neighbor_card`.
    pub target_type: String,
    /// Its id.
    pub target_id: String,
    /// Particulars as JSON (never personal data such as phones or notes).
    pub detail: String,
    #[graphql(name = "at")]
    pub created_at: DateTimeUtc,
}

#[ComplexObject]
impl Model {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// Who did it; null for the command line.
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<crate::users::Model>> {
        let Some(id) = self.actor_id else {
            return Ok(None);
        };
        ctx.data_unchecked::<RequestLoader>()
            .load_one(UserById(id))
            .await
            .map_err(internal)
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
