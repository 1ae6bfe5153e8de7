use async_graphql::SimpleObject;
use sea_orm::entity::prelude::*;

/// How many more subscribe messages of a template a user has accepted.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, SimpleObject)]
#[sea_orm(table_name = "subscription_quota")]
#[graphql(name = "SubscriptionQuota")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    #[graphql(skip)]
    pub user_id: i64,
    /// The WeChat template id the user accepted.
    #[sea_orm(primary_key, auto_increment = false)]
    pub template_id: String,
    /// Messages the server may still send with it: one per acceptance.
    pub remaining: i32,
    #[graphql(skip)]
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
