//! Request extractors the API handlers share: the query parameters, a
//! collection request (parameters, `pagination-type` header and the base of
//! its `Link` URLs), the member a request acts as, the ticket number in the
//! path and a JSON body.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Path, Request};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::listing::{self, ApiError, Params, Resource};
use super::routes::identify;
use super::Shared;

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Params::parse(parts.uri.query()))
    }
}

/// A request for a collection: answered filtered, sorted, paged and trimmed.
pub(crate) struct Listing {
    pub params: Params,
    headers: HeaderMap,
    link_base: String,
}

impl FromRequestParts<Arc<Shared>> for Listing {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        shared: &Arc<Shared>,
    ) -> Result<Self, Infallible> {
        let uri = OriginalUri::from_request_parts(parts, shared)
            .await
            .unwrap_or_else(|never| match never {});
        Ok(Self {
            params: Params::parse(parts.uri.query()),
            headers: parts.headers.clone(),
            link_base: format!(
                "{}{}",
                shared.site_url,
                uri.0.path().trim_start_matches('/')
            ),
        })
    }
}

impl Listing {
    /// Answers with `items` as `resource`, filtered by `conditions=`.
    pub fn respond(&self, resource: &Resource, items: Vec<Value>) -> Result<Response, ApiError> {
        self.respond_where(resource, items, None)
    }

    /// Answers with `items`, filtered by `conditions` (else `conditions=`).
    pub fn respond_where(
        &self,
        resource: &Resource,
        items: Vec<Value>,
        conditions: Option<&str>,
    ) -> Result<Response, ApiError> {
        listing::respond(
            resource,
            items,
            &self.params,
            conditions,
            &self.headers,
            &self.link_base,
        )
    }
}

/// The member a request acts as: the API member for the tenant's own key,
/// another key as itself, `unknown` without credentials.
pub(crate) struct Actor(pub String);

impl FromRequestParts<Arc<Shared>> for Actor {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        shared: &Arc<Shared>,
    ) -> Result<Self, Infallible> {
        Ok(Actor(match identify(&parts.headers) {
            Some(p) if p == shared.options.public_key => shared.state().api_member.clone(),
            Some(p) => p,
            None => "unknown".into(),
        }))
    }
}

/// The ticket number in the path (`{id}`): 404 when it is not a number.
pub(crate) struct TicketId(pub i64);

#[derive(Deserialize)]
struct TicketPath {
    id: String,
}

impl<S: Send + Sync> FromRequestParts<S> for TicketId {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let Path(path) = Path::<TicketPath>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let id = path.id;
        id.parse::<i64>()
            .map(TicketId)
            .map_err(|_| ApiError::not_found(format!("Ticket {id} not found")).into_response())
    }
}

/// A JSON request body: 400 for bad JSON, the way ConnectWise answers.
pub(crate) struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let body = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        serde_json::from_slice(&body).map(JsonBody).map_err(|e| {
            ApiError::bad_request(format!("The request body is not valid JSON: {e}"))
                .into_response()
        })
    }
}
