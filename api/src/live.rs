//! Live updates: `orderUpdated(id)` and `wishUpdated(id)` over `/graphql/ws`, fed by a small bus.
//!
//! A transition publishes its topic (`wish:12`) after its transaction commits. Every node fans the
//! topics out to its own subscribers through one `tokio::sync::broadcast` channel. With Redis, a
//! node also PUBLISHes the topic on `{prefix}live` and keeps one pub/sub connection that relays the
//! other nodes' topics into its channel; without Redis the channel alone serves the one node.
//!
//! Events carry no data: each subscriber reloads its row, so what it sends is always what the
//! database holds, and a lost or merged event costs nothing but a reload.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Context, ID, Subscription};
use entity::service_order;
use entity::wish;
use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use rand::RngCore;
use sea_orm::{DatabaseConnection, DbErr, EntityTrait};
use tokio::sync::{Mutex, broadcast, watch};

use crate::auth::{Auth, viewer};
use crate::error::{AppError, AppResult, parse_id};
use crate::state::AppState;

/// What changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    Order(i64),
    Wish(i64),
}

impl Topic {
    fn encode(self) -> String {
        match self {
            Topic::Order(id) => format!("order:{id}"),
            Topic::Wish(id) => format!("wish:{id}"),
        }
    }

    fn decode(text: &str) -> Option<Topic> {
        let (kind, id) = text.split_once(':')?;
        let id = id.parse().ok()?;
        match kind {
            "order" => Some(Topic::Order(id)),
            "wish" => Some(Topic::Wish(id)),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Signal {
    Changed(Topic),
    /// Topics may have been missed (the pub/sub connection was down): everyone reloads.
    Resync,
}

/// Enough for bursts of transitions; a subscriber that falls further behind reloads.
const CHANNEL_CAPACITY: usize = 1024;
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

struct RedisLink {
    client: redis::Client,
    publisher: redis::aio::ConnectionManager,
    channel: String,
    /// The pub/sub connection opened at start, so that topics published as soon as the server
    /// serves are not missed; [`Bus::relay`] takes it over.
    first: Mutex<Option<redis::aio::PubSub>>,
}

pub struct Bus {
    local: broadcast::Sender<Signal>,
    /// Tags this node's own publications: they reach local subscribers directly, so the copy
    /// coming back from Redis is skipped.
    node: String,
    redis: Option<RedisLink>,
}

impl Bus {
    /// Connects the Redis side when a URL is given; otherwise a bus for this process alone.
    pub async fn connect(redis_url: Option<&str>, prefix: &str) -> anyhow::Result<Arc<Bus>> {
        let mut node = [0u8; 8];
        rand::rng().fill_bytes(&mut node);
        let redis = match redis_url {
            Some(url) => {
                let client = redis::Client::open(url)?;
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(PUBLISH_TIMEOUT))
                    .set_number_of_retries(2);
                let publisher =
                    redis::aio::ConnectionManager::new_with_config(client.clone(), config).await?;
                let channel = format!("{prefix}live");
                let first = subscribe(&client, &channel).await?;
                Some(RedisLink {
                    client,
                    publisher,
                    channel,
                    first: Mutex::new(Some(first)),
                })
            }
            None => None,
        };
        Ok(Arc::new(Bus {
            local: broadcast::channel(CHANNEL_CAPACITY).0,
            node: hex::encode(node),
            redis,
        }))
    }

    fn receiver(&self) -> broadcast::Receiver<Signal> {
        self.local.subscribe()
    }

    /// Every change this node hears of, its own and the other nodes'.
    pub fn changes(&self) -> broadcast::Receiver<Signal> {
        self.local.subscribe()
    }

    /// Tells every subscriber on every node that `topic` changed. Call it after the change has
    /// committed. Never fails: a change must not be undone or reported failed because nobody
    /// could be told; subscribers on other nodes then catch up on their next event.
    pub async fn publish(&self, topic: Topic) {
        // No receivers is the normal case of nobody watching.
        let _ = self.local.send(Signal::Changed(topic));
        let Some(redis) = &self.redis else {
            return;
        };
        let mut conn = redis.publisher.clone();
        let message = format!("{} {}", self.node, topic.encode());
        let sent = tokio::time::timeout(
            PUBLISH_TIMEOUT,
            redis::cmd("PUBLISH")
                .arg(&redis.channel)
                .arg(message)
                .query_async::<i64>(&mut conn),
        )
        .await;
        match sent {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => {
                tracing::warn!(error = %err, topic = %topic.encode(), "live update not published")
            }
            Err(_) => {
                tracing::warn!(topic = %topic.encode(), "live update not published: Redis timed out")
            }
        }
    }

    /// Relays the other nodes' topics from Redis to this node's subscribers until `shutdown`,
    /// reconnecting with backoff when the connection drops.
    pub async fn relay(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let Some(redis) = &self.redis else {
            return;
        };
        let mut pubsub = redis.first.lock().await.take();
        let mut backoff = Duration::from_millis(100);
        loop {
            let connection = match pubsub.take() {
                Some(connection) => Some(connection),
                None => match subscribe(&redis.client, &redis.channel).await {
                    Ok(connection) => {
                        tracing::info!("live updates: Redis pub/sub connected again");
                        backoff = Duration::from_millis(100);
                        // Topics published while the connection was down are lost; having every
                        // subscriber reload is cheaper than finding out which.
                        let _ = self.local.send(Signal::Resync);
                        Some(connection)
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, retry_in_ms = backoff.as_millis() as u64, "live updates: Redis pub/sub unreachable");
                        None
                    }
                },
            };
            if let Some(connection) = connection {
                let mut messages = connection.into_on_message();
                loop {
                    tokio::select! {
                        message = messages.next() => match message {
                            Some(message) => self.relay_one(&message),
                            None => break,
                        },
                        _ = shutdown.changed() => {}
                    }
                    if *shutdown.borrow() {
                        return;
                    }
                }
                tracing::warn!("live updates: Redis pub/sub connection lost; reconnecting");
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                return;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    fn relay_one(&self, message: &redis::Msg) {
        let Ok(payload) = message.get_payload::<String>() else {
            return;
        };
        let Some((node, topic)) = payload.split_once(' ') else {
            return;
        };
        if node == self.node {
            return;
        }
        if let Some(topic) = Topic::decode(topic) {
            let _ = self.local.send(Signal::Changed(topic));
        }
    }
}

async fn subscribe(client: &redis::Client, channel: &str) -> anyhow::Result<redis::aio::PubSub> {
    let mut pubsub = tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub()).await??;
    tokio::time::timeout(CONNECT_TIMEOUT, pubsub.subscribe(channel)).await??;
    Ok(pubsub)
}

/// Reads one row by id.
type Loader<M> = fn(DatabaseConnection, i64) -> BoxFuture<'static, Result<Option<M>, DbErr>>;

/// One subscriber's view of one row: who watches, and how to reload the row and tell whether the
/// watcher still takes part in it.
struct Watch<M> {
    state: AppState,
    user_id: i64,
    sid: String,
    topic: Topic,
    id: i64,
    load: Loader<M>,
    takes_part: fn(&M, i64) -> bool,
}

/// Where a subscriber's stream is: its first answer still to send, the last row sent, or done.
struct Cursor<M> {
    rx: broadcast::Receiver<Signal>,
    first: Option<M>,
    last: Option<M>,
    done: bool,
}

impl<M> Watch<M>
where
    M: Clone + PartialEq + Send + Sync + 'static,
{
    /// Checks the row and the watcher's part in it, then streams the row as it is now and again
    /// after every change. The stream ends when the watcher's session ends or they no longer take
    /// part in the row; dropping it (the client went away) drops its receiver.
    async fn start(self, what: &str) -> AppResult<BoxStream<'static, async_graphql::Result<M>>> {
        // Subscribe before reading, so a change committed in between is not missed.
        let rx = self.state.live.receiver();
        let row = (self.load)(self.state.db.clone(), self.id)
            .await?
            .ok_or_else(|| AppError::not_found(what))?;
        if !(self.takes_part)(&row, self.user_id) {
            return Err(AppError::forbidden(format!(
                "only the {what}'s participants may follow it"
            )));
        }
        let watch = Arc::new(self);
        let cursor = Cursor {
            rx,
            first: Some(row),
            last: None,
            done: false,
        };
        Ok(futures::stream::unfold(cursor, move |cursor| {
            let watch = watch.clone();
            async move { watch.next(cursor).await }
        })
        .map(|item| item.map_err(async_graphql::Error::from))
        .boxed())
    }

    async fn next(&self, mut cursor: Cursor<M>) -> Option<(AppResult<M>, Cursor<M>)> {
        if cursor.done {
            return None;
        }
        if let Some(row) = cursor.first.take() {
            cursor.last = Some(row.clone());
            return Some((Ok(row), cursor));
        }
        loop {
            match cursor.rx.recv().await {
                Ok(Signal::Changed(topic)) if topic == self.topic => {}
                Ok(Signal::Changed(_)) => continue,
                Ok(Signal::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
            match self.state.store.session_user(&self.sid).await {
                Ok(Some(owner)) if owner == self.user_id => {}
                Ok(_) => {
                    cursor.done = true;
                    return Some((
                        Err(AppError::Unauthenticated(
                            "session has ended; sign in again".into(),
                        )),
                        cursor,
                    ));
                }
                // The same rule as for requests: through a store outage the session counts as
                // live.
                Err(err) => {
                    tracing::warn!(error = %err, "session store unreachable during a live update")
                }
            }
            let row = match (self.load)(self.state.db.clone(), self.id).await {
                Ok(Some(row)) => row,
                Ok(None) => return None,
                Err(err) => {
                    tracing::warn!(error = %err, topic = %self.topic.encode(), "live update not reloaded");
                    continue;
                }
            };
            if !(self.takes_part)(&row, self.user_id) {
                return None;
            }
            if cursor.last.as_ref() == Some(&row) {
                continue;
            }
            cursor.last = Some(row.clone());
            return Some((Ok(row), cursor));
        }
    }
}

fn load_order(
    db: DatabaseConnection,
    id: i64,
) -> BoxFuture<'static, Result<Option<service_order::Model>, DbErr>> {
    Box::pin(async move { service_order::Entity::find_by_id(id).one(&db).await })
}

fn load_wish(
    db: DatabaseConnection,
    id: i64,
) -> BoxFuture<'static, Result<Option<wish::Model>, DbErr>> {
    Box::pin(async move { wish::Entity::find_by_id(id).one(&db).await })
}

fn wish_participant(wish: &wish::Model, user_id: i64) -> bool {
    wish.poster_id == user_id || wish.claimant_id == Some(user_id)
}

/// The signed-in user and session of a connection.
fn watcher(ctx: &Context<'_>) -> AppResult<(i64, String)> {
    let viewer = viewer(ctx)?;
    Ok((viewer.user_id, viewer.sid.clone()))
}

#[derive(Default)]
pub struct LiveSubscription;

#[Subscription]
impl LiveSubscription {
    /// The errand now and after every change, for its resident, steward and assignee (anyone
    /// else: FORBIDDEN). Ends when the subscriber no longer takes part in it or their session
    /// ends.
    async fn order_updated(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<BoxStream<'static, async_graphql::Result<service_order::Model>>>
    {
        let (user_id, sid) = watcher(ctx)?;
        let id = parse_id(&id, "order")?;
        Watch {
            state: ctx.data_unchecked::<AppState>().clone(),
            user_id,
            sid,
            topic: Topic::Order(id),
            id,
            load: load_order,
            takes_part: crate::orders::is_participant,
        }
        .start("order")
        .await
        .map_err(Into::into)
    }

    /// The wish now and after every change, for its poster and claimant (anyone else:
    /// FORBIDDEN). Ends when the subscriber no longer takes part in it or their session ends.
    async fn wish_updated(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<BoxStream<'static, async_graphql::Result<wish::Model>>> {
        let (user_id, sid) = watcher(ctx)?;
        let id = parse_id(&id, "wish")?;
        Watch {
            state: ctx.data_unchecked::<AppState>().clone(),
            user_id,
            sid,
            topic: Topic::Wish(id),
            id,
            load: load_wish,
            takes_part: wish_participant,
        }
        .start("wish")
        .await
        .map_err(Into::into)
    }
}

/// Authenticates a `/graphql/ws` connection from its `connection_init` payload,
/// `{ "token": "<accessToken>" }`.
pub async fn authenticate(state: &AppState, payload: &serde_json::Value) -> Option<Arc<Auth>> {
    let token = payload.get("token").and_then(serde_json::Value::as_str)?;
    match Auth::from_token(state, token).await {
        auth @ Auth::User(_) => Some(Arc::new(auth)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::Topic;

    #[test]
    fn topics_round_trip() {
        for topic in [Topic::Order(7), Topic::Wish(812)] {
            assert_eq!(Topic::decode(&topic.encode()), Some(topic));
        }
        for bad in ["", "wish", "wish:x", "card:1", "order:"] {
            assert_eq!(Topic::decode(bad), None, "{bad}");
        }
    }
}
