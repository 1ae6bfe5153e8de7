use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::auth::TokenKeys;
use crate::config::Config;
use crate::crypto::FieldCipher;
use crate::store::DynStore;
use crate::wechat::WechatClient;

/// Everything a request needs, shared by all requests of a node.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: DatabaseConnection,
    pub store: DynStore,
    pub keys: Arc<TokenKeys>,
    pub cipher: Arc<FieldCipher>,
    pub wechat: Arc<WechatClient>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Where uploaded images are kept.
    pub media: crate::media::DynObjectStore,
    /// Live updates: what changed, told to the subscribers of every node.
    pub live: Arc<crate::live::Bus>,
    /// Cached `totalCount`s of the wish and errand lists.
    pub counts: Arc<crate::counts::Counts>,
    /// Areas this node has read; see [`entity::loader::AreaCache`].
    pub areas: entity::loader::AreaCache,
    /// The people on leaderboards, read by everyone who opens one; see [`profile_cache`].
    pub profiles: moka::sync::Cache<i64, entity::users::Model>,
}

/// Leaderboards show names and avatars, which their owners change rarely: a node keeps them for
/// half a minute, and drops one at once when it changes through this node.
pub fn profile_cache() -> moka::sync::Cache<i64, entity::users::Model> {
    moka::sync::Cache::builder()
        .max_capacity(50_000)
        .time_to_live(std::time::Duration::from_secs(30))
        .build()
}

impl AppState {
    /// Call after a wish or errand change has committed: drops the cached counts and tells the
    /// subscribers of every node.
    pub async fn changed(&self, topic: crate::live::Topic) {
        self.counts.invalidate();
        self.live.publish(topic).await;
    }
}
