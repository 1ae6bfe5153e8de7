//! HTTP beside GraphQL: the GraphQL endpoint (GraphQL over HTTP: POST, and GET for queries) with
//! its own request handling (auth, rate limits, body limits, content negotiation), GraphiQL in
//! development, subscriptions over WebSocket (`/graphql/ws`), image uploads (`POST /upload`,
//! `GET /media/{key}`), and the health probes.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::GraphiQLSource;
use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{BatchRequest, BatchResponse, Data, Request};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::Router;
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::multipart::{Multipart, MultipartError};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use entity::context::CurrentUserId;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::{Auth, Bearer};
use crate::graphql::AppSchema;
use crate::media::{self, ImageKind, MAX_IMAGE_BYTES};
use crate::state::AppState;
use crate::store::{RateLimit, Throttle};

pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// An upload's body: the largest image and room for the multipart framing around it.
pub const MAX_UPLOAD_BODY_BYTES: usize = MAX_IMAGE_BYTES + 64 * 1024;
pub const MAX_BATCH: usize = 10;
/// Every request is answered within this time, one way or another.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";
const MINUTE: Duration = Duration::from_secs(60);
/// The one WebSocket subprotocol spoken at `/graphql/ws`.
const WS_PROTOCOL: &str = "graphql-transport-ws";
/// The close code (and reason) of a connection whose init payload has no valid token.
const WS_UNAUTHORIZED: u16 = 4401;
const WS_UNAUTHORIZED_REASON: &str = "Unauthorized";

struct Http {
    state: AppState,
    schema: AppSchema,
}

pub fn router(state: AppState, schema: AppSchema) -> Router {
    let http = Arc::new(Http { state, schema });
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphql/ws", get(graphql_ws))
        .route(
            "/upload",
            post(upload).layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY_BYTES)),
        )
        .route("/media/{key}", get(serve_media))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // A bug must cost one request, never the connection or a silent hang: a panic becomes a
        // logged 500 with the usual error shape.
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        // Every request gets an id (or keeps the proxy's), logged on its span and sent back in
        // X-Request-Id. Only method and path are logged: never headers (tokens) or bodies.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
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

async fn graphql_post(
    State(http): State<Arc<Http>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
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
    execute(&http, &headers, peer, batch).await
}

/// GET runs queries from the query string; mutations are refused (405), and a bare GET opens
/// GraphiQL in development.
async fn graphql_get(
    State(http): State<Arc<Http>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(query) = query.filter(|q| q.split('&').any(|pair| pair.starts_with("query="))) else {
        if http.state.config.graphiql_enabled() {
            return Html(
                GraphiQLSource::build()
                    .endpoint("/graphql")
                    .title("e睦邻 GraphQL")
                    .finish(),
            )
            .into_response();
        }
        return error_body(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            "give the GraphQL query in the `query` parameter",
        );
    };
    let request = match async_graphql::http::parse_query_string(&query) {
        Ok(request) => request,
        Err(err) => {
            return error_body(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                &format!("bad GraphQL request: {err}"),
            );
        }
    };
    if is_mutation(&request) {
        let mut response = error_body(
            StatusCode::METHOD_NOT_ALLOWED,
            "BAD_USER_INPUT",
            "send mutations with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    execute(&http, &headers, peer, BatchRequest::Single(request)).await
}

/// Whether the operation a request would run is a mutation. A document that does not parse is
/// left to the executor, which reports it properly.
fn is_mutation(request: &Request) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    let operation = match (&document.operations, &request.operation_name) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name.as_str()),
        (DocumentOperations::Multiple(ops), None) => ops.values().next(),
    };
    operation.is_some_and(|op| op.node.ty == OperationType::Mutation)
}

/// The client's address: the connection's, or with TRUST_FORWARDED_FOR the first of
/// X-Forwarded-For.
fn client_address(http: &Http, headers: &HeaderMap, peer: SocketAddr) -> IpAddr {
    if http.state.config.rate_limits.trust_forwarded_for
        && let Some(forwarded) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return forwarded;
    }
    peer.ip()
}

/// Signing in and refreshing are what brute force and token stuffing aim at: they get their own,
/// stricter budget per address.
fn signs_in(batch: &BatchRequest) -> bool {
    let hits = |req: &Request| {
        ["wechatLogin", "refreshSession", "devLogin"]
            .iter()
            .any(|f| req.query.contains(f))
    };
    match batch {
        BatchRequest::Single(req) => hits(req),
        BatchRequest::Batch(list) => list.iter().any(hits),
    }
}

