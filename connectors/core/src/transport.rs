//! How every vendor-facing connection is secured: one client builder with
//! certificate verification always on and redirects never followed, plain
//! http refused off loopback, and transport errors that name their cause
//! (a certificate problem says so) but not the URL.

use url::Url;

use crate::error::ConnectorError;

/// The one way a vendor-facing `reqwest` client is built: redirects are
/// never followed (a redirect could carry credentials to another origin),
/// TLS is 1.2 or newer, and server certificates are always verified against
/// the bundled public roots (webpki-roots). There is no setting that turns
/// verification off, and none may be added: a vendor with a private CA is
/// not supported. `tests/transport_security.rs` of every connector checks that
/// a self-signed server is refused.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .min_tls_version(reqwest::tls::Version::TLS_1_2)
        .tls_built_in_root_certs(true)
}

/// Refuses a plain-`http` URL unless its host is a loopback address
/// (`127.0.0.0/8`, `::1`, `localhost`), where the simulators run:
/// credentials and ticket contents never cross a network unencrypted.
pub fn check_scheme(what: &str, url: &Url) -> Result<(), ConnectorError> {
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(ConnectorError::Config(format!(
            "{what} {}: plain http is allowed only on loopback (a simulator); use https",
            url.origin().ascii_serialization()
        ))),
        other => Err(ConnectorError::Config(format!(
            "{what}: scheme {other:?} is not http(s)"
        ))),
    }
}

/// A transport error as text with its causes (where a TLS certificate
/// error is said) and without the URL (a query string may carry a user name).
pub fn transport_message(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
