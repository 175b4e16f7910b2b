//! [`Client`]: the REST API, one method per route.

use agent_runtime_protocol::{
    AgentInfo, AgentList, AgentProfile, AnswerPermissionRequest, AnswerQuestionRequest,
    BudgetApproval, CreateSessionRequest, FileInfo, FileList, Health, InterruptResponse,
    PatchSessionRequest, PermissionResolution, Problem, ProfileList, QuestionResolution,
    SendMessageRequest, SendMessageResponse, SessionInfo, SessionList, SessionSnapshot,
    TranscriptInfo, TranscriptList,
};
use bytes::Bytes;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::ClientError;
use crate::sse::SseStream;
use crate::ws::{WsAuth, WsConnection};

/// The answer to a file upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileWrite {
    pub info: FileInfo,
    /// The file did not exist before (201 rather than 200).
    pub created: bool,
}

/// The answer to a profile upload.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileWrite {
    /// The profile as stored.
    pub profile: AgentProfile,
    /// There was no profile with that id before (201 rather than 200).
    pub created: bool,
}

/// A client of one server. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    base_url: String,
    api_key: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// A client of the server at `base_url` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base_url: impl Into<String>) -> Self {
        Client {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            api_key: None,
            http: reqwest::Client::new(),
        }
    }

    /// Sends `Authorization: Bearer <key>` with every request (and uses it for the WebSocket).
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The API key in use, if any.
    pub fn api_key(&self) -> Option<&str> {
        self.api_key.as_deref()
    }

    /// A request to `path` (starting with `/`, used verbatim) with the API key applied; for
    /// calls this client has no method for, and for tests of malformed requests.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let builder = self
            .http
            .request(method, format!("{}{path}", self.base_url));
        match &self.api_key {
            Some(key) => builder.bearer_auth(key),
            None => builder,
        }
    }

    /// `GET /healthz`.
    pub async fn health(&self) -> Result<Health, ClientError> {
        json(self.request(Method::GET, "/healthz").send().await?).await
    }

    /// `POST /api/sessions`.
    pub async fn create_session(
        &self,
        request: &CreateSessionRequest,
    ) -> Result<SessionInfo, ClientError> {
        let response = self
            .request(Method::POST, "/api/sessions")
            .json(request)
            .send()
            .await?;
        json(response).await
    }

    /// `GET /api/sessions?cursor=&limit=`.
    pub async fn list_sessions(
        &self,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<SessionList, ClientError> {
        let mut query = Vec::new();
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor.to_string()));
        }
        if let Some(limit) = limit {
            query.push(("limit", limit.to_string()));
        }
        let response = self
            .request(Method::GET, "/api/sessions")
            .query(&query)
            .send()
            .await?;
        json(response).await
    }

    /// `GET /api/sessions/{id}`.
    pub async fn get_session(&self, session_id: &str) -> Result<SessionSnapshot, ClientError> {
        let path = format!("/api/sessions/{}", encode_segment(session_id));
        json(self.request(Method::GET, &path).send().await?).await
    }

    /// `PATCH /api/sessions/{id}`.
    pub async fn patch_session(
        &self,
        session_id: &str,
        patch: &PatchSessionRequest,
    ) -> Result<SessionInfo, ClientError> {
        let path = format!("/api/sessions/{}", encode_segment(session_id));
        json(
            self.request(Method::PATCH, &path)
                .json(patch)
                .send()
                .await?,
        )
        .await
    }

    /// `DELETE /api/sessions/{id}`.
    pub async fn delete_session(&self, session_id: &str) -> Result<(), ClientError> {
        let path = format!("/api/sessions/{}", encode_segment(session_id));
        empty(self.request(Method::DELETE, &path).send().await?).await
    }

    /// `POST /api/sessions/{id}/messages` (202).
    pub async fn send_message(
        &self,
        session_id: &str,
        request: &SendMessageRequest,
    ) -> Result<SendMessageResponse, ClientError> {
        let path = format!("/api/sessions/{}/messages", encode_segment(session_id));
        json(
            self.request(Method::POST, &path)
                .json(request)
                .send()
                .await?,
        )
        .await
    }

    /// `POST /api/sessions/{id}/permissions/{requestId}`: the first answer wins; a later one
    /// is a 409 `already_resolved` whose problem carries the winning `resolution`.
    pub async fn answer_permission(
        &self,
        session_id: &str,
        request_id: &str,
        answer: &AnswerPermissionRequest,
    ) -> Result<PermissionResolution, ClientError> {
        let path = format!(
            "/api/sessions/{}/permissions/{}",
            encode_segment(session_id),
            encode_segment(request_id)
        );
        json(
            self.request(Method::POST, &path)
                .json(answer)
                .send()
                .await?,
        )
        .await
    }

    /// `POST /api/sessions/{id}/questions/{requestId}`.
    pub async fn answer_question(
        &self,
        session_id: &str,
        request_id: &str,
        answer: &AnswerQuestionRequest,
    ) -> Result<QuestionResolution, ClientError> {
        let path = format!(
            "/api/sessions/{}/questions/{}",
            encode_segment(session_id),
            encode_segment(request_id)
        );
        json(
            self.request(Method::POST, &path)
                .json(answer)
                .send()
                .await?,
        )
        .await
    }

    /// `POST /api/sessions/{id}/budget/approve`.
    pub async fn approve_budget(&self, session_id: &str) -> Result<BudgetApproval, ClientError> {
        let path = format!(
            "/api/sessions/{}/budget/approve",
            encode_segment(session_id)
        );
        json(self.request(Method::POST, &path).send().await?).await
    }

    /// `POST /api/sessions/{id}/interrupt`.
    pub async fn interrupt(&self, session_id: &str) -> Result<InterruptResponse, ClientError> {
        let path = format!("/api/sessions/{}/interrupt", encode_segment(session_id));
        json(self.request(Method::POST, &path).send().await?).await
    }

    /// `GET /api/sessions/{id}/files`.
    pub async fn list_files(&self, session_id: &str) -> Result<Vec<FileInfo>, ClientError> {
        let path = format!("/api/sessions/{}/files", encode_segment(session_id));
        let list: FileList = json(self.request(Method::GET, &path).send().await?).await?;
        Ok(list.files)
    }

    /// `GET /api/sessions/{id}/files/{path}`: the raw content.
    pub async fn read_file(&self, session_id: &str, path: &str) -> Result<Bytes, ClientError> {
        let response = self
            .request(Method::GET, &file_path(session_id, path))
            .send()
            .await?;
        Ok(check(response).await?.bytes().await?)
    }

    /// `PUT /api/sessions/{id}/files/{path}` with the raw content.
    pub async fn write_file(
        &self,
        session_id: &str,
        path: &str,
        content: impl Into<Bytes>,
    ) -> Result<FileWrite, ClientError> {
        let response = self
            .request(Method::PUT, &file_path(session_id, path))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(content.into())
            .send()
            .await?;
        let created = response.status() == StatusCode::CREATED;
        let info = json(response).await?;
        Ok(FileWrite { info, created })
    }

    /// `DELETE /api/sessions/{id}/files/{path}`.
    pub async fn delete_file(&self, session_id: &str, path: &str) -> Result<(), ClientError> {
        let response = self
            .request(Method::DELETE, &file_path(session_id, path))
            .send()
            .await?;
        empty(response).await
    }

    /// `GET /api/sessions/{id}/transcripts`.
    pub async fn list_transcripts(
        &self,
        session_id: &str,
    ) -> Result<Vec<TranscriptInfo>, ClientError> {
        let path = format!("/api/sessions/{}/transcripts", encode_segment(session_id));
        let list: TranscriptList = json(self.request(Method::GET, &path).send().await?).await?;
        Ok(list.transcripts)
    }

    /// `GET /api/sessions/{id}/transcripts/{name}`: the raw JSON lines.
    pub async fn read_transcript(
        &self,
        session_id: &str,
        name: &str,
    ) -> Result<Bytes, ClientError> {
        let path = format!(
            "/api/sessions/{}/transcripts/{}",
            encode_segment(session_id),
            encode_path(name)
        );
        let response = self.request(Method::GET, &path).send().await?;
        Ok(check(response).await?.bytes().await?)
    }

    /// `GET /api/profiles`, sorted by id.
    pub async fn list_profiles(&self) -> Result<Vec<AgentProfile>, ClientError> {
        let list: ProfileList =
            json(self.request(Method::GET, "/api/profiles").send().await?).await?;
        Ok(list.profiles)
    }

    /// `GET /api/profiles/{id}`.
    pub async fn get_profile(&self, id: &str) -> Result<AgentProfile, ClientError> {
        let path = format!("/api/profiles/{}", encode_segment(id));
        json(self.request(Method::GET, &path).send().await?).await
    }

    /// `PUT /api/profiles/{id}`: creates or replaces the profile `profile.id`.
    pub async fn put_profile(&self, profile: &AgentProfile) -> Result<ProfileWrite, ClientError> {
        let path = format!("/api/profiles/{}", encode_segment(&profile.id));
        let response = self
            .request(Method::PUT, &path)
            .json(profile)
            .send()
            .await?;
        let created = response.status() == StatusCode::CREATED;
        let profile = json(response).await?;
        Ok(ProfileWrite { profile, created })
    }

    /// `DELETE /api/profiles/{id}`.
    pub async fn delete_profile(&self, id: &str) -> Result<(), ClientError> {
        let path = format!("/api/profiles/{}", encode_segment(id));
        empty(self.request(Method::DELETE, &path).send().await?).await
    }

    /// `GET /api/agents`: the agents.
    pub async fn list_agents(&self) -> Result<Vec<AgentInfo>, ClientError> {
        Ok(self.agents_and_sandboxes().await?.agents)
    }

    /// `GET /api/agents` whole: the agents, and where sessions' sandboxes can run.
    pub async fn agents_and_sandboxes(&self) -> Result<AgentList, ClientError> {
        json(self.request(Method::GET, "/api/agents").send().await?).await
    }

    /// `GET /api/sessions/{id}/events`: server-sent events after `since` (sent as
    /// `Last-Event-ID`, as a reconnecting browser would).
    pub async fn events(&self, session_id: &str, since: u64) -> Result<SseStream, ClientError> {
        let path = format!("/api/sessions/{}/events", encode_segment(session_id));
        let mut request = self
            .request(Method::GET, &path)
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if since > 0 {
            request = request.header("last-event-id", since.to_string());
        }
        let response = check(request.send().await?).await?;
        Ok(SseStream::new(response))
    }

    /// Opens the WebSocket at `/api/ws`, authenticating as `auth` says.
    pub async fn connect_ws(&self, auth: WsAuth) -> Result<WsConnection, ClientError> {
        WsConnection::connect(&self.base_url, self.api_key.as_deref(), auth).await
    }
}