/// The rate limits a request counts against: its client address, its user, and for signing in
/// a stricter budget per address. None when limits are off.
fn rate_limits(http: &Http, address: IpAddr, user: Option<i64>, sign_in: bool) -> Vec<RateLimit> {
    let limits = &http.state.config.rate_limits;
    if !limits.enabled {
        return Vec::new();
    }
    let limit = |key: String, limit: u32| RateLimit {
        key,
        limit,
        period: MINUTE,
    };
    let mut checks = vec![limit(format!("rl:addr:{address}"), limits.per_address)];
    if let Some(user) = user {
        checks.push(limit(format!("rl:user:{user}"), limits.per_user));
    }
    if sign_in {
        checks.push(limit(
            format!("rl:signin:{address}"),
            limits.sign_in_per_address,
        ));
    }
    checks
}

/// Asks the store, in one round trip, whose session the token carries and whether the request
/// is within its limits. A store failure lets the request through on the token's signature:
/// limits protect the service, they must not take it down.
async fn admit(
    http: &Http,
    headers: &HeaderMap,
    address: IpAddr,
    sign_in: bool,
) -> (Auth, Option<Duration>) {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let bearer = Bearer::parse(&http.state, header);
    let limits = rate_limits(http, address, bearer.user_id(), sign_in);
    if bearer.sid().is_none() && limits.is_empty() {
        return (bearer.into_auth(Ok(None)), None);
    }
    match http.state.store.admit(bearer.sid(), &limits).await {
        Ok(admission) => {
            let wait = match admission.throttle {
                Throttle::Allowed => None,
                Throttle::Limited { retry_after } => Some(retry_after),
            };
            (bearer.into_auth(Ok(admission.session_user)), wait)
        }
        Err(err) => {
            tracing::warn!(error = %err, "rate limits not checked");
            (bearer.into_auth(Err(err)), None)
        }
    }
}

async fn execute(
    http: &Http,
    headers: &HeaderMap,
    peer: SocketAddr,
    batch: BatchRequest,
) -> Response {
    let started = std::time::Instant::now();
    let operation = match &batch {
        BatchRequest::Single(req) => req.operation_name.clone(),
        BatchRequest::Batch(_) => Some("batch".to_owned()),
    };
    let (response, user, errors) = run(http, headers, peer, batch).await;
    let elapsed = started.elapsed();
    http.state
        .metrics
        .record_request(operation.as_deref(), elapsed);
    tracing::info!(
        operation = operation.as_deref().unwrap_or("anonymous"),
        user = user.unwrap_or(0),
        status = response.status().as_u16(),
        errors,
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        "graphql"
    );
    response
}

/// Answers the request, with the signed-in user and the number of errors for the log.
async fn run(
    http: &Http,
    headers: &HeaderMap,
    peer: SocketAddr,
    batch: BatchRequest,
) -> (Response, Option<i64>, usize) {
    let address = client_address(http, headers, peer);
    let (auth, over_limit) = admit(http, headers, address, signs_in(&batch)).await;
    let auth = Arc::new(auth);
    let user_id = match auth.as_ref() {
        Auth::User(viewer) => Some(CurrentUserId(viewer.user_id)),
        _ => None,
    };
    if let Some(wait) = over_limit {
        http.state.metrics.record_error("RATE_LIMITED");
        let seconds = wait.as_secs().max(1);
        let body = json!({ "errors": [{
            "message": "too many requests; slow down",
            "extensions": { "code": "RATE_LIMITED", "retryable": true, "retryAfter": seconds },
        }] });
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::CONTENT_TYPE, HeaderValue::from_static(JSON))],
            body.to_string(),
        )
            .into_response();
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return (response, user_id.map(|u| u.0), 1);
    }

    let with_data = |req: Request| {
        let mut req = req
            .data(auth.clone())
            .data(crate::graphql::request_loader(&http.state));
        if let Some(uid) = user_id {
            req = req.data(uid);
        }
        req
    };
    let batch = match batch {
        BatchRequest::Single(req) => BatchRequest::Single(with_data(req)),
        BatchRequest::Batch(list) => BatchRequest::Batch(list.into_iter().map(with_data).collect()),
    };
    let response = http.schema.execute_batch(batch).await;
    let responses = match &response {
        BatchResponse::Single(resp) => std::slice::from_ref(resp),
        BatchResponse::Batch(list) => list.as_slice(),
    };
    let mut errors = 0;
    for error in responses.iter().flat_map(|r| &r.errors) {
        errors += 1;
        let code = error.extensions.as_ref().and_then(|ext| ext.get("code"));
        if let Some(async_graphql::Value::String(code)) = code {
            http.state.metrics.record_error(code);
        }
    }
    (
        respond(response, wants_graphql_response(headers)),
        user_id.map(|u| u.0),
        errors,
    )
}

