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
    /// People as others see them; see [`entity::loader::ProfileCache`].
    pub profiles: entity::loader::ProfileCache,
}

impl AppState {
    /// Call after a wish or errand change has committed: drops the cached counts and tells the
    /// subscribers of every node.
    pub async fn changed(&self, topic: crate::live::Topic) {
        self.counts.invalidate();
        self.live.publish(topic).await;
    }
}
