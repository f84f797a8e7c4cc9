//! The operator's web dashboard on the admin listener: `/` (the page shell)
//! and `/assets/...` (its CSS and JavaScript modules), embedded in the
//! binary with `include_bytes!` (no CDN, no build step: plain HTML, CSS and
//! ES modules in `src/admin/dashboard/`).
//!
//! These routes carry no data, so they are open in [`super::ROUTES`]
//! ([`route`]); the page asks for the admin token, keeps it in
//! `sessionStorage` and reads everything from `/api/v1/...` with it. Every
//! answer carries a strict Content-Security-Policy (only this origin's
//! scripts, styles, images and connections; no inline script, no framing),
//! `nosniff` and `no-referrer`. The end-to-end test in headless Chromium is
//! `tests/e2e/dashboard.rs` with `tests/browser/dashboard.mjs`.

use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::{Access, AdminRoute, Endpoint};

/// Why the dashboard's routes need no token (the route table's reason).
pub const OPEN_REASON: &str =
    "page shell and static assets, no data: data comes from /api/v1 with the token";

/// The Content-Security-Policy of every dashboard answer.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// One embedded file.
pub struct Asset {
    /// The path it is served at.
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $file:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!("dashboard/", $file)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file the dashboard serves; each has its own open entry in
/// [`super::ROUTES`] (a test checks both lists agree).
pub const ASSETS: &[Asset] = &[
    asset!("/", "index.html", "text/html; charset=utf-8"),
    asset!("/assets/style.css", "style.css", "text/css; charset=utf-8"),
    asset!("/assets/app.js", "app.js", JS),
    asset!("/assets/api.js", "api.js", JS),
    asset!("/assets/dom.js", "dom.js", JS),
    asset!("/assets/views.js", "views.js", JS),
    asset!("/assets/favicon.svg", "favicon.svg", "image/svg+xml"),
];

/// A dashboard entry of the route table: `GET path`, open for [`OPEN_REASON`].
pub const fn route(path: &'static str) -> AdminRoute {
    AdminRoute {
        path,
        method: "GET",
        endpoint: Endpoint::Dashboard,
        access: Access::Open(OPEN_REASON),
    }
}

/// Serves the embedded file at the request's path (the router sends only
/// the table's dashboard paths here).
pub async fn serve(uri: Uri) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.path == uri.path()) else {
        return (StatusCode::NOT_FOUND, "no such dashboard file").into_response();
    };
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, asset.content_type),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        // Embedded in the binary: an upgrade changes them, so revalidate.
        (header::CACHE_CONTROL, "no-cache"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(asset: &Asset) -> &str {
        std::str::from_utf8(asset.body).unwrap()
    }

    /// Every asset is in the route table (open, GET, served here) and every
    /// dashboard route of the table is an asset.
    #[test]
    fn the_route_table_lists_exactly_the_assets() {
        let routes: Vec<_> = super::super::ROUTES
            .iter()
            .filter(|r| r.endpoint == Endpoint::Dashboard)
            .collect();
        for asset in ASSETS {
            assert!(
                routes.iter().any(|r| r.path == asset.path
                    && r.method == "GET"
                    && r.access == Access::Open(OPEN_REASON)),
                "{} is not in ROUTES",
                asset.path
            );
        }
        for route in routes {
            assert!(
                ASSETS.iter().any(|a| a.path == route.path),
                "{} is not embedded",
                route.path
            );
        }
    }

    /// No file loads anything from elsewhere and the page has no inline
    /// script or style (the CSP would block them anyway), and no code writes
    /// HTML from strings (vendor texts are hostile: they are set as text).
    #[test]
    fn assets_are_self_contained_and_never_write_html() {
        for asset in ASSETS {
            let body = text(asset);
            for banned in ["http://", "https://", "//cdn", "innerHTML", "outerHTML"] {
                let allowed_svg_ns = asset.path.ends_with(".svg") && banned == "http://";
                assert!(
                    allowed_svg_ns || !body.contains(banned),
                    "{} contains {banned}",
                    asset.path
                );
            }
            for banned in [
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "localStorage",
            ] {
                assert!(!body.contains(banned), "{} uses {banned}", asset.path);
            }
        }
        let index = text(&ASSETS[0]);
        assert!(!index.contains("<script>") && !index.contains("style="));
        assert!(index.contains(r#"<script type="module" src="/assets/app.js">"#));
    }

    #[tokio::test]
    async fn serves_each_asset_with_its_type_and_the_csp() {
        for asset in ASSETS {
            let response = serve(asset.path.parse().unwrap()).await;
            assert_eq!(response.status(), StatusCode::OK);
            let headers = response.headers();
            assert_eq!(headers[header::CONTENT_TYPE], asset.content_type);
            assert_eq!(headers[header::CONTENT_SECURITY_POLICY], CSP);
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        }
        let missing = serve("/assets/nope.js".parse().unwrap()).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }
}
