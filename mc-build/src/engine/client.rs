//! A buildbot master's web API, as far as the engine needs it: a session from `/auth/login`,
//! REST reads under `/api/v2`, and JSON-RPC control calls (`force`, `cancel`).
//!
//! buildbot has no API tokens: a script logs in with HTTP basic authentication at `/auth/login`
//! and carries the session cookie it gets (buildbot/buildbot#3560), which is what `--token`
//! holds the password for.

use std::time::Duration;

use minicluster::http::error_chain as chain;
use reqwest::{StatusCode, blocking, header};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Why the master could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answered at the master's URL, or the connection broke.
    #[error("buildbot master {url} unreachable: {cause}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// What went wrong, with its causes.
        cause: String,
    },
    /// The master refused the login.
    #[error("buildbot master {url} refused the login of {user} (wrong --token?)")]
    Refused {
        /// The login URL.
        url: String,
        /// The user.
        user: String,
    },
    /// The master answered with an error status.
    #[error("buildbot master: {url}: HTTP {status}")]
    Status {
        /// The URL asked.
        url: String,
        /// The status.
        status: StatusCode,
    },
    /// The answer was not what the API documents.
    #[error("buildbot master: {url}: unexpected answer: {cause}")]
    Decode {
        /// The URL asked.
        url: String,
        /// What did not fit.
        cause: String,
    },
    /// A JSON-RPC call returned an error (a missing role, an unknown parameter, ...).
    #[error("buildbot master: {method} {url}: {message}")]
    Rpc {
        /// The URL called.
        url: String,
        /// The method.
        method: String,
        /// The master's message.
        message: String,
    },
}

/// A session with one master.
#[derive(Debug)]
pub struct Client {
    http: blocking::Client,
    /// The master's URL without a trailing `/`.
    master: String,
    /// The session cookie (`TWISTED_SESSION=...`) after a login.
    cookie: Option<String>,
}

/// The JSON body of `response`.
fn decode<T: DeserializeOwned>(url: &str, response: blocking::Response) -> Result<T, ClientError> {
    let fail = |cause: String| ClientError::Decode {
        url: url.to_owned(),
        cause,
    };
    let bytes = response.bytes().map_err(|e| fail(chain(&e)))?;
    serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))
}

impl Client {
    /// Connects to `master`, logging in as `login` (user, password) when given.
    pub fn connect(master: &str, login: Option<(&str, &str)>) -> Result<Self, ClientError> {
        let http = blocking::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            // The login answers with a redirect to the UI; its cookie is all we want.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientError::Unreachable {
                url: master.to_owned(),
                cause: chain(&e),
            })?;
        let mut client = Self {
            http,
            master: master.trim_end_matches('/').to_owned(),
            cookie: None,
        };
        if let Some((user, password)) = login {
            client.cookie = Some(client.login(user, password)?);
        }
        Ok(client)
    }

    fn login(&self, user: &str, password: &str) -> Result<String, ClientError> {
        let url = format!("{}/auth/login", self.master);
        let response = self
            .http
            .get(&url)
            .basic_auth(user, Some(password))
            .send()
            .map_err(|e| self.unreachable(&url, &e))?;
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(ClientError::Refused {
                url,
                user: user.to_owned(),
            });
        }
        if !(response.status().is_success() || response.status().is_redirection()) {
            return Err(ClientError::Status {
                url,
                status: response.status(),
            });
        }
        // The first cookie is the anonymous session, the last the logged-in one.
        response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .rev()
            .filter_map(|value| value.split(';').next())
            .find(|pair| pair.starts_with("TWISTED_SESSION="))
            .map(str::to_owned)
            .ok_or_else(|| ClientError::Decode {
                url,
                cause: "no session cookie".to_owned(),
            })
    }

    fn unreachable(&self, url: &str, error: &reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            url: url.to_owned(),
            cause: chain(error),
        }
    }

    fn request(&self, builder: blocking::RequestBuilder) -> blocking::RequestBuilder {
        match &self.cookie {
            Some(cookie) => builder.header(header::COOKIE, cookie),
            None => builder,
        }
    }

    /// `GET /api/v2/PATH`, decoded.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}/api/v2/{path}", self.master);
        let response = self
            .request(self.http.get(&url))
            .send()
            .map_err(|e| self.unreachable(&url, &e))?;
        if !response.status().is_success() {
            return Err(ClientError::Status {
                url,
                status: response.status(),
            });
        }
        decode(&url, response)
    }

    /// `GET /api/v2/PATH` as text (a log's `raw`); `None` when the master has no such thing.
    pub fn text(&self, path: &str) -> Result<Option<String>, ClientError> {
        let url = format!("{}/api/v2/{path}", self.master);
        let response = self
            .request(self.http.get(&url))
            .send()
            .map_err(|e| self.unreachable(&url, &e))?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        response
            .text()
            .map(Some)
            .map_err(|e| self.unreachable(&url, &e))
    }

    /// The JSON-RPC call `method` on `/api/v2/PATH`; its result.
    pub fn call(&self, path: &str, method: &str, params: Value) -> Result<Value, ClientError> {
        let url = format!("{}/api/v2/{path}", self.master);
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let response = self
            .request(self.http.post(&url))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .map_err(|e| self.unreachable(&url, &e))?;
        // Errors come as a JSON-RPC error, under an HTTP error status or not.
        let answer: Value = decode(&url, response)?;
        if let Some(error) = answer.get("error") {
            let message = error["message"].as_str().unwrap_or("error").to_owned();
            return Err(ClientError::Rpc {
                url,
                method: method.to_owned(),
                message,
            });
        }
        Ok(answer["result"].clone())
    }
}
