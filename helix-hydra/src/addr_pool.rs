//! Per-session subnet allocation for sandbox docker bridges.
//!
//! Every session gets its own dockerd, and every dockerd its own bridge network. The
//! bridges must never overlap, or one session's containers could shadow another's
//! addresses, and the assignments must survive a restart of the sandbox host, because
//! the session dockerds (and their bridges) outlive it.
//!
//! An [`AddrPool`] carves a parent range (for example `10.213.0.0/16`) into equal
//! subnets (for example /24s, 256 of them) and hands one to each session:
//!
//! - [`allocate`](AddrPool::allocate) gives the lowest free subnet, or the one the
//!   session already holds (it is idempotent);
//! - [`release`](AddrPool::release) returns a session's subnet to the pool;
//! - a pool [opened](AddrPool::open) on a file writes every change to it atomically
//!   (temporary file, `fsync`, rename, directory `fsync`), so a restarted host reloads
//!   exactly the same assignments. A change that cannot be saved is rolled back.
//!
//! The pool is a plain value: share it between tasks behind a `Mutex`. Only one pool
//! may own a state file at a time.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{HydraError, Result, Subnet};

/// Longest accepted session id, in bytes.
pub const MAX_SESSION_ID_LEN: usize = 256;

/// Smallest subnet handed out: a /30 holds a gateway and one host.
pub const MAX_PREFIX_LEN: u8 = 30;

/// Version of the state file format.
const FILE_FORMAT: u32 = 1;

/// An allocator of non-overlapping, equal-size IPv4 subnets keyed by session id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrPool {
    parent: Subnet,
    prefix_len: u8,
    /// session id -> slot index (the subnet's position inside `parent`).
    by_session: BTreeMap<String, u32>,
    /// slot index -> session id.
    by_slot: BTreeMap<u32, String>,
    path: Option<PathBuf>,
}

/// The state file, as JSON.
#[derive(Debug, Serialize, Deserialize)]
struct PoolFile {
    format: u32,
    parent: Subnet,
    prefix_len: u8,
    assignments: BTreeMap<String, Subnet>,
}

impl AddrPool {
    /// An in-memory pool that splits `parent` into `/prefix_len` subnets.
    ///
    /// Fails when `prefix_len` is shorter than the parent's or longer than
    /// [`MAX_PREFIX_LEN`].
    pub fn new(parent: Subnet, prefix_len: u8) -> Result<Self> {
        if prefix_len < parent.prefix_len() || prefix_len > MAX_PREFIX_LEN {
            return Err(HydraError::InvalidPoolConfig {
                reason: format!(
                    "cannot split {parent} into /{prefix_len} subnets: the prefix length \
                     must be from {} to {MAX_PREFIX_LEN}",
                    parent.prefix_len()
                ),
            });
        }
        Ok(Self {
            parent,
            prefix_len,
            by_session: BTreeMap::new(),
            by_slot: BTreeMap::new(),
            path: None,
        })
    }

