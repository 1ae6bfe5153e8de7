//! sea-orm entities of e睦邻. Each model is also the GraphQL object of the same name: the schema is
//! generated from these definitions, and every secret or personal column is skipped here and
//! reached only through a guarded resolver.

pub mod area;
pub mod area_contact;
pub mod audit_log;
pub mod context;
pub mod loader;
pub mod neighbor_card;
pub mod order_event;
pub mod order_image;
pub mod outbox;
pub mod party_member;
pub mod party_org;
pub mod point_entry;
pub mod point_rule;
pub mod prelude;
pub mod role_grant;
pub mod sea_orm_active_enums;
pub mod service_item;
pub mod service_order;
pub mod subscription_quota;
pub mod upload;
pub mod users;
pub mod wish;
pub mod wish_event;
pub mod wish_image;
