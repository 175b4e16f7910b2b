//! [`ClusterStore`] for [`PostgresStore`]: node rows with an expiry judged by the database's
//! clock, an owner and fencing token on each session row, fenced appends that check both in the
//! statement that reserves the seqs, and `NOTIFY` on the same commit (schema:
//! `migrations/postgres/0004_cluster.sql`).

use std::time::{Duration, SystemTime};

use agent_runtime_protocol::{Envelope, SessionEvent};
use async_trait::async_trait;
use sqlx::postgres::PgListener;

use crate::cluster::{ClusterListener, ClusterStore, Fence, Heard, NodeId, NodeInfo, Ownership};
use crate::error::{Result, StoreError};
use crate::postgres::{map_error, PostgresStore};
use crate::sql::to_i64;

/// The channel fenced appends announce themselves on; the payload is `<session_id> <seq>`.
pub const NOTIFY_CHANNEL: &str = "agent_runtime_events";

/// `true` for the node `($n, $i)` while it is live (the placeholders are spliced in).
fn live(node: &str, incarnation: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM nodes WHERE node_id = {node} AND incarnation = {incarnation} \
         AND expires_at > clock_timestamp())"
    )
}

/// `true` while the session row `s`'s owner is live.
fn owner_live() -> String {
    live("s.owner_node", "s.owner_incarnation")
}

fn millis(ttl: Duration) -> i64 {
    to_i64(ttl.as_millis())
}

