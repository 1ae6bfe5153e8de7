//! The e睦邻 server: configuration, the GraphQL schema and its capabilities, the stores behind
//! them, and the HTTP application that serves them.

pub mod audit;
pub mod auth;
pub mod care;
pub mod cli;
pub mod config;
pub mod counts;
pub mod crypto;
pub mod db;
pub mod error;
pub mod graphql;
pub mod http;
pub mod identity;
pub mod live;
pub mod media;
pub mod metrics;
pub mod moderation;
pub mod notify;
pub mod orders;
pub mod org;
pub mod pagination;
pub mod points;
pub mod seed;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod wechat;
pub mod wishes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;

use crate::auth::TokenKeys;
use crate::config::Config;
use crate::state::AppState;
use crate::wechat::WechatClient;

/// A server ready to serve: database migrated, stores connected, port bound.
pub struct App {
    listener: tokio::net::TcpListener,
    router: axum::Router,
    state: AppState,
}

impl App {
    /// Connects everything and binds `config.bind_addr` (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        if config.is_production() {
            tracing::info!("production mode");
        } else {
            tracing::info!("development mode");
        }
        let metrics = Arc::new(metrics::Metrics::new());
        let mut db =
            db::connect_with(&config.database_url, config.database_max_connections).await?;
        let statements = metrics.db_statements.clone();
        db.set_metric_callback(move |_| {
            statements.inc();
        });
        db::migrate(&db).await?;
        let root = db::ensure_root_area(&db, &config.district_name).await?;
        if config.database_is_default && seed::seed_demo(&db, &root).await? {
            tracing::info!("seeded the demo district");
        }

        let store: store::DynStore = Arc::new(store::Counted::new(
            store::connect(config.redis_url.as_deref(), &config.redis_key_prefix)
                .await
                .context("connecting to Redis (REDIS_URL)")?,
            metrics.store_calls.clone(),
        ));
        if store.kind() == "memory" {
            tracing::warn!(
                "REDIS_URL is not set: sessions live in this process (single node only)"
            );
        }
        if config.jwt_secret_generated {
            tracing::warn!(
                "JWT_SECRET is not set: a random one was drawn; sessions end when the server restarts"
            );
        }
        if config.dev_login_enabled() {
            let users: Vec<&str> = seed::DEMO_USERS.iter().map(|(openid, _)| *openid).collect();
            tracing::info!(demo_users = %users.join(", "), "dev login is on: devLogin(openid: ...)");
        }

        // Boards are derived data: rebuild them when the store has none (a fresh or emptied
        // Redis, or the in-process store of a new process).
        match store.get(points::boards::BUILT_MARKER).await {
            Ok(Some(_)) => {}
            Ok(None) => match points::boards::rebuild(&db, store.as_ref()).await {
                Ok(count) => tracing::info!(boards = count, "leaderboards rebuilt from the ledger"),
                Err(err) => tracing::warn!(error = %err, "leaderboards not rebuilt at start"),
            },
            Err(err) => {
                tracing::warn!(error = %err, "store does not answer; leaderboards not checked")
            }
        }

        let live = live::Bus::connect(config.redis_url.as_deref(), &config.redis_key_prefix)
            .await
            .context("connecting the live-update bus to Redis (REDIS_URL)")?;

        let wechat = WechatClient::new(config.wechat.clone())?;
        let media = media::open(&config.media)?;
        let state = AppState {
            keys: Arc::new(TokenKeys::new(&config.jwt_secret)),
            cipher: Arc::new(crypto::FieldCipher::new(&config.data_key)),
            config: Arc::new(config),
            db,
            store,
            wechat: Arc::new(wechat),
            metrics,
            media,
            live,
            counts: Arc::default(),
            areas: entity::loader::area_cache(),
            profiles: entity::loader::profile_cache(),
        };
        let schema = graphql::build(Some(state.clone()));
        let router = http::router(state.clone(), schema);
        let listener = tokio::net::TcpListener::bind(state.config.bind_addr)
            .await
            .with_context(|| format!("binding {}", state.config.bind_addr))?;
        Ok(Self {
            listener,
            router,
            state,
        })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then finishes the requests in flight.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.local_addr()?;
        if self.state.config.graphiql_enabled() {
            tracing::info!("listening on http://{addr}/graphql (GraphiQL)");
        } else {
            tracing::info!("listening on {addr}");
        }
        // The outbox worker and the live-update relay run beside the server and stop with it,
        // after the requests in flight have finished.
        let (stop_worker, worker_stopped) = tokio::sync::watch::channel(false);
        let worker = tokio::spawn(notify::worker::run(
            self.state.clone(),
            worker_stopped.clone(),
        ));
        let counts = tokio::spawn(
            self.state
                .counts
                .clone()
                .follow(self.state.live.clone(), worker_stopped.clone()),
        );
        let relay = tokio::spawn(self.state.live.clone().relay(worker_stopped));
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await?;
        let _ = stop_worker.send(true);
        if let Err(err) = worker.await {
            tracing::warn!(error = %err, "outbox worker ended abnormally");
        }
        if let Err(err) = counts.await {
            tracing::warn!(error = %err, "count invalidation ended abnormally");
        }
        if let Err(err) = relay.await {
            tracing::warn!(error = %err, "live-update relay ended abnormally");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
