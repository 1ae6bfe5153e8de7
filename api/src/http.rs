//! HTTP beside GraphQL: the GraphQL endpoint with its own request handling (auth, body limits,
//! content negotiation), GraphiQL in development, and the health probes.

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::http::GraphiQLSource;
use async_graphql::{BatchRequest, BatchResponse};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use entity::context::CurrentUserId;
use entity::loader::DbLoader;
use serde_json::json;
use tower_http::trace::TraceLayer;

use crate::auth::Auth;
use crate::graphql::AppSchema;
use crate::state::AppState;

pub const MAX_BODY_BYTES: usize = 1024 * 1024;
pub const MAX_BATCH: usize = 10;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

#[derive(Clone)]
struct Http {
    state: AppState,
    schema: AppSchema,
}

pub fn router(state: AppState, schema: AppSchema) -> Router {
    let http = Arc::new(Http { state, schema });
    Router::new()
        .route("/graphql", get(graphiql).post(graphql_post))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http())
        .with_state(http)
}

fn error_body(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(JSON))],
        body.to_string(),
    )
        .into_response()
}

/// The response media type the client asked for: graphql-response+json when it names it,
/// otherwise plain JSON (also for `*/*` or no Accept header at all).
fn wants_graphql_response(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            accept
                .split(',')
                .any(|part| part.trim().starts_with(GRAPHQL_RESPONSE_JSON))
        })
}

async fn graphql_post(State(http): State<Arc<Http>>, headers: HeaderMap, body: Bytes) -> Response {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().to_ascii_lowercase().starts_with(JSON));
    if !is_json {
        return error_body(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_USER_INPUT",
            "send the request as application/json",
        );
    }
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(err) => {
            return error_body(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                &format!("request body is not a GraphQL request: {err}"),
            );
        }
    };
    if let BatchRequest::Batch(list) = &batch
        && (list.is_empty() || list.len() > MAX_BATCH)
    {
        return error_body(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            &format!("a batch holds 1 to {MAX_BATCH} operations"),
        );
    }

    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let auth = Arc::new(Auth::from_bearer(&http.state, bearer).await);
    let user_id = match auth.as_ref() {
        Auth::User(viewer) => Some(CurrentUserId(viewer.user_id)),
        _ => None,
    };

    let db = http.state.db.clone();
    let batch = match batch {
        BatchRequest::Single(req) => {
            BatchRequest::Single(with_request_data(req, &auth, user_id, &db))
        }
        BatchRequest::Batch(list) => BatchRequest::Batch(
            list.into_iter()
                .map(|req| with_request_data(req, &auth, user_id, &db))
                .collect(),
        ),
    };
    let response = http.schema.execute_batch(batch).await;

    let graphql_response = wants_graphql_response(&headers);
    // Under application/graphql-response+json, a request that never reached execution (no
    // `data` at all) is the client's error: 400. Plain JSON keeps 200 for every GraphQL answer.
    let status = match &response {
        BatchResponse::Single(resp)
            if graphql_response && resp.data == async_graphql::Value::Null && resp.is_err() =>
        {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::OK,
    };
    let content_type = if graphql_response {
        GRAPHQL_RESPONSE_JSON
    } else {
        JSON
    };
    match serde_json::to_string(&response) {
        Ok(body) => (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body,
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "serialising a response");
            error_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_SERVER_ERROR",
                "internal server error",
            )
        }
    }
}

fn with_request_data(
    req: async_graphql::Request,
    auth: &Arc<Auth>,
    user_id: Option<CurrentUserId>,
    db: &sea_orm::DatabaseConnection,
) -> async_graphql::Request {
    let mut req = req
        .data(auth.clone())
        .data(DataLoader::new(DbLoader::new(db.clone()), tokio::spawn));
    if let Some(uid) = user_id {
        req = req.data(uid);
    }
    req
}

async fn graphiql(State(http): State<Arc<Http>>) -> Response {
    if !http.state.config.graphiql_enabled() {
        return error_body(
            StatusCode::METHOD_NOT_ALLOWED,
            "BAD_USER_INPUT",
            "use POST /graphql",
        );
    }
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .title("e睦邻 GraphQL")
            .finish(),
    )
    .into_response()
}

async fn readyz(State(http): State<Arc<Http>>) -> Response {
    let db = http.state.db.ping().await;
    let store = http.state.store.ping().await;
    let ready = db.is_ok() && store.is_ok();
    if let Err(err) = &db {
        tracing::warn!(error = %err, "readyz: database does not answer");
    }
    if let Err(err) = &store {
        tracing::warn!(error = %err, "readyz: store does not answer");
    }
    let body = json!({
        "database": if db.is_ok() { "ok" } else { "down" },
        "store": if store.is_ok() { http.state.store.kind() } else { "down" },
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(JSON))],
        body.to_string(),
    )
        .into_response()
}
