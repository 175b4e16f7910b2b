//! The request log: every request the server received, secrets redacted, observable by
//! tests while it grows.

use std::collections::VecDeque;
use std::time::Duration;

use axum::http::HeaderMap;
use serde_json::Value;
use tokio::sync::watch;

use crate::api::Api;
use crate::error::TestkitError;
use crate::gemini::{contents_of, GeminiTarget, GenerateContentRequest};
use crate::model_request::ModelRequest;
use crate::openai::{input_of, ResponsesRequest};
use crate::request::{messages_of, MessagesRequest};

/// How many requests are kept. A test makes a few dozen; the long-running demo mode must
/// not grow without bound, so the oldest entries are dropped past this.
pub const RECORDED_REQUEST_CAPACITY: usize = 1024;

/// Headers whose values never reach the log.
const SECRET_HEADERS: &[&str] = &[
    "x-api-key",
    "x-goog-api-key",
    "authorization",
    "proxy-authorization",
    "cookie",
];

/// Replacement for redacted header values.
pub const REDACTED: &str = "[redacted]";

/// What a recorded request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A model request from the agent loop (main thread or subagent): `POST /v1/messages`,
    /// Gemini's `streamGenerateContent` with tools, or a streamed `POST /v1/responses` with tools.
    MainMessage,
    /// A model side request: probe or utility call (see [`ModelRequest::is_side_request`]).
    SideMessage,
    /// `POST /v1/messages/count_tokens`, or Gemini's `countTokens`.
    CountTokens,
    /// Anything else (`HEAD /api/hello`, unknown routes).
    Other,
}

/// One received request.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// Arrival order, from 0.
    pub seq: u64,
    /// HTTP method.
    pub method: String,
    /// Path and query, e.g. `/v1/messages?beta=true`.
    pub path: String,
    /// Headers in arrival order, names lower-case, secret values redacted.
    pub headers: Vec<(String, String)>,
    /// JSON body; `None` when empty or not JSON.
    pub body: Option<Value>,
    /// Classification.
    pub kind: RequestKind,
    /// Index of the scenario rule that answered, if any.
    pub rule: Option<usize>,
    /// The model API of a model request (`None` for other routes).
    pub api: Option<Api>,
}

/// How a secret header value is recorded: [`REDACTED`] and the first 8 bytes of its SHA-256, so
/// a test can tell which credential arrived (see [`secret_fingerprint`]) without the log
/// holding it.
fn redacted_fingerprint(value: &[u8]) -> String {
    format!("{REDACTED} {}", secret_fingerprint(value))
}

/// `sha256:<first 16 hex digits>` of a secret, as recorded in place of its value.
pub fn secret_fingerprint(value: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(value);
    format!("sha256:{}", hex::encode(&digest[..8]))
}

impl RecordedRequest {
    /// Builds a record, redacting secret header values (see [`secret_fingerprint`]).
    pub fn new(method: &str, path: &str, headers: &HeaderMap, body: Option<Value>) -> Self {
        let headers = headers
            .iter()
            .map(|(name, value)| {
                let name = name.as_str().to_ascii_lowercase();
                let value = if SECRET_HEADERS.contains(&name.as_str()) {
                    redacted_fingerprint(value.as_bytes())
                } else {
                    String::from_utf8_lossy(value.as_bytes()).into_owned()
                };
                (name, value)
            })
            .collect();
        Self {
            seq: 0,
            method: method.to_owned(),
            path: path.to_owned(),
            headers,
            body,
            kind: RequestKind::Other,
            rule: None,
            api: None,
        }
    }

    /// First value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body's `messages` array (empty when absent; Anthropic requests).
    pub fn messages(&self) -> &[Value] {
        self.body.as_ref().map(messages_of).unwrap_or(&[])
    }

