//! Authentication: Basic credentials of API users, and OAuth tokens issued by
//! `POST /oauth_token.do` (form-encoded only; grants `password`,
//! `client_credentials`, `refresh_token`). An expired or unknown bearer
//! token is answered 401 like missing credentials.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use base64::Engine;
use serde_json::{json, Value};

/// An API user (Basic auth, or the `password` grant).
#[derive(Clone, Debug)]
pub struct SimUser {
    pub user_name: String,
    pub password: String,
    /// Display name (`sys_user.name`).
    pub name: String,
}

/// An OAuth application registry entry.
#[derive(Clone, Debug)]
pub struct SimOAuthClient {
    pub client_id: String,
    pub client_secret: String,
    /// The user a `client_credentials` token acts as.
    pub acts_as: String,
}

struct Token {
    user: String,
    expires: Instant,
}

/// Users, clients and the tokens issued so far.
pub(crate) struct AuthState {
    pub users: Vec<SimUser>,
    pub clients: Vec<SimOAuthClient>,
    pub lifetime: Duration,
    access: HashMap<String, Token>,
    /// Refresh token → (client id, user).
    refresh: HashMap<String, (String, String)>,
    /// Grant type of every token issued, in order.
    pub grants: Vec<String>,
}

/// The platform's answer to a request without valid credentials.
pub(crate) fn unauthenticated() -> (u16, Value) {
    (
        401,
        json!({"error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"}, "status": "failure"}),
    )
}

fn oauth_error(status: u16, error: &str) -> (u16, Value) {
    (
        status,
        json!({"error_description": "access_denied", "error": error}),
    )
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl AuthState {
    pub fn new(users: Vec<SimUser>, clients: Vec<SimOAuthClient>, lifetime: Duration) -> Self {
        Self {
            users,
            clients,
            lifetime,
            access: HashMap::new(),
            refresh: HashMap::new(),
            grants: Vec::new(),
        }
    }

    /// The user a request authenticates as, if any.
    pub fn authenticate(&self, headers: &HeaderMap) -> Option<String> {
        let value = headers.get("authorization")?.to_str().ok()?;
        if let Some(token) = value.strip_prefix("Bearer ") {
            let token = self.access.get(token.trim())?;
            return (token.expires > Instant::now()).then(|| token.user.clone());
        }
        let (user, password) = basic_credentials(value)?;
        self.users
            .iter()
            .find(|u| u.user_name == user && u.password == password)
            .map(|u| u.user_name.clone())
    }

    /// Makes every access token issued so far expire now.
    pub fn expire_tokens(&mut self) {
        let now = Instant::now();
        for token in self.access.values_mut() {
            token.expires = now;
        }
    }

    fn issue(&mut self, grant: &str, client: &str, user: &str, with_refresh: bool) -> (u16, Value) {
        let access = random_token();
        token_users()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(access.clone(), user.to_string());
        self.access.insert(
            access.clone(),
            Token {
                user: user.to_string(),
                expires: Instant::now() + self.lifetime,
            },
        );
        self.grants.push(grant.to_string());
        let mut body = json!({
            "access_token": access,
            "scope": "useraccount",
            "token_type": "Bearer",
            "expires_in": self.lifetime.as_secs(),
        });
        if with_refresh {
            let refresh = random_token();
            self.refresh
                .insert(refresh.clone(), (client.to_string(), user.to_string()));
            body["refresh_token"] = Value::String(refresh);
        }
        (200, body)
    }

    /// `POST /oauth_token.do` with a form-encoded body.
    pub fn token_endpoint(&mut self, content_type: Option<&str>, body: &[u8]) -> (u16, Value) {
        let form = content_type.is_some_and(|c| {
            c.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
        if !form {
            return oauth_error(400, "invalid_request");
        }
        let params: HashMap<String, String> =
            url::form_urlencoded::parse(body).into_owned().collect();
        let get = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
        let Some(client) = self
            .clients
            .iter()
            .find(|c| c.client_id == get("client_id") && c.client_secret == get("client_secret"))
            .cloned()
        else {
            return oauth_error(401, "server_error");
        };
        match get("grant_type") {
            "password" => {
                let ok = self
                    .users
                    .iter()
                    .any(|u| u.user_name == get("username") && u.password == get("password"));
                if !ok {
                    return oauth_error(401, "server_error");
                }
                let user = get("username").to_string();
                self.issue("password", &client.client_id, &user, true)
            }
            "client_credentials" => self.issue(
                "client_credentials",
                &client.client_id,
                &client.acts_as,
                false,
            ),
            "refresh_token" => match self.refresh.get(get("refresh_token")).cloned() {
                Some((owner, user)) if owner == client.client_id => {
                    self.issue("refresh_token", &client.client_id, &user, false)
                }
                _ => oauth_error(401, "server_error"),
            },
            _ => oauth_error(400, "unsupported_grant_type"),
        }
    }
}

/// (user, password) of a `Basic` authorization value.
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Every token any simulator in this process issued, with its user: the
/// shared request log names callers without access to a simulator's state.
fn token_users() -> &'static Mutex<HashMap<String, String>> {
    static USERS: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    USERS.get_or_init(Default::default)
}

/// Names the caller for the shared request log: the Basic user, or the
/// user a bearer token was issued to.
pub(crate) fn identify(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    if let Some(token) = value.strip_prefix("Bearer ") {
        return token_users()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(token.trim())
            .cloned();
    }
    basic_credentials(value).map(|(user, _)| user)
}
