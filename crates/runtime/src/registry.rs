//! The loaded sessions: one load slot per session id, so that loading one session never holds a
//! lock that other sessions wait on, and sessions leave memory again when nobody uses them.
//!
//! # Loading
//!
//! The map sits behind a std mutex that is held only to find, insert or remove a slot, never
//! across an await. A slot is a [`OnceCell`]: the first caller loads the session (folds its log
//! from the store, starts its actor) outside the map lock, callers of the same session meanwhile
//! wait for that one load, and callers of other sessions do not wait at all. A load that fails
//! (an unknown id, a store error) or is abandoned (the request went away) leaves no slot behind,
//! so requests for random ids cannot grow the map. While another caller still waits on the slot,
//! the slot stays: that caller retries the load, and cleans up in turn if it fails too.
//!
//! # Unloading
//!
//! A loaded session is removed by its own actor (see `session/actor.rs`), when it has been quiet
//! for the configured time, through [`Registry::remove_if_unused`]: under the map lock it checks
//! that nobody holds the slot or the loaded value besides the map. Every caller gets its
//! reference through the map lock and keeps it until its call is answered, so after the removal
//! nobody can reach the old actor: a command never meets a stopped actor, and the next request
//! loads the session afresh from the store. The actor decides, not a sweeper task, because only
//! the actor knows its own state exactly (a command it is handling, a turn it is about to start).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::OnceCell;

use crate::error::Result;

/// A session's place in the registry: empty while it loads, then the loaded value.
type Slot<T> = OnceCell<Arc<T>>;

