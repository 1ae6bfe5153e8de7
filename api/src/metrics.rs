//! Prometheus metrics, served as text at `/metrics`. One registry per server instance (no global
//! recorder), so several servers in one process keep their own counts.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabel {
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    pub code: String,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Operation names come from clients: only this many distinct ones get a series of their own.
const MAX_OPERATIONS: usize = 200;

pub struct Metrics {
    registry: Registry,
    requests: Family<OperationLabel, Counter>,
    latency: Family<OperationLabel, Histogram, fn() -> Histogram>,
    errors: Family<CodeLabel, Counter>,
    pub db_statements: Counter,
    pub store_calls: Counter,
    pub outbox_depth: Gauge,
    pub ws_connections: Gauge,
    operations: Mutex<HashSet<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("emulin");
        let requests = Family::<OperationLabel, Counter>::default();
        let latency = Family::<OperationLabel, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let errors = Family::<CodeLabel, Counter>::default();
        let db_statements = Counter::default();
        let store_calls = Counter::default();
        let outbox_depth = Gauge::default();
        let ws_connections = Gauge::default();
        registry.register(
            "graphql_requests",
            "GraphQL operations served, by operation name",
            requests.clone(),
        );
        registry.register(
            "graphql_request_duration_seconds",
            "Time to answer a GraphQL request, by operation name",
            latency.clone(),
        );
        registry.register(
            "graphql_errors",
            "Errors answered, by extensions.code",
            errors.clone(),
        );
        registry.register(
            "db_statements",
            "SQL statements sent to the database",
            db_statements.clone(),
        );
        registry.register(
            "redis_calls",
            "Calls to the session, limit and leaderboard store",
            store_calls.clone(),
        );
        registry.register(
            "outbox_depth",
            "Subscribe messages waiting to be sent",
            outbox_depth.clone(),
        );
        registry.register(
            "ws_connections",
            "Open subscription sockets (/graphql/ws)",
            ws_connections.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            errors,
            db_statements,
            store_calls,
            outbox_depth,
            ws_connections,
            operations: Mutex::new(HashSet::new()),
        }
    }

    /// A bounded label for a client-chosen operation name.
    fn operation_label(&self, name: Option<&str>) -> OperationLabel {
        let name = match name {
            Some(n)
                if !n.is_empty()
                    && n.len() <= 64
                    && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                n
            }
            Some(_) => "invalid",
            None => "anonymous",
        };
        let known = match self.operations.lock() {
            Ok(mut seen) => {
                seen.contains(name) || (seen.len() < MAX_OPERATIONS && seen.insert(name.to_owned()))
            }
            Err(_) => false,
        };
        OperationLabel {
            operation: if known {
                name.to_owned()
            } else {
                "other".to_owned()
            },
        }
    }

    pub fn record_request(&self, operation: Option<&str>, elapsed: Duration) {
        let label = self.operation_label(operation);
        self.requests.get_or_create(&label).inc();
        self.latency
            .get_or_create(&label)
            .observe(elapsed.as_secs_f64());
    }

    pub fn record_error(&self, code: &str) {
        self.errors
            .get_or_create(&CodeLabel {
                code: code.to_owned(),
            })
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(err) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %err, "metrics could not be encoded");
        }
        out
    }
}
