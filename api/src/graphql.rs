//! The GraphQL schema: the capabilities' query and mutation objects merged into one, with the
//! limits that keep hostile queries cheap and the single place where errors get their codes.

use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache};
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextSubscribe,
};
use async_graphql::futures_util::stream::{BoxStream, StreamExt};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{
    MergedObject, MergedSubscription, Response, Schema, ServerError, ServerResult, Variables,
};
use entity::loader::{DbLoader, RequestLoader};

use crate::audit::AuditQuery;
use crate::care::{CardPolicy, CareMutation, CareQuery};
use crate::error::AppError;
use crate::identity::{IdentityMutation, IdentityQuery};
use crate::live::LiveSubscription;
use crate::notify::NotifyMutation;
use crate::orders::catalog::{CatalogMutation, CatalogQuery};
use crate::orders::{OrdersMutation, OrdersQuery};
use crate::org::{OrgMutation, OrgQuery};
use crate::points::{PointsMutation, PointsQuery};
use crate::state::AppState;
use crate::wishes::{WishesMutation, WishesQuery};

#[derive(MergedObject, Default)]
pub struct QueryRoot(
    IdentityQuery,
    OrgQuery,
    WishesQuery,
    PointsQuery,
    CatalogQuery,
    OrdersQuery,
    CareQuery,
    AuditQuery,
);

#[derive(MergedObject, Default)]
pub struct MutationRoot(
    IdentityMutation,
    OrgMutation,
    WishesMutation,
    PointsMutation,
    CatalogMutation,
    OrdersMutation,
    NotifyMutation,
    CareMutation,
);

#[derive(MergedSubscription, Default)]
pub struct SubscriptionRoot(LiveSubscription);

pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Deep enough for every contract operation, shallow enough that nesting attacks are refused
/// before any resolver runs.
pub const MAX_DEPTH: usize = 12;
pub const MAX_COMPLEXITY: usize = 500;
/// Aliases let one request ask for the same expensive field many times over.
pub const MAX_ALIASES: usize = 30;

pub fn build(state: Option<AppState>) -> AppSchema {
    let production = state.as_ref().is_some_and(|s| s.config.is_production());
    let mut builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .limit_recursive_depth(32)
    .extension(ErrorCodes)
    .extension(AliasLimit)
    .extension(ParseCache::default());
    if production {
        builder = builder.disable_introspection().disable_suggestions();
    }
    if let Some(state) = state {
        let decrypt: Arc<dyn entity::context::Decrypt> = state.cipher.clone();
        builder = builder.data(state).data(decrypt).data(CardPolicy::server());
    }
    builder.finish()
}

/// A fresh loader for one request (or one subscription event): its cache lives no longer.
pub fn request_loader(state: &AppState) -> RequestLoader {
    DataLoader::with_cache(
        DbLoader::new(
            state.db.clone(),
            state.areas.clone(),
            state.profiles.clone(),
        ),
        tokio::spawn,
        HashMapCache::default(),
    )
}

/// The SDL that `emulin export-schema` prints and `schema.graphql` holds.
pub fn sdl() -> String {
    build(None).sdl()
}

/// Gives every error its `extensions.code`. Resolver errors carry an [`AppError`]; errors the
/// GraphQL engine raises itself (syntax, validation, argument coercion, limits) are the client's
/// input; anything else is internal, logged here and answered without detail.
struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodes)
    }
}

#[async_trait::async_trait]
impl Extension for ErrorCodes {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        for error in &mut response.errors {
            assign_code(error);
        }
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream)
            .map(|mut response| {
                for error in &mut response.errors {
                    assign_code(error);
                }
                response
            })
            .boxed()
    }
}

fn assign_code(error: &mut ServerError) {
    if error
        .extensions
        .as_ref()
        .is_some_and(|ext| ext.get("code").is_some())
    {
        return;
    }
    let (code, retryable) = if let Some(app) = error.source::<AppError>().cloned() {
        if let AppError::Internal(err) = &app {
            tracing::error!(error = ?err, path = ?error.path, "internal error");
        }
        error.message = app.to_string();
        (
            app.code(),
            matches!(app, AppError::Unavailable(_) | AppError::RateLimited),
        )
    } else if error.source.is_some() {
        tracing::error!(message = %error.message, path = ?error.path, "unclassified resolver error");
        error.message = "internal server error".into();
        ("INTERNAL_SERVER_ERROR", false)
    } else {
        ("BAD_USER_INPUT", false)
    };
    let ext = error.extensions.get_or_insert_with(Default::default);
    ext.set("code", code);
    if retryable {
        ext.set("retryable", true);
    }
}

/// Refuses documents with more than [`MAX_ALIASES`] aliased fields, right after parsing.
/// Mini-program clients send the same few documents over and over; parsing one costs more than
/// answering many queries. Parsed documents are kept by their text (validation still runs on
/// every request, against the variables and limits of that request).
struct ParseCache {
    documents: moka::sync::Cache<String, Arc<ExecutableDocument>>,
}

/// Documents longer than this are parsed every time rather than kept.
const MAX_KEPT_DOCUMENT: usize = 8 * 1024;

impl Default for ParseCache {
    fn default() -> Self {
        Self {
            documents: moka::sync::Cache::new(512),
        }
    }
}

impl ExtensionFactory for ParseCache {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(KeptDocuments(self.documents.clone()))
    }
}

struct KeptDocuments(moka::sync::Cache<String, Arc<ExecutableDocument>>);

#[async_trait::async_trait]
impl Extension for KeptDocuments {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if query.len() > MAX_KEPT_DOCUMENT {
            return next.run(ctx, query, variables).await;
        }
        if let Some(document) = self.0.get(query) {
            return Ok(ExecutableDocument::clone(&document));
        }
        let document = next.run(ctx, query, variables).await?;
        self.0.insert(query.to_owned(), Arc::new(document.clone()));
        Ok(document)
    }
}

struct AliasLimit;

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AliasLimit)
    }
}

#[async_trait::async_trait]
impl Extension for AliasLimit {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let mut count = 0;
        for (_, operation) in document.operations.iter() {
            count += aliases(&operation.node.selection_set.node);
        }
        for fragment in document.fragments.values() {
            count += aliases(&fragment.node.selection_set.node);
        }
        if count > MAX_ALIASES {
            return Err(ServerError::new(
                format!("the query uses {count} aliases; at most {MAX_ALIASES} are allowed"),
                None,
            ));
        }
        Ok(document)
    }
}

fn aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + aliases(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => aliases(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}