/// Loaded (and loading) values by session id; `T` is the session handle.
pub(crate) struct Registry<T> {
    slots: Mutex<HashMap<String, Arc<Slot<T>>>>,
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Registry {
            slots: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> Registry<T> {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Slot<T>>>> {
        // Every critical section is a single map operation: a panic cannot leave the map
        // half-changed, so a poisoned lock is safe to use.
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The loaded value of `id`, loading it with `load` if needed. Concurrent callers of one id
    /// share one load; the map lock is not held while loading.
    pub(crate) async fn get_or_load<F, Fut>(&self, id: &str, load: F) -> Result<Arc<T>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Arc<T>>>,
    {
        let slot = self.lock().entry(id.to_string()).or_default().clone();
        let guard = ForgetUnloaded {
            registry: self,
            id,
            slot,
        };
        guard.slot.get_or_try_init(load).await.cloned()
    }

    /// The value of `id` if it is loaded (not while it loads).
    pub(crate) fn get(&self, id: &str) -> Option<Arc<T>> {
        self.lock().get(id).and_then(|slot| slot.get().cloned())
    }

    /// Every loaded value.
    pub(crate) fn values(&self) -> Vec<Arc<T>> {
        self.lock()
            .values()
            .filter_map(|slot| slot.get().cloned())
            .collect()
    }

    /// Whether `id` is loaded.
    pub(crate) fn is_loaded(&self, id: &str) -> bool {
        self.lock().get(id).is_some_and(|slot| slot.initialized())
    }

    /// Puts a value loaded elsewhere (at start) in place, replacing whatever `id` had.
    pub(crate) fn insert(&self, id: &str, value: Arc<T>) {
        let slot = Arc::new(OnceCell::new_with(Some(value)));
        let replaced = self.lock().insert(id.to_string(), slot);
        drop(replaced);
    }

    /// Takes `id` out (a deleted session), returning its value if it was loaded. A load in
    /// flight completes for its callers but is no longer found.
    pub(crate) fn remove(&self, id: &str) -> Option<Arc<T>> {
        let removed = self.lock().remove(id);
        removed.and_then(|slot| slot.get().cloned())
    }

    /// How many values are loaded.
    pub(crate) fn loaded(&self) -> usize {
        self.lock()
            .values()
            .filter(|slot| slot.initialized())
            .count()
    }

    /// Takes every value out (shutdown).
    pub(crate) fn clear(&self) {
        let slots = std::mem::take(&mut *self.lock());
        drop(slots);
    }

    /// Removes `id` if its loaded value passes `is_this` and nobody but the map holds the slot
    /// or the value; returns whether it did. `is_this` runs under the map lock: what it checks
    /// cannot change meanwhile through anyone who needs the map to reach the value.
    pub(crate) fn remove_if_unused(&self, id: &str, is_this: impl FnOnce(&T) -> bool) -> bool {
        let mut slots = self.lock();
        let unused = slots.get(id).is_some_and(|slot| {
            slot.get().is_some_and(|value| {
                let sole = Arc::strong_count(slot) == 1 && Arc::strong_count(value) == 1;
                // The counts are read relaxed; whatever a former holder did before dropping its
                // reference (e.g. queue a command) must be visible to `is_this`.
                std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
                sole && is_this(value)
            })
        });
        if !unused {
            return false;
        }
        let removed = slots.remove(id);
        drop(slots);
        // Dropped outside the lock.
        drop(removed);
        true
    }
}

/// Removes a slot whose load failed or was abandoned, unless another caller still holds it
/// (that one retries the load and cleans up after itself) or it was replaced meanwhile.
struct ForgetUnloaded<'a, T> {
    registry: &'a Registry<T>,
    id: &'a str,
    slot: Arc<Slot<T>>,
}

impl<T> Drop for ForgetUnloaded<'_, T> {
    fn drop(&mut self) {
        if self.slot.initialized() {
            return;
        }
        let mut slots = self.registry.lock();
        let ours = slots
            .get(self.id)
            .is_some_and(|slot| Arc::ptr_eq(slot, &self.slot));
        // The map's reference and ours: nobody else waits on this slot.
        if ours && Arc::strong_count(&self.slot) == 2 {
            slots.remove(self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use pretty_assertions::assert_eq;
    use tokio::sync::Notify;

    use super::*;
    use crate::error::RuntimeError;

    fn slots<T>(registry: &Registry<T>) -> usize {
        registry.lock().len()
    }

    #[tokio::test]
    async fn a_failed_load_leaves_nothing_behind() {
        let registry: Registry<String> = Registry::default();
        for i in 0..100 {
            let id = format!("random-{i}");
            let loaded = registry
                .get_or_load(&id, || async {
                    Err(RuntimeError::SessionNotFound("random".into()))
                })
                .await;
            assert!(matches!(loaded, Err(RuntimeError::SessionNotFound(_))));
        }
        assert_eq!((slots(&registry), registry.loaded()), (0, 0));
    }

    #[tokio::test]
    async fn an_abandoned_load_leaves_nothing_behind() {
        let registry: Registry<String> = Registry::default();
        let never = registry.get_or_load("s1", std::future::pending);
        assert!(tokio::time::timeout(Duration::from_millis(1), never)
            .await
            .is_err());
        assert_eq!(slots(&registry), 0);
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_load_and_other_ids_do_not_wait() {
        let registry: Arc<Registry<String>> = Arc::default();
        let loads = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(Notify::new());
        let slow = |registry: Arc<Registry<String>>| {
            let (loads, release) = (loads.clone(), release.clone());
            tokio::spawn(async move {
                registry
                    .get_or_load("slow", || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        release.notified().await;
                        Ok(Arc::new("slow".to_string()))
                    })
                    .await
            })
        };
        let first = slow(registry.clone());
        let second = slow(registry.clone());
        // Another id loads while "slow" is stuck in its load.
        let fast = registry
            .get_or_load("fast", || async { Ok(Arc::new("fast".to_string())) })
            .await
            .expect("fast");
        assert_eq!(*fast, "fast");
        assert!(!registry.is_loaded("slow"));
        assert_eq!(registry.loaded(), 1);
        release.notify_one();
        let (first, second) = (first.await.unwrap(), second.await.unwrap());
        assert!(Arc::ptr_eq(&first.unwrap(), &second.unwrap()));
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(registry.loaded(), 2);
    }

    #[tokio::test]
    async fn a_waiter_retries_after_the_first_load_failed() {
        let registry: Arc<Registry<String>> = Arc::default();
        let release = Arc::new(Notify::new());
        let failing = {
            let (registry, release) = (registry.clone(), release.clone());
            tokio::spawn(async move {
                registry
                    .get_or_load("s1", || async move {
                        release.notified().await;
                        Err(RuntimeError::Internal("store down".into()))
                    })
                    .await
            })
        };
        // Wait until the failing load holds the slot.
        for _ in 0..1000 {
            if slots(&registry) == 1 {
                break;
            }
            tokio::task::yield_now().await;
        }
        let waiting = {
            let registry = registry.clone();
            tokio::spawn(async move {
                registry
                    .get_or_load("s1", || async { Ok(Arc::new("loaded".to_string())) })
                    .await
            })
        };
        // The waiter holds the slot too before the first load is let go.
        for _ in 0..1000 {
            if registry.lock().get("s1").map(Arc::strong_count) == Some(3) {
                break;
            }
            tokio::task::yield_now().await;
        }
        release.notify_one();
        assert!(failing.await.unwrap().is_err());
        assert_eq!(*waiting.await.unwrap().expect("second load"), "loaded");
        assert!(registry.is_loaded("s1"));
    }

    #[tokio::test]
    async fn only_an_unused_value_is_removed() {
        let registry: Registry<String> = Registry::default();
        let held = registry
            .get_or_load("s1", || async { Ok(Arc::new("one".to_string())) })
            .await
            .expect("load");
        assert!(
            !registry.remove_if_unused("s1", |_| true),
            "held by a caller"
        );
        drop(held);
        assert!(
            !registry.remove_if_unused("s1", |_| false),
            "refused by the check"
        );
        assert!(!registry.remove_if_unused("other", |_| true), "not loaded");
        assert!(registry.remove_if_unused("s1", |v| v == "one"));
        assert_eq!((slots(&registry), registry.loaded()), (0, 0));
    }
}