#[async_trait]
impl ClusterStore for PostgresStore {
    async fn register_node(&self, node_id: &str, url: &str, ttl: Duration) -> Result<NodeId> {
        crate::shared::check_key("node id", node_id)?;
        let mut tx = self.pool().begin().await.map_err(map_error)?;
        let incarnation: Option<i64> = sqlx::query_scalar(
            "INSERT INTO nodes (node_id, incarnation, url, expires_at) \
             VALUES ($1, 1, $2, clock_timestamp() + $3 * interval '1 millisecond') \
             ON CONFLICT (node_id) DO UPDATE SET incarnation = nodes.incarnation + 1, \
             url = excluded.url, expires_at = excluded.expires_at \
             WHERE nodes.expires_at <= clock_timestamp() \
             RETURNING incarnation",
        )
        .bind(node_id)
        .bind(url)
        .bind(millis(ttl))
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_error)?;
        let Some(incarnation) = incarnation else {
            return Err(StoreError::Conflict(format!(
                "node id {node_id:?} is already live (another process holds it; pick another \
                 id or wait until its registration expires)"
            )));
        };
        // What an earlier incarnation still owned is nobody's now.
        sqlx::query("UPDATE sessions SET owner_node = NULL WHERE owner_node = $1")
            .bind(node_id)
            .execute(&mut *tx)
            .await
            .map_err(map_error)?;
        tx.commit().await.map_err(map_error)?;
        Ok(NodeId {
            node_id: node_id.to_string(),
            incarnation,
        })
    }

    async fn heartbeat(&self, node: &NodeId, ttl: Duration) -> Result<Option<SystemTime>> {
        let now_ms: Option<i64> = sqlx::query_scalar(
            "UPDATE nodes SET expires_at = clock_timestamp() + $3 * interval '1 millisecond' \
             WHERE node_id = $1 AND incarnation = $2 AND expires_at > clock_timestamp() \
             RETURNING (extract(epoch FROM clock_timestamp()) * 1000)::bigint",
        )
        .bind(&node.node_id)
        .bind(node.incarnation)
        .bind(millis(ttl))
        .fetch_optional(self.pool())
        .await
        .map_err(map_error)?;
        Ok(now_ms.map(|ms| {
            SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
        }))
    }

    async fn deregister_node(&self, node: &NodeId) -> Result<()> {
        let mut tx = self.pool().begin().await.map_err(map_error)?;
        sqlx::query(
            "UPDATE sessions SET owner_node = NULL \
             WHERE owner_node = $1 AND owner_incarnation = $2",
        )
        .bind(&node.node_id)
        .bind(node.incarnation)
        .execute(&mut *tx)
        .await
        .map_err(map_error)?;
        // The row stays (expired) so the next registration of the id counts on from it.
        sqlx::query(
            "UPDATE nodes SET expires_at = clock_timestamp() \
             WHERE node_id = $1 AND incarnation = $2",
        )
        .bind(&node.node_id)
        .bind(node.incarnation)
        .execute(&mut *tx)
        .await
        .map_err(map_error)?;
        tx.commit().await.map_err(map_error)
    }

    async fn list_nodes(&self) -> Result<Vec<NodeInfo>> {
        let rows: Vec<(String, i64, String, bool)> = sqlx::query_as(
            "SELECT node_id, incarnation, url, expires_at > clock_timestamp() FROM nodes \
             ORDER BY node_id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(map_error)?;
        Ok(rows
            .into_iter()
            .map(|(node_id, incarnation, url, live)| NodeInfo {
                node_id,
                incarnation,
                url,
                live,
            })
            .collect())
    }

    async fn acquire(&self, session_id: &str, node: &NodeId) -> Result<Ownership> {
        let mine = format!(
            "(s.owner_node IS NULL OR (s.owner_node = $2 AND s.owner_incarnation = $3) \
             OR NOT {})",
            owner_live()
        );
        let token = self.take_lease(session_id, node, &mine).await?;
        if let Some(token) = token {
            return Ok(Ownership::Owned(Fence {
                node: node.clone(),
                token,
            }));
        }
        let row: Option<(Option<String>, Option<String>, bool)> = sqlx::query_as(&format!(
            "SELECT s.owner_node, n.url, {me_live} FROM sessions s \
             LEFT JOIN nodes n ON n.node_id = s.owner_node WHERE s.session_id = $1",
            me_live = live("$2", "$3"),
        ))
        .bind(session_id)
        .bind(&node.node_id)
        .bind(node.incarnation)
        .fetch_optional(self.pool())
        .await
        .map_err(map_error)?;
        match row {
            None => Err(StoreError::session_not_found(session_id)),
            Some((_, _, false)) => Err(not_live(node)),
            Some((Some(node_id), Some(url), true)) => Ok(Ownership::OwnedBy { node_id, url }),
            // The owner left between the two statements: one more try decides.
            Some(_) => Err(StoreError::Backend(format!(
                "the owner of session {session_id} changed while it was acquired; retry"
            ))),
        }
    }

    async fn acquire_orphaned(&self, session_id: &str, node: &NodeId) -> Result<Option<Fence>> {
        let orphaned = format!("s.open AND (s.owner_node IS NULL OR NOT {})", owner_live());
        let token = self.take_lease(session_id, node, &orphaned).await?;
        if let Some(token) = token {
            return Ok(Some(Fence {
                node: node.clone(),
                token,
            }));
        }
        let me_live: Option<bool> = sqlx::query_scalar(
            "SELECT expires_at > clock_timestamp() FROM nodes \
             WHERE node_id = $1 AND incarnation = $2",
        )
        .bind(&node.node_id)
        .bind(node.incarnation)
        .fetch_optional(self.pool())
        .await
        .map_err(map_error)?;
        match me_live {
            Some(true) => Ok(None),
            _ => Err(not_live(node)),
        }
    }

    async fn owner(&self, session_id: &str) -> Result<Option<String>> {
        let owner: Option<Option<String>> = sqlx::query_scalar(&format!(
            "SELECT CASE WHEN {owner_live} THEN s.owner_node END FROM sessions s \
             WHERE s.session_id = $1",
            owner_live = owner_live(),
        ))
        .bind(session_id)
        .fetch_optional(self.pool())
        .await
        .map_err(map_error)?;
        Ok(owner.flatten())
    }

    async fn release(&self, session_id: &str, fence: &Fence) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET owner_node = NULL WHERE session_id = $1 AND owner_node = $2 \
             AND owner_incarnation = $3 AND owner_fence = $4",
        )
        .bind(session_id)
        .bind(&fence.node.node_id)
        .bind(fence.node.incarnation)
        .bind(fence.token)
        .execute(self.pool())
        .await
        .map_err(map_error)?;
        Ok(())
    }

    async fn append_fenced(
        &self,
        session_id: &str,
        fence: &Fence,
        events: &[(String, SessionEvent)],
    ) -> Result<Vec<Envelope>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        // The append statement, with the fence checked by the UPDATE that reserves the seqs
        // (its row lock orders it against any takeover), and the notification sent on commit.
        let fenced = format!(
            "AND owner_node = $5 AND owner_incarnation = $6 AND owner_fence = $7 AND {}",
            live("$5", "$6")
        );
        let notify = format!(
            "SELECT r.last_seq FROM reserved r, \
             LATERAL (SELECT pg_notify('{NOTIFY_CHANNEL}', $1 || ' ' || r.last_seq)) n"
        );
        let appended = self
            .append_statement(session_id, events, &fenced, &notify, Some(fence))
            .await?;
        match appended {
            Some(envelopes) => Ok(envelopes),
            None => {
                let exists: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM sessions WHERE session_id = $1)",
                )
                .bind(session_id)
                .fetch_one(self.pool())
                .await
                .map_err(map_error)?;
                if exists {
                    Err(StoreError::Fenced(format!(
                        "node {} (token {}) no longer owns session {session_id}",
                        fence.node.node_id, fence.token
                    )))
                } else {
                    Err(StoreError::session_not_found(session_id))
                }
            }
        }
    }

    async fn list_orphaned(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        crate::shared::check_page_limit(limit)?;
        sqlx::query_scalar(&format!(
            "SELECT s.session_id FROM sessions s WHERE s.open AND s.session_id > $1 \
             AND (s.owner_node IS NULL OR NOT {owner_live}) ORDER BY s.session_id LIMIT $2",
            owner_live = owner_live(),
        ))
        .bind(after.unwrap_or(""))
        .bind(to_i64(limit))
        .fetch_all(self.pool())
        .await
        .map_err(map_error)
    }

    async fn listen(&self) -> Result<Box<dyn ClusterListener>> {
        let mut listener = PgListener::connect_with(self.pool())
            .await
            .map_err(map_error)?;
        listener.listen(NOTIFY_CHANNEL).await.map_err(map_error)?;
        Ok(Box::new(PostgresListener { listener }))
    }
}

