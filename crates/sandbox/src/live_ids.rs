//! [`LiveIds`]: the sandboxes a provider is creating or holds alive, by id, so one id is never
//! live twice. Shared by every provider (local, Modal).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::error::SandboxError;

/// A provider's sandbox as [`LiveIds`] sees it.
pub trait LiveSandbox: Send + Sync {
    /// Destroyed (its id may be used again).
    fn is_destroyed(&self) -> bool;
}

/// Ids being created (`None`) or alive (a weak handle), by sandbox id.
pub struct LiveIds<T> {
    slots: Mutex<HashMap<String, Option<Weak<T>>>>,
}

impl<T> Default for LiveIds<T> {
    fn default() -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: LiveSandbox> LiveIds<T> {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Option<Weak<T>>>> {
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reserves `id` for a sandbox being created, or fails if one with it is being created or
    /// alive. Dropping the reservation without [`Reservation::complete`] frees the id.
    pub fn reserve(&self, id: &str) -> Result<Reservation<'_, T>, SandboxError> {
        let mut slots = self.lock();
        slots.retain(|_, slot| match slot {
            None => true,
            Some(weak) => weak.upgrade().is_some_and(|s| !s.is_destroyed()),
        });
        if slots.contains_key(id) {
            return Err(SandboxError::AlreadyExists { id: id.to_owned() });
        }
        slots.insert(id.to_owned(), None);
        Ok(Reservation {
            ids: self,
            id: id.to_owned(),
            done: false,
        })
    }

    /// The live sandbox with this id, if any.
    pub fn get(&self, id: &str) -> Option<Arc<T>> {
        match self.lock().get(id) {
            Some(Some(weak)) => weak.upgrade().filter(|s| !s.is_destroyed()),
            _ => None,
        }
    }

    /// The first live sandbox that satisfies `pred`.
    pub fn find(&self, pred: impl Fn(&T) -> bool) -> Option<Arc<T>> {
        self.lock()
            .values()
            .filter_map(|slot| slot.as_ref().and_then(Weak::upgrade))
            .find(|s| !s.is_destroyed() && pred(s))
    }
}

/// An id reserved by [`LiveIds::reserve`].
pub struct Reservation<'a, T: LiveSandbox> {
    ids: &'a LiveIds<T>,
    id: String,
    done: bool,
}

impl<T: LiveSandbox> Reservation<'_, T> {
    /// The sandbox was created: the id is live while it is.
    pub fn complete(mut self, sandbox: &Arc<T>) {
        self.ids
            .lock()
            .insert(self.id.clone(), Some(Arc::downgrade(sandbox)));
        self.done = true;
    }
}

impl<T: LiveSandbox> Drop for Reservation<'_, T> {
    fn drop(&mut self) {
        if !self.done {
            self.ids.lock().remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[derive(Default)]
    struct Fake(AtomicBool);

    impl LiveSandbox for Fake {
        fn is_destroyed(&self) -> bool {
            self.0.load(Ordering::Relaxed)
        }
    }

    #[test]
    fn an_id_is_live_once_until_destroyed_dropped_or_abandoned() {
        let ids = LiveIds::<Fake>::default();
        let reserved = ids.reserve("a").unwrap();
        assert!(matches!(
            ids.reserve("a").map(|_| ()),
            Err(SandboxError::AlreadyExists { .. })
        ));
        drop(reserved);
        let sandbox = Arc::new(Fake::default());
        ids.reserve("a").unwrap().complete(&sandbox);
        assert!(ids.reserve("a").is_err());
        assert!(ids.get("a").is_some());
        assert!(ids.find(|_| true).is_some());
        sandbox.0.store(true, Ordering::Relaxed);
        assert!(ids.get("a").is_none());
        ids.reserve("a").unwrap().complete(&sandbox);
        drop(sandbox);
        assert!(ids.get("a").is_none());
        assert!(ids.reserve("a").is_ok());
    }
}