/// `/api/sessions/{id}/files/{path}` with every segment percent-encoded.
fn file_path(session_id: &str, path: &str) -> String {
    format!(
        "/api/sessions/{}/files/{}",
        encode_segment(session_id),
        encode_path(path)
    )
}

/// Percent-encodes everything but unreserved characters.
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Percent-encodes each `/`-separated segment of a path.
pub fn encode_path(path: &str) -> String {
    path.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// The response if it is a success, else its problem as a [`ClientError::Api`].
pub async fn check(response: Response) -> Result<Response, ClientError> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap_or_default();
    let problem = serde_json::from_slice::<Problem>(&body).unwrap_or_else(|_| {
        Problem::new(
            status,
            "unknown",
            "Unexpected error response",
            Some(String::from_utf8_lossy(&body).into_owned()),
        )
    });
    Err(ClientError::Api { status, problem })
}

/// Decodes a successful JSON response.
pub async fn json<T: DeserializeOwned>(response: Response) -> Result<T, ClientError> {
    let body = check(response).await?.bytes().await?;
    serde_json::from_slice(&body).map_err(|e| ClientError::Decode(e.to_string()))
}

async fn empty(response: Response) -> Result<(), ClientError> {
    check(response).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_path_segments() {
        assert_eq!(encode_path("a b/c%d/ü.txt"), "a%20b/c%25d/%C3%BC.txt");
        assert_eq!(encode_segment("x/y"), "x%2Fy");
    }
}