impl PostgresStore {
    /// Makes the live `node` the owner of the session where `condition` (SQL over the session
    /// row `s`) holds; the new token, or `None` when nothing changed.
    async fn take_lease(
        &self,
        session_id: &str,
        node: &NodeId,
        condition: &str,
    ) -> Result<Option<i64>> {
        sqlx::query_scalar(&format!(
            "UPDATE sessions s SET owner_node = $2, owner_incarnation = $3, \
             owner_fence = s.owner_fence + 1 \
             WHERE s.session_id = $1 AND {me_live} AND {condition} \
             RETURNING s.owner_fence",
            me_live = live("$2", "$3"),
        ))
        .bind(session_id)
        .bind(&node.node_id)
        .bind(node.incarnation)
        .fetch_optional(self.pool())
        .await
        .map_err(map_error)
    }
}

fn not_live(node: &NodeId) -> StoreError {
    StoreError::Fenced(format!(
        "node {} (incarnation {}) is no longer live",
        node.node_id, node.incarnation
    ))
}

struct PostgresListener {
    listener: PgListener,
}

#[async_trait]
impl ClusterListener for PostgresListener {
    async fn recv(&mut self) -> Result<Heard> {
        loop {
            let Some(notification) = self.listener.try_recv().await.map_err(map_error)? else {
                // The connection dropped; the next call reconnects and listens again.
                return Ok(Heard::Missed);
            };
            let parsed = notification
                .payload()
                .rsplit_once(' ')
                .and_then(|(id, seq)| Some((id.to_string(), seq.parse::<u64>().ok()?)));
            match parsed {
                Some((session_id, seq)) => return Ok(Heard::Appended { session_id, seq }),
                None => tracing::warn!(
                    payload = notification.payload(),
                    "ignoring a malformed notification on {NOTIFY_CHANNEL}"
                ),
            }
        }
    }
}
