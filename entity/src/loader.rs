//! DataLoader batch functions: every relation a page of objects asks for is fetched with one
//! `WHERE ... IN (...)` statement per relation, however long the page.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};

use crate::{area, order_event, party_org, role_grant, service_item, users, wish_event};

/// Loads rows for one request; create one per request so its cache never outlives it.
pub struct DbLoader {
    db: DatabaseConnection,
    areas: AreaCache,
    profiles: ProfileCache,
}

/// People as others see them (names, avatars) on feeds, errands and leaderboards, read by
/// everyone and changed rarely by their owners: a node keeps them for half a minute, and the
/// server drops one at once when it changes through this node. Never used to decide access.
pub type ProfileCache = moka::sync::Cache<i64, users::Model>;

pub fn profile_cache() -> ProfileCache {
    moka::sync::Cache::builder()
        .max_capacity(50_000)
        .time_to_live(std::time::Duration::from_secs(30))
        .build()
}

/// Areas are fixed once created (names, kinds and places in the tree never change through the
/// API), and nearly every answer names some: a node keeps the ones it has read. The time limit
/// covers the one exception, the district's name, which a restart with a new DISTRICT_NAME sets.
pub type AreaCache = moka::sync::Cache<i64, area::Model>;

pub fn area_cache() -> AreaCache {
    moka::sync::Cache::builder()
        .max_capacity(100_000)
        .time_to_live(std::time::Duration::from_secs(300))
        .build()
}

/// The loader every request carries. Its cache lives as long as the request, so a row asked for
/// by many fields (or fetched ahead for a whole page) is read once.
pub type RequestLoader = DataLoader<DbLoader, HashMapCache>;

impl DbLoader {
    pub fn new(db: DatabaseConnection, areas: AreaCache, profiles: ProfileCache) -> Self {
        Self {
            db,
            areas,
            profiles,
        }
    }
}

/// Rows by id from what the node keeps; the rest read in one statement and kept.
async fn kept_or_read<M, Fut>(
    kept: &moka::sync::Cache<i64, M>,
    ids: impl Iterator<Item = i64>,
    id_of: fn(&M) -> i64,
    read: impl FnOnce(Vec<i64>) -> Fut,
) -> Result<HashMap<i64, M>, DbErr>
where
    M: Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Vec<M>, DbErr>>,
{
    let mut found = HashMap::new();
    let mut missing = Vec::new();
    for id in ids {
        match kept.get(&id) {
            Some(row) => {
                found.insert(id, row);
            }
            None => missing.push(id),
        }
    }
    if !missing.is_empty() {
        for row in read(missing).await? {
            kept.insert(id_of(&row), row.clone());
            found.insert(id_of(&row), row);
        }
    }
    Ok(found)
}

macro_rules! by_id {
    ($key:ident, $module:ident) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $key(pub i64);

        impl Loader<$key> for DbLoader {
            type Value = $module::Model;
            type Error = Arc<DbErr>;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                let rows = $module::Entity::find()
                    .filter($module::Column::Id.is_in(keys.iter().map(|k| k.0)))
                    .all(&self.db)
                    .await?;
                Ok(rows.into_iter().map(|m| ($key(m.id), m)).collect())
            }
        }
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AreaById(pub i64);

impl Loader<AreaById> for DbLoader {
    type Value = area::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[AreaById]) -> Result<HashMap<AreaById, Self::Value>, Self::Error> {
        let found = kept_or_read(
            &self.areas,
            keys.iter().map(|k| k.0),
            |a| a.id,
            |ids| {
                area::Entity::find()
                    .filter(area::Column::Id.is_in(ids))
                    .all(&self.db)
            },
        )
        .await?;
        Ok(found.into_iter().map(|(id, m)| (AreaById(id), m)).collect())
    }
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserById(pub i64);

impl Loader<UserById> for DbLoader {
    type Value = users::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[UserById]) -> Result<HashMap<UserById, Self::Value>, Self::Error> {
        let found = kept_or_read(
            &self.profiles,
            keys.iter().map(|k| k.0),
            |u| u.id,
            |ids| {
                users::Entity::find()
                    .filter(users::Column::Id.is_in(ids))
                    .all(&self.db)
            },
        )
        .await?;
        Ok(found.into_iter().map(|(id, m)| (UserById(id), m)).collect())
    }
}
by_id!(PartyOrgById, party_org);
by_id!(ServiceItemById, service_item);

/// The children of an area.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AreaChildren(pub i64);

impl Loader<AreaChildren> for DbLoader {
    type Value = Vec<area::Model>;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[AreaChildren],
    ) -> Result<HashMap<AreaChildren, Self::Value>, Self::Error> {
        let rows = area::Entity::find()
            .filter(area::Column::ParentId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(area::Column::Id)
            .all(&self.db)
            .await?;
        let mut out: HashMap<AreaChildren, Vec<area::Model>> = HashMap::new();
        for row in rows {
            if let Some(parent) = row.parent_id {
                out.entry(AreaChildren(parent)).or_default().push(row);
            }
        }
        Ok(out)
    }
}