    /// The conversation sent, whichever the API: `messages`, Gemini's `contents` or the
    /// Responses API's `input`.
    pub fn conversation(&self) -> &[Value] {
        match (self.api, self.body.as_ref()) {
            (Some(Api::Gemini), Some(body)) => contents_of(body),
            (Some(Api::OpenAi), Some(body)) => input_of(body),
            (_, Some(body)) => messages_of(body),
            (_, None) => &[],
        }
    }

    /// An Anthropic request view (`None` for a request of another API).
    pub fn as_messages_request(&self) -> Option<MessagesRequest<'_>> {
        if matches!(self.api, Some(Api::Gemini | Api::OpenAi)) {
            return None;
        }
        self.body.as_ref().map(MessagesRequest::new)
    }

    /// The provider-neutral view for matcher-style queries (`last_user_text`,
    /// `working_directory`…), for model requests of any API.
    pub fn as_model_request(&self) -> Option<ModelRequest<'_>> {
        let body = self.body.as_ref()?;
        match self.api {
            Some(Api::Gemini) => {
                let target = GeminiTarget::from_path(&self.path)?;
                let stream = target.is_stream();
                let model = self.path.split('/').next_back()?.split(':').next()?;
                Some(ModelRequest::Gemini(GenerateContentRequest::new(
                    body, model, stream,
                )))
            }
            Some(Api::OpenAi) => Some(ModelRequest::OpenAi(ResponsesRequest::new(body))),
            _ => Some(ModelRequest::Anthropic(MessagesRequest::new(body))),
        }
    }

    /// The last user message's own text (see [`ModelRequest::last_user_text`]).
    pub fn last_user_text(&self) -> String {
        self.as_model_request()
            .map(|request| request.last_user_text())
            .unwrap_or_default()
    }
}

/// Append-only (bounded) log, observable through a watch channel.
#[derive(Debug)]
pub struct RequestLog {
    state: watch::Sender<LogState>,
}

#[derive(Debug, Default)]
struct LogState {
    total: u64,
    recent: VecDeque<RecordedRequest>,
}

impl Default for RequestLog {
    fn default() -> Self {
        Self {
            state: watch::Sender::new(LogState::default()),
        }
    }
}

impl RequestLog {
    /// Appends a request, assigning its `seq`.
    pub fn record(&self, mut request: RecordedRequest) {
        self.state.send_modify(|state| {
            request.seq = state.total;
            state.total += 1;
            if state.recent.len() == RECORDED_REQUEST_CAPACITY {
                state.recent.pop_front();
            }
            state.recent.push_back(request);
        });
    }

    /// The retained requests, oldest first.
    pub fn snapshot(&self) -> Vec<RecordedRequest> {
        self.state.borrow().recent.iter().cloned().collect()
    }

    /// Forgets all requests (counting restarts at zero).
    pub fn clear(&self) {
        self.state.send_modify(|state| *state = LogState::default());
    }

    /// Waits until at least `n` requests satisfying `filter` are retained, then returns
    /// all retained requests satisfying it.
    pub async fn wait_for(
        &self,
        n: usize,
        timeout: Duration,
        filter: impl Fn(&RecordedRequest) -> bool,
    ) -> Result<Vec<RecordedRequest>, TestkitError> {
        let mut receiver = self.state.subscribe();
        let count = |state: &LogState| state.recent.iter().filter(|r| filter(r)).count();
        let waited = tokio::time::timeout(timeout, async {
            receiver
                .wait_for(|state| count(state) >= n)
                .await
                .map(|state| state.recent.iter().filter(|r| filter(r)).cloned().collect())
        })
        .await;
        match waited {
            Ok(Ok(requests)) => Ok(requests),
            // The sender lives in `self`, so the channel cannot close while we wait;
            // treat it like a timeout anyway rather than panicking.
            Ok(Err(_)) | Err(_) => Err(TestkitError::WaitTimeout {
                wanted: n,
                got: count(&self.state.borrow()),
                timeout,
            }),
        }
    }
}