/// A request error (the document did not parse or validate, or its variables did not fit) never
/// reached execution: it has errors without a path and no data.
fn is_request_error(resp: &async_graphql::Response) -> bool {
    resp.data == async_graphql::Value::Null
        && resp.is_err()
        && resp.errors.iter().all(|e| e.path.is_empty())
}

fn respond(response: BatchResponse, graphql_response: bool) -> Response {
    // Under application/graphql-response+json a request error is answered 400 without a `data`
    // entry; plain JSON keeps 200 for every GraphQL answer, as older clients expect.
    let (status, body) = match &response {
        BatchResponse::Single(resp) if graphql_response && is_request_error(resp) => {
            let mut body = serde_json::to_value(resp).unwrap_or(Value::Null);
            if let Some(map) = body.as_object_mut() {
                map.remove("data");
            }
            (StatusCode::BAD_REQUEST, body)
        }
        _ => (
            StatusCode::OK,
            serde_json::to_value(&response).unwrap_or(Value::Null),
        ),
    };
    let content_type = if graphql_response {
        GRAPHQL_RESPONSE_JSON
    } else {
        JSON
    };
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body.to_string(),
    )
        .into_response()
}

/// `GET /graphql/ws`: subscriptions over graphql-transport-ws. The access token comes in the
/// `connection_init` payload, `{ "token": "<accessToken>" }`; without a valid one the socket is
/// closed with 4401.
async fn graphql_ws(State(http): State<Arc<Http>>, request: axum::extract::Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let offered = parts
        .headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|list| list.split(',').any(|p| p.trim() == WS_PROTOCOL));
    if !offered {
        return error_body(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            "open the socket with the graphql-transport-ws subprotocol",
        );
    }
    // The legacy `graphql-ws` subprotocol reports a refused init without a close code, so it is
    // not spoken even when a client offers it first.
    parts.headers.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(WS_PROTOCOL),
    );
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &()).await {
        Ok(protocol) => protocol,
        Err(status) => return status.into_response(),
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let state = http.state.clone();
    let schema = http.schema.clone();
    upgrade
        .protocols([WS_PROTOCOL])
        .on_upgrade(move |socket| serve_ws(socket, state, schema, protocol))
}

async fn serve_ws(
    socket: WebSocket,
    state: AppState,
    schema: AppSchema,
    protocol: GraphQLProtocol,
) {
    state.metrics.ws_connections.inc();
    let (sink, stream) = socket.split();
    // async-graphql closes every refused connection_init with 1002; graphql-transport-ws clients
    // expect 4401 for a missing or bad token, and know not to retry it.
    let sink = sink.with(|message: Message| async move {
        Ok::<_, axum::Error>(match message {
            Message::Close(Some(frame))
                if frame.code == 1002 && frame.reason.as_str() == WS_UNAUTHORIZED_REASON =>
            {
                Message::Close(Some(CloseFrame {
                    code: WS_UNAUTHORIZED,
                    reason: frame.reason,
                }))
            }
            other => other,
        })
    });
    let init_state = state.clone();
    GraphQLWebSocket::new_with_pair(sink, stream, schema, protocol)
        .on_connection_init(move |payload| async move {
            let Some(auth) = crate::live::authenticate(&init_state, &payload).await else {
                return Err(async_graphql::Error::new(WS_UNAUTHORIZED_REASON));
            };
            let mut data = Data::default();
            if let Auth::User(viewer) = auth.as_ref() {
                data.insert(CurrentUserId(viewer.user_id));
            }
            data.insert(auth);
            // Connection data outlives every event; with its cache off the loader still batches
            // but never answers an event with rows read for an earlier one.
            let loader = crate::graphql::request_loader(&init_state);
            loader.enable_all_cache(false);
            data.insert(loader);
            Ok(data)
        })
        .serve()
        .await;
    state.metrics.ws_connections.dec();
}