/// The role grants of a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RolesOfUser(pub i64);

impl Loader<RolesOfUser> for DbLoader {
    type Value = Vec<role_grant::Model>;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[RolesOfUser],
    ) -> Result<HashMap<RolesOfUser, Self::Value>, Self::Error> {
        let rows = role_grant::Entity::find()
            .filter(role_grant::Column::UserId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(role_grant::Column::Id)
            .all(&self.db)
            .await?;
        let mut out: HashMap<RolesOfUser, Vec<role_grant::Model>> = HashMap::new();
        for row in rows {
            out.entry(RolesOfUser(row.user_id)).or_default().push(row);
        }
        Ok(out)
    }
}

/// The events of a wish, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventsOfWish(pub i64);

impl Loader<EventsOfWish> for DbLoader {
    type Value = Vec<wish_event::Model>;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[EventsOfWish],
    ) -> Result<HashMap<EventsOfWish, Self::Value>, Self::Error> {
        let rows = wish_event::Entity::find()
            .filter(wish_event::Column::WishId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(wish_event::Column::Id)
            .all(&self.db)
            .await?;
        let mut out: HashMap<EventsOfWish, Vec<wish_event::Model>> = HashMap::new();
        for row in rows {
            out.entry(EventsOfWish(row.wish_id)).or_default().push(row);
        }
        Ok(out)
    }
}

/// The events of an order, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventsOfOrder(pub i64);

impl Loader<EventsOfOrder> for DbLoader {
    type Value = Vec<order_event::Model>;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[EventsOfOrder],
    ) -> Result<HashMap<EventsOfOrder, Self::Value>, Self::Error> {
        let rows = order_event::Entity::find()
            .filter(order_event::Column::OrderId.is_in(keys.iter().map(|k| k.0)))
            .order_by_asc(order_event::Column::Id)
            .all(&self.db)
            .await?;
        let mut out: HashMap<EventsOfOrder, Vec<order_event::Model>> = HashMap::new();
        for row in rows {
            out.entry(EventsOfOrder(row.order_id))
                .or_default()
                .push(row);
        }
        Ok(out)
    }
}

/// The contacts that apply at the area with this materialised path: for each kind, the one set at
/// the nearest area at or above it. One query for every area on every path of the batch.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ContactsOnPath(pub String);

impl ContactsOnPath {
    /// Ids of the areas on the path, from the district down.
    fn ids(&self) -> Vec<i64> {
        self.0
            .split('/')
            .filter_map(|part| part.parse().ok())
            .collect()
    }
}

impl Loader<ContactsOnPath> for DbLoader {
    type Value = Vec<crate::area_contact::Model>;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[ContactsOnPath],
    ) -> Result<HashMap<ContactsOnPath, Self::Value>, Self::Error> {
        use crate::area_contact::{self, ContactKind};
        use sea_orm::Iterable;

        let mut area_ids: Vec<i64> = keys.iter().flat_map(ContactsOnPath::ids).collect();
        area_ids.sort_unstable();
        area_ids.dedup();
        let rows = area_contact::Entity::find()
            .filter(area_contact::Column::AreaId.is_in(area_ids))
            .all(&self.db)
            .await?;
        let set: HashMap<(i64, ContactKind), &area_contact::Model> =
            rows.iter().map(|c| ((c.area_id, c.kind), c)).collect();
        Ok(keys
            .iter()
            .map(|key| {
                let path = key.ids();
                let nearest = ContactKind::iter()
                    .filter_map(|kind| {
                        path.iter()
                            .rev()
                            .find_map(|area| set.get(&(*area, kind)).map(|c| (*c).clone()))
                    })
                    .collect();
                (key.clone(), nearest)
            })
            .collect())
    }
}

macro_rules! images_of {
    ($key:ident, $module:ident, $owner:ident, $field:ident) => {
        /// The images of one owner, in their positions; one joined statement for the batch.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $key(pub i64);

        impl Loader<$key> for DbLoader {
            type Value = Vec<crate::upload::Model>;
            type Error = Arc<DbErr>;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                let rows = crate::$module::Entity::find()
                    .filter(crate::$module::Column::$owner.is_in(keys.iter().map(|k| k.0)))
                    .order_by_asc(crate::$module::Column::$owner)
                    .order_by_asc(crate::$module::Column::Position)
                    .find_also_related(crate::upload::Entity)
                    .all(&self.db)
                    .await?;
                let mut out: HashMap<$key, Vec<crate::upload::Model>> = HashMap::new();
                for (link, upload) in rows {
                    if let Some(upload) = upload {
                        out.entry($key(link.$field)).or_default().push(upload);
                    }
                }
                Ok(out)
            }
        }
    };
}

images_of!(ImagesOfWish, wish_image, WishId, wish_id);
images_of!(ImagesOfOrder, order_image, OrderId, order_id);