    /// A pool persisted in the JSON file at `path`.
    ///
    /// Loads the assignments if the file exists, otherwise creates it (and its
    /// directory). Fails with [`HydraError::CorruptPoolFile`] when the file cannot be
    /// trusted, and with [`HydraError::PoolConfigMismatch`] when it was written for a
    /// different `parent` or `prefix_len`.
    pub fn open(path: impl Into<PathBuf>, parent: Subnet, prefix_len: u8) -> Result<Self> {
        let mut pool = Self::new(parent, prefix_len)?;
        let path = path.into();
        match fs::read(&path) {
            Ok(bytes) => pool.load(&path, &bytes)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    fs::create_dir_all(dir).map_err(|source| file_io(dir, source))?;
                }
                pool.save(&path)?;
            }
            Err(source) => return Err(file_io(&path, source)),
        }
        pool.path = Some(path);
        Ok(pool)
    }

    /// The subnet of `session_id`, allocating the lowest free one if it has none.
    ///
    /// Calling it again for the same session returns the same subnet. Fails with
    /// [`HydraError::PoolExhausted`] when every subnet is taken.
    pub fn allocate(&mut self, session_id: &str) -> Result<Subnet> {
        validate_session_id(session_id)?;
        if let Some(&slot) = self.by_session.get(session_id) {
            return Ok(self.subnet_at(slot));
        }
        let slot = self.first_free_slot().ok_or(HydraError::PoolExhausted {
            parent: self.parent,
            prefix_len: self.prefix_len,
            capacity: self.capacity(),
        })?;
        self.insert(session_id.to_owned(), slot);
        if let Err(e) = self.persist() {
            self.remove(session_id);
            return Err(e);
        }
        Ok(self.subnet_at(slot))
    }

    /// Returns the subnet of `session_id` to the pool.
    ///
    /// Returns the released subnet, or `None` if the session held none (releasing
    /// twice is not an error).
    pub fn release(&mut self, session_id: &str) -> Result<Option<Subnet>> {
        let Some(slot) = self.remove(session_id) else {
            return Ok(None);
        };
        if let Err(e) = self.persist() {
            self.insert(session_id.to_owned(), slot);
            return Err(e);
        }
        Ok(Some(self.subnet_at(slot)))
    }

    /// The subnet currently assigned to `session_id`, if any.
    pub fn get(&self, session_id: &str) -> Option<Subnet> {
        self.by_session.get(session_id).map(|&s| self.subnet_at(s))
    }

    /// Every assignment, in address order.
    pub fn assignments(&self) -> impl Iterator<Item = (&str, Subnet)> + '_ {
        self.by_slot
            .iter()
            .map(|(&slot, id)| (id.as_str(), self.subnet_at(slot)))
    }

    /// The range subnets are carved from.
    pub fn parent(&self) -> Subnet {
        self.parent
    }

    /// The prefix length of every subnet handed out.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The state file, for a pool made with [`open`](Self::open).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// How many subnets the pool holds in all.
    pub fn capacity(&self) -> u64 {
        1u64 << (self.prefix_len - self.parent.prefix_len())
    }

    /// How many subnets are assigned.
    pub fn len(&self) -> usize {
        self.by_session.len()
    }

    /// Whether no subnet is assigned.
    pub fn is_empty(&self) -> bool {
        self.by_session.is_empty()
    }

    /// How many subnets are free.
    pub fn available(&self) -> u64 {
        self.capacity() - self.len() as u64
    }

    fn subnet_at(&self, slot: u32) -> Subnet {
        let step = 1u64 << (32 - u32::from(self.prefix_len));
        let network = u64::from(u32::from(self.parent.network())) + u64::from(slot) * step;
        // `slot < capacity`, so the address stays inside the parent (it fits in u32)
        // and is aligned to `prefix_len`.
        Subnet::new_unchecked(Ipv4Addr::from(network as u32), self.prefix_len)
    }

    fn slot_of(&self, subnet: &Subnet) -> Option<u32> {
        if subnet.prefix_len() != self.prefix_len || !self.parent.contains_subnet(subnet) {
            return None;
        }
        let offset = u32::from(subnet.network()) - u32::from(self.parent.network());
        Some(offset >> (32 - u32::from(self.prefix_len)))
    }

    fn first_free_slot(&self) -> Option<u32> {
        // Slots are taken densely from 0, so the first gap in the sorted keys (or the
        // end) is the lowest free slot.
        let mut candidate: u64 = 0;
        for &slot in self.by_slot.keys() {
            if u64::from(slot) != candidate {
                break;
            }
            candidate += 1;
        }
        (candidate < self.capacity()).then_some(candidate as u32)
    }

    fn insert(&mut self, session_id: String, slot: u32) {
        self.by_slot.insert(slot, session_id.clone());
        self.by_session.insert(session_id, slot);
    }

    fn remove(&mut self, session_id: &str) -> Option<u32> {
        let slot = self.by_session.remove(session_id)?;
        self.by_slot.remove(&slot);
        Some(slot)
    }

    /// Writes the pool to `path` atomically.
    fn save(&self, path: &Path) -> Result<()> {
        let file = PoolFile {
            format: FILE_FORMAT,
            parent: self.parent,
            prefix_len: self.prefix_len,
            assignments: self
                .assignments()
                .map(|(id, subnet)| (id.to_owned(), subnet))
                .collect(),
        };
        let mut json =
            serde_json::to_vec_pretty(&file).map_err(|e| file_io(path, io::Error::other(e)))?;
        json.push(b'\n');
        write_atomically(path, &json)
    }

    fn persist(&self) -> Result<()> {
        match &self.path {
            Some(path) => self.save(path),
            None => Ok(()),
        }
    }

    fn load(&mut self, path: &Path, bytes: &[u8]) -> Result<()> {
        let corrupt = |reason: String| HydraError::CorruptPoolFile {
            path: path.to_path_buf(),
            reason,
        };
        let file: PoolFile = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
        if file.format != FILE_FORMAT {
            return Err(corrupt(format!(
                "unsupported format {} (this build reads {FILE_FORMAT})",
                file.format
            )));
        }
        if file.parent != self.parent || file.prefix_len != self.prefix_len {
            return Err(HydraError::PoolConfigMismatch {
                path: path.to_path_buf(),
                file_parent: file.parent,
                file_prefix_len: file.prefix_len,
                parent: self.parent,
                prefix_len: self.prefix_len,
            });
        }
        for (session_id, subnet) in file.assignments {
            validate_session_id(&session_id).map_err(|e| corrupt(e.to_string()))?;
            let slot = self.slot_of(&subnet).ok_or_else(|| {
                corrupt(format!(
                    "session {session_id} holds {subnet}, which is not a /{} inside {}",
                    self.prefix_len, self.parent
                ))
            })?;
            if let Some(other) = self.by_slot.get(&slot) {
                return Err(corrupt(format!(
                    "sessions {other} and {session_id} both hold {subnet}"
                )));
            }
            self.insert(session_id, slot);
        }
        Ok(())
    }
}

fn validate_session_id(session_id: &str) -> Result<()> {
    let reason = if session_id.is_empty() {
        "it is empty"
    } else if session_id.len() > MAX_SESSION_ID_LEN {
        "it is longer than 256 bytes"
    } else if session_id.chars().any(char::is_control) {
        "it contains control characters"
    } else {
        return Ok(());
    };
    Err(HydraError::InvalidSessionId {
        session_id: session_id.chars().take(64).collect(),
        reason: reason.into(),
    })
}

/// Replaces `path` with `contents` so that a crash leaves either the old or the new
/// file, never a partial one.
fn write_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map_or_else(|| "addr-pool".into(), |n| n.to_string_lossy());
    let tmp = path.with_file_name(format!(".{name}.tmp.{}", std::process::id()));
    let write_tmp = || -> io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()
    };
    if let Err(source) = write_tmp() {
        let _ = fs::remove_file(&tmp);
        return Err(HydraError::PoolFileIo { path: tmp, source });
    }
    if let Err(source) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(file_io(path, source));
    }
    // Make the rename itself durable. Not every platform lets a directory be opened
    // for syncing, so only a failed sync of an opened directory is an error.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(dir) = File::open(dir) {
            dir.sync_all().map_err(|source| file_io(path, source))?;
        }
    }
    Ok(())
}

fn file_io(path: &Path, source: io::Error) -> HydraError {
    HydraError::PoolFileIo {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
#[path = "addr_pool_tests.rs"]
mod tests;