/// `POST /upload`: one image in the multipart field `file`, from a signed-in user. Answers
/// `{"id", "url"}`; 401 without a valid token, 400 without the field, 413 past 5 MiB, 415 for
/// anything but JPEG, PNG or WebP bytes.
async fn upload(
    State(http): State<Arc<Http>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Response {
    // Uploads count against the same per-user and per-address budgets as GraphQL requests.
    let address = client_address(&http, &headers, peer);
    let (auth, over_limit) = admit(&http, &headers, address, false).await;
    let viewer = match auth {
        Auth::User(viewer) => viewer,
        Auth::Invalid(reason) => {
            return error_body(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", reason);
        }
        Auth::Anonymous => {
            return error_body(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "sign in first: Authorization: Bearer <accessToken>",
            );
        }
    };
    if let Some(wait) = over_limit {
        http.state.metrics.record_error("RATE_LIMITED");
        let mut response = error_body(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "too many requests; slow down",
        );
        if let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let bytes = loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => {
                return error_body(
                    StatusCode::BAD_REQUEST,
                    "BAD_USER_INPUT",
                    "send the image in the multipart field `file`",
                );
            }
            Err(err) => return multipart_error(err),
        };
        if field.name() != Some("file") {
            continue;
        }
        let mut bytes = Vec::new();
        let mut too_big = false;
        loop {
            match field.chunk().await {
                // Past the limit the rest (at most the body limit) is read and dropped, so the
                // client gets to see the answer rather than a reset connection.
                Ok(Some(_)) if too_big => {}
                Ok(Some(chunk)) if bytes.len() + chunk.len() > MAX_IMAGE_BYTES => {
                    too_big = true;
                    bytes = Vec::new();
                }
                Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(err) => return multipart_error(err),
            }
        }
        if too_big {
            return too_large();
        }
        break bytes;
    };
    let Some(kind) = ImageKind::sniff(&bytes) else {
        return error_body(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_USER_INPUT",
            "only JPEG, PNG and WebP images are accepted",
        );
    };
    match media::save(
        &http.state.db,
        http.state.media.as_ref(),
        viewer.user_id,
        bytes,
        kind,
    )
    .await
    {
        Ok(row) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, HeaderValue::from_static(JSON))],
            json!({ "id": row.id.to_string(), "url": row.media_url() }).to_string(),
        )
            .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "upload not stored");
            error_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_SERVER_ERROR",
                "the image could not be stored; try again",
            )
        }
    }
}

fn too_large() -> Response {
    error_body(
        StatusCode::PAYLOAD_TOO_LARGE,
        "BAD_USER_INPUT",
        "an image may be at most 5 MiB",
    )
}

fn multipart_error(err: MultipartError) -> Response {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large();
    }
    error_body(
        StatusCode::BAD_REQUEST,
        "BAD_USER_INPUT",
        &format!("not a multipart/form-data upload: {}", err.body_text()),
    )
}

/// `GET /media/{key}`: an uploaded image. Keys are content addresses, so the answer may be
/// cached for good.
async fn serve_media(State(http): State<Arc<Http>>, Path(key): Path<String>) -> Response {
    let not_found = || error_body(StatusCode::NOT_FOUND, "NOT_FOUND", "no such image");
    let Some(kind) = media::parse_key(&key) else {
        return not_found();
    };
    let found = http
        .state
        .media
        .get(&object_store::path::Path::from(key.as_str()))
        .await;
    let result = match found {
        Ok(result) => result,
        Err(object_store::Error::NotFound { .. }) => return not_found(),
        Err(err) => {
            tracing::error!(error = %err, "media store does not answer");
            return error_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_SERVER_ERROR",
                "the image could not be read",
            );
        }
    };
    let size = result.meta.size;
    let mut response = Body::from_stream(result.into_stream()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(kind.content_type()),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    response
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

async fn metrics(State(http): State<Arc<Http>>) -> Response {
    match crate::notify::worker::depth(&http.state).await {
        Ok(depth) => {
            http.state
                .metrics
                .outbox_depth
                .set(i64::try_from(depth).unwrap_or(i64::MAX));
        }
        Err(err) => tracing::warn!(error = %err, "outbox depth unknown"),
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        http.state.metrics.render(),
    )
        .into_response()
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    error_body(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL_SERVER_ERROR",
        "internal server error",
    )
}
