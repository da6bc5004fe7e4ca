//! [`Client`]: a Helix server reached over HTTP with an API key.

use crate::error::{Error, Result, INVALID_ARGUMENT, INVALID_RESPONSE};
use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// A connection to one Helix server as one API key. Cheap to clone (clones share the
/// connection pool).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: url::Url,
    api_key: String,
}

/// How a [`Client`] is made; see [`Client::builder`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    api_key: String,
    connect_timeout: Duration,
    user_agent: String,
}

impl ClientBuilder {
    /// How long to wait for a connection (default 10 s). Calls themselves have no overall
    /// timeout: answers stream for as long as a model generates.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// The `User-Agent` sent (bindings name themselves here).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// The client. Fails when the URL is not `http(s)://...` or the key is empty.
    pub fn build(self) -> Result<Client> {
        let mut base = url::Url::parse(&self.base_url)
            .map_err(|e| Error::new(INVALID_ARGUMENT, format!("base_url: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(Error::new(
                INVALID_ARGUMENT,
                "base_url must be an http(s) URL",
            ));
        }
        if self.api_key.trim().is_empty() {
            return Err(Error::new(INVALID_ARGUMENT, "api_key is empty"));
        }
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        let http = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent)
            .build()
            .map_err(Error::transport)?;
        Ok(Client {
            http,
            base,
            api_key: self.api_key,
        })
    }
}

impl Client {
    /// A client for the server at `base_url` (`http(s)://host:port`) calling with
    /// `api_key` (`hx-...`).
    pub fn new(base_url: &str, api_key: &str) -> Result<Client> {
        Self::builder(base_url, api_key).build()
    }

    /// A builder, for settings beyond the URL and key.
    pub fn builder(base_url: &str, api_key: &str) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.to_owned(),
            api_key: api_key.to_owned(),
            connect_timeout: Duration::from_secs(10),
            user_agent: format!("helix-client-rust/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// An absolute URL for `path` (no leading slash) on the server.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path.trim_start_matches('/'))
    }

    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.api_key)
    }

    /// Sends; a non-2xx answer becomes its [`Error`].
    pub(crate) async fn send(&self, req: RequestBuilder) -> Result<Response> {
        let resp = req.send().await.map_err(Error::transport)?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(Error::from_response(resp).await)
        }
    }

    /// Sends and decodes a JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T> {
        let resp = self.send(req).await?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(Error::transport)?;
        serde_json::from_slice(&body).map_err(|e| Error {
            status: Some(status),
            code: INVALID_RESPONSE.into(),
            message: format!("unexpected answer: {e}"),
        })
    }

    /// Sends, expecting no body back.
    pub(crate) async fn empty(&self, req: RequestBuilder) -> Result<()> {
        self.send(req).await.map(drop)
    }
}

/// Checks an id before it goes into a URL path: ids are ASCII letters, digits, `_`, `-`.
pub(crate) fn path_id<'a>(what: &str, id: &'a str) -> Result<&'a str> {
    if !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(id)
    } else {
        Err(Error::new(
            INVALID_ARGUMENT,
            format!("{what} is not an id: {id:?}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked_and_normalised() {
        let c = Client::new("http://h:8080", "hx-k").unwrap();
        assert_eq!(c.url("/api/v1/sessions"), "http://h:8080/api/v1/sessions");
        let c = Client::new("https://h/helix", "hx-k").unwrap();
        assert_eq!(c.url("v1/models"), "https://h/helix/v1/models");
        for bad in ["ftp://h", "not a url", "mailto:a@b"] {
            assert_eq!(Client::new(bad, "hx-k").unwrap_err().code, INVALID_ARGUMENT);
        }
        assert_eq!(
            Client::new("http://h", " ").unwrap_err().code,
            INVALID_ARGUMENT
        );
    }

    #[test]
    fn ids_cannot_change_the_path() {
        assert!(path_id("session", "ses_01abc").is_ok());
        for bad in ["", "../admin", "a/b", "a?b", "a b"] {
            assert_eq!(path_id("session", bad).unwrap_err().code, INVALID_ARGUMENT);
        }
    }
}
