//! This node's open connections: whose, from which session and address, and their queues;
//! with how many each user and each client address hold, so that no one holds more than
//! their share.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::transport::Outbox;

pub type ConnId = u64;

/// The most connections one user, and one client address, may hold on a node.
#[derive(Debug, Clone, Copy)]
pub struct ConnCaps {
    pub per_user: usize,
    pub per_address: usize,
}

impl Default for ConnCaps {
    fn default() -> Self {
        Self {
            per_user: 32,
            per_address: 256,
        }
    }
}

/// Why a connection was not registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TooMany {
    User,
    Address,
}

/// An open connection.
pub struct Conn {
    pub user: Arc<str>,
    pub session: Option<Arc<str>>,
    pub address: Option<IpAddr>,
    pub outbox: Outbox,
}

#[derive(Default)]
pub struct Registry {
    conns: HashMap<ConnId, Conn>,
    per_user: HashMap<Arc<str>, usize>,
    per_address: HashMap<IpAddr, usize>,
}

impl Registry {
    /// Registers `conn` unless its user or its address holds its cap already.
    pub fn insert(&mut self, id: ConnId, conn: Conn, caps: ConnCaps) -> Result<(), TooMany> {
        if self.per_user.get(&conn.user).copied().unwrap_or(0) >= caps.per_user {
            return Err(TooMany::User);
        }
        if let Some(address) = conn.address
            && self.per_address.get(&address).copied().unwrap_or(0) >= caps.per_address
        {
            return Err(TooMany::Address);
        }
        *self.per_user.entry(conn.user.clone()).or_insert(0) += 1;
        if let Some(address) = conn.address {
            *self.per_address.entry(address).or_insert(0) += 1;
        }
        self.conns.insert(id, conn);
        Ok(())
    }

    pub fn remove(&mut self, id: ConnId) -> Option<Conn> {
        let conn = self.conns.remove(&id)?;
        if let Some(n) = self.per_user.get_mut(&conn.user) {
            *n -= 1;
            if *n == 0 {
                self.per_user.remove(&conn.user);
            }
        }
        if let Some(address) = conn.address
            && let Some(n) = self.per_address.get_mut(&address)
        {
            *n -= 1;
            if *n == 0 {
                self.per_address.remove(&address);
            }
        }
        Some(conn)
    }

    pub fn values(&self) -> impl Iterator<Item = &Conn> {
        self.conns.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(user: &str, address: &str) -> Conn {
        let (outbox, _) = crate::ws::transport::outbox::testing::recording_outbox_of(1);
        Conn {
            user: Arc::from(user),
            session: None,
            address: Some(address.parse().expect("ip")),
            outbox,
        }
    }

    #[test]
    fn caps_per_user_and_per_address_and_freed_on_remove() {
        let caps = ConnCaps {
            per_user: 2,
            per_address: 3,
        };
        let mut r = Registry::default();
        assert!(r.insert(1, conn("ann", "192.0.2.1"), caps).is_ok());
        assert!(r.insert(2, conn("ann", "192.0.2.1"), caps).is_ok());
        assert_eq!(
            r.insert(3, conn("ann", "192.0.2.9"), caps),
            Err(TooMany::User)
        );
        assert!(r.insert(4, conn("bob", "192.0.2.1"), caps).is_ok());
        assert_eq!(
            r.insert(5, conn("cid", "192.0.2.1"), caps),
            Err(TooMany::Address)
        );
        assert!(r.remove(1).is_some());
        assert!(r.insert(6, conn("cid", "192.0.2.1"), caps).is_ok());
        assert!(r.insert(7, conn("ann", "192.0.2.2"), caps).is_ok());
        assert_eq!(
            r.insert(8, conn("ann", "192.0.2.3"), caps),
            Err(TooMany::User)
        );
        assert!(r.remove(2).is_some());
        assert!(r.insert(8, conn("ann", "192.0.2.3"), caps).is_ok());
        assert_eq!(r.values().count(), 4);
    }
}
