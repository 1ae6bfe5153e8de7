use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Logs to stderr: human-readable in development, JSON lines in production (or LOG_FORMAT=json).
/// RUST_LOG overrides the default level. Lines are written by a background thread, so a request
/// never waits on the terminal or a pipe; the returned guard flushes them when dropped, so keep
/// it until the process ends. When the writer falls behind, logging callers wait rather than
/// lines being dropped.
pub fn init(json: bool) -> Option<WorkerGuard> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let result = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    // Err: a subscriber is already installed (tests), which keeps logging its own way.
    result.ok().map(|()| guard)
}
