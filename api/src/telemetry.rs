use tracing_subscriber::EnvFilter;

/// Logs to stderr: human-readable in development, JSON lines in production (or LOG_FORMAT=json).
/// RUST_LOG overrides the default level.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    if result.is_err() {
        // A subscriber is already installed (tests): keep it.
    }
}
