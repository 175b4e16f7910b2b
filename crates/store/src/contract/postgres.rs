//! Scratch PostgreSQL databases for tests: each test gets one of its own, created with a fresh
//! name and dropped when the test ends, so tests run in parallel and never see each other's data.
//!
//! The server comes from the environment variable [`SERVER_ENV`] (default
//! [`DEFAULT_SERVER_URL`]); its user must be allowed to `CREATE DATABASE`. When the server cannot
//! be reached, [`TestDatabase::create`] panics with a message saying so: PostgreSQL tests fail,
//! they never skip.
//!
//! ```ignore
//! let db = TestDatabase::create().await;
//! let store = PostgresStore::connect(db.url()).await?;
//! // ... the database is dropped when `db` goes out of scope, also when the test panics.
//! ```

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, Executor};

/// The environment variable naming the PostgreSQL server tests use (any database on it; the
/// scratch databases are created next to it).
pub const SERVER_ENV: &str = "AGENT_RUNTIME_TEST_POSTGRES";

/// The server tests use when [`SERVER_ENV`] is unset: the local one, trust auth, as
/// `scripts/test` sets it up.
pub const DEFAULT_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Prefix of every scratch database's name, so leftovers are easy to spot.
pub const NAME_PREFIX: &str = "agent_runtime_test_";

/// How long creating or dropping a scratch database may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// A database created for one test and dropped (with `FORCE`, closing any connection still
/// open) when this value is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    server_url: String,
    name: String,
    url: String,
}

/// The server URL tests use: [`SERVER_ENV`], else [`DEFAULT_SERVER_URL`].
pub fn server_url() -> String {
    std::env::var(SERVER_ENV)
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_SERVER_URL.to_string())
}

impl TestDatabase {
    /// Creates a scratch database on the server of [`server_url`]. Panics, saying what to do,
    /// when the server is unreachable or refuses.
    pub async fn create() -> Self {
        TestDatabase::create_on(&server_url()).await
    }

    /// Creates a scratch database on the server at `server_url`.
    ///
    /// Where the server supports it, the database's default collation is ICU `en-US`, a
    /// linguistic order unlike bytewise: a text key without `COLLATE "C"` then sorts wrongly and
    /// the contract's ordering cases catch it.
    pub async fn create_on(server_url: &str) -> Self {
        let name = fresh_name();
        let outcome = tokio::time::timeout(ADMIN_TIMEOUT, async {
            let mut admin = connect_admin(server_url).await?;
            let linguistic = format!(
                "CREATE DATABASE \"{name}\" TEMPLATE template0 \
                 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
            );
            if admin.execute(linguistic.as_str()).await.is_err() {
                // PostgreSQL before 15, or built without ICU.
                admin
                    .execute(format!("CREATE DATABASE \"{name}\"").as_str())
                    .await
                    .map_err(|e| format!("CREATE DATABASE {name} failed: {e}"))?;
            }
            // Best effort: the database exists either way.
            let _ = admin.close().await;
            Ok::<(), String>(())
        })
        .await;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("{}", unreachable_message(server_url, &e)),
            Err(_) => panic!(
                "{}",
                unreachable_message(server_url, "no answer within 30 s")
            ),
        }
        TestDatabase {
            server_url: server_url.to_string(),
            url: with_database(server_url, &name),
            name,
        }
    }

    /// The URL of the scratch database (the server URL with its database replaced), for
    /// [`PostgresStore::connect`](crate::postgres::PostgresStore::connect) or `--store`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The scratch database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs outside any async context we could borrow (maybe while a test unwinds), so
        // the DROP runs on a thread with a runtime of its own.
        let server_url = self.server_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                tokio::time::timeout(ADMIN_TIMEOUT, drop_database(&server_url, &name))
                    .await
                    .map_err(|_| "no answer within 30 s".to_string())?
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: test database {} was not dropped: {e}", self.name),
            Err(_) => eprintln!("warning: test database {} was not dropped", self.name),
        }
    }
}

async fn drop_database(server_url: &str, name: &str) -> Result<(), String> {
    let mut admin = connect_admin(server_url).await?;
    admin
        .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
        .await
        .map_err(|e| e.to_string())?;
    let _ = admin.close().await;
    Ok(())
}

async fn connect_admin(server_url: &str) -> Result<PgConnection, String> {
    let options = PgConnectOptions::from_str(server_url).map_err(|e| format!("bad URL: {e}"))?;
    options
        .application_name("agent-runtime-tests")
        .connect()
        .await
        .map_err(|e| e.to_string())
}

fn unreachable_message(server_url: &str, error: &str) -> String {
    format!(
        "PostgreSQL tests need a server: cannot create a scratch database on {} ({error}). \
         Run scripts/test (it starts PostgreSQL), or set {SERVER_ENV} to the URL of a server \
         whose user may CREATE DATABASE.",
        redact_password(server_url)
    )
}

/// `name` unique across processes and tests: prefix, pid, a per-process counter, the time.
fn fresh_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    format!(
        "{NAME_PREFIX}{}_{}_{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `url` with its database (the path) replaced by `database`; query parameters are kept.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{database}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// `url` without the password between `user:` and `@`.
fn redact_password(url: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let Some(at) = url[authority_start..]
        .find('@')
        .map(|i| authority_start + i)
    else {
        return url.to_string();
    };
    match url[authority_start..at].find(':') {
        Some(colon) => format!(
            "{}:<redacted>{}",
            &url[..authority_start + colon],
            &url[at..]
        ),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn database_is_replaced_and_parameters_kept() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgresql://u:p@h/db?sslmode=disable", "x"),
            "postgresql://u:p@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_password("postgres://u:secret@h/db"),
            "postgres://u:<redacted>@h/db"
        );
        assert_eq!(redact_password("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_password("postgres://h/db"), "postgres://h/db");
    }

    #[test]
    fn names_are_fresh_and_valid_identifiers() {
        let (a, b) = (fresh_name(), fresh_name());
        assert_ne!(a, b);
        assert!(a.len() < 63, "{a}");
        assert!(a
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
    }
}
