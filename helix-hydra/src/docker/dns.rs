//! The per-session DNS server.
//!
//! It listens on the session namespace's uplink address (port 53, UDP), which the session
//! engine hands to every container (`dockerd --dns`) and to the workspace. It answers the
//! names of the session's own containers (and `NAME.hydra.internal`) from the session
//! engine, refreshing on a miss; any other single-label name is NXDOMAIN (so another
//! session's container names never resolve), and everything else is relayed unchanged to
//! the host's resolvers *from the host's namespace*, so enterprise DNS servers, private
//! TLDs and even loopback stub resolvers keep working inside sandboxes.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::query_parameters::ListContainersOptions;
use bollard::Docker;
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::{rdata::A, RData, Record, RecordType};
use tokio::net::UdpSocket;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::{HydraError, Result};

/// The domain under which session names also resolve.
pub const SESSION_DOMAIN: &str = "hydra.internal";
const REFRESH_MIN_INTERVAL: Duration = Duration::from_millis(200);
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
const TTL: u32 = 5;
/// Queries of one session answered at once; more are dropped (clients retry).
const MAX_INFLIGHT: usize = 64;

/// Names of one session's containers, read from its engine.
#[derive(Debug)]
pub(crate) struct NameTable {
    docker: Docker,
    fixed: HashMap<String, Ipv4Addr>,
    cache: Mutex<(HashMap<String, Ipv4Addr>, Option<Instant>)>,
}

impl NameTable {
    pub(crate) fn new(docker: Docker, fixed: HashMap<String, Ipv4Addr>) -> Self {
        NameTable {
            docker,
            fixed,
            cache: Mutex::new((HashMap::new(), None)),
        }
    }

    /// The address of a session name, refreshing from the engine on a miss.
    pub(crate) async fn resolve(&self, name: &str) -> Option<Ipv4Addr> {
        if let Some(ip) = self.fixed.get(name) {
            return Some(*ip);
        }
        let mut cache = self.cache.lock().await;
        if let Some(ip) = cache.0.get(name) {
            return Some(*ip);
        }
        let fresh = cache
            .1
            .is_some_and(|at| at.elapsed() < REFRESH_MIN_INTERVAL);
        if !fresh {
            match self.load().await {
                Ok(map) => *cache = (map, Some(Instant::now())),
                Err(e) => tracing::warn!(error = %e, "session dns: cannot list containers"),
            }
        }
        cache.0.get(name).copied()
    }

    async fn load(&self) -> Result<HashMap<String, Ipv4Addr>> {
        let list = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: false,
                ..Default::default()
            }))
            .await
            .map_err(|e| HydraError::Engine {
                message: e.to_string(),
            })?;
        let mut map = HashMap::new();
        for c in list {
            let ip = c
                .network_settings
                .as_ref()
                .and_then(|n| n.networks.as_ref())
                .and_then(|nets| {
                    let mut v: Vec<_> = nets.iter().collect();
                    v.sort_by(|a, b| a.0.cmp(b.0));
                    v.into_iter()
                        .filter_map(|(_, ep)| ep.ip_address.as_deref())
                        .find_map(|s| s.parse::<Ipv4Addr>().ok())
                });
            let Some(ip) = ip else { continue };
            for name in c.names.unwrap_or_default() {
                map.insert(name.trim_start_matches('/').to_lowercase(), ip);
            }
        }
        Ok(map)
    }
}

/// A running session DNS server; stops when dropped.
#[derive(Debug)]
pub(crate) struct DnsServer {
    task: JoinHandle<()>,
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `listen` inside the network namespace `netns` and serves.
pub(crate) async fn start(
    netns: &str,
    listen: SocketAddrV4,
    names: Arc<NameTable>,
    upstreams: Vec<SocketAddr>,
) -> Result<DnsServer> {
    let path = format!("/run/netns/{netns}");
    let std_sock = tokio::task::spawn_blocking(move || bind_in_netns(&path, listen))
        .await
        .map_err(|e| HydraError::invalid(format!("dns bind task: {e}")))??;
    let sock =
        Arc::new(UdpSocket::from_std(std_sock).map_err(HydraError::io("session dns socket"))?);
    let upstreams = Arc::new(upstreams);
    // Bounded work per session: a flood of queries is dropped, not served at any cost.
    let inflight = Arc::new(tokio::sync::Semaphore::new(MAX_INFLIGHT));
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let (n, peer) = match sock.recv_from(&mut buf).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::debug!(error = %e, "session dns: recv");
                    continue;
                }
            };
            let Ok(permit) = inflight.clone().try_acquire_owned() else {
                continue;
            };
            let packet = buf[..n].to_vec();
            let (sock, names, upstreams) = (sock.clone(), names.clone(), upstreams.clone());
            tokio::spawn(async move {
                if let Some(reply) = answer(&packet, &names, &upstreams).await {
                    let _ = sock.send_to(&reply, peer).await;
                }
                drop(permit);
            });
        }
    });
    Ok(DnsServer { task })
}

fn bind_in_netns(path: &str, listen: SocketAddrV4) -> Result<std::net::UdpSocket> {
    // A dedicated thread enters the namespace, binds and exits; the socket stays in the
    // namespace it was created in.
    let path = path.to_owned();
    std::thread::spawn(move || -> Result<std::net::UdpSocket> {
        let ns = std::fs::File::open(&path).map_err(HydraError::io(format!("open {path}")))?;
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
            HydraError::Io {
                context: format!("enter {path}"),
                source: e.into(),
            }
        })?;
        let sock = std::net::UdpSocket::bind(listen)
            .map_err(HydraError::io(format!("bind session dns on {listen}")))?;
        sock.set_nonblocking(true)
            .map_err(HydraError::io("session dns socket"))?;
        Ok(sock)
    })
    .join()
    .map_err(|_| HydraError::invalid("dns bind thread panicked"))?
}

/// What the server replies to one packet (`None`: drop it).
pub(crate) async fn answer(
    packet: &[u8],
    names: &NameTable,
    upstreams: &[SocketAddr],
) -> Option<Vec<u8>> {
    let Ok(query) = Message::from_vec(packet) else {
        return None;
    };
    if query.message_type() != MessageType::Query || query.queries().len() != 1 {
        return reply(&query, ResponseCode::FormErr, None);
    }
    let q = &query.queries()[0];
    let fqdn = q.name().to_lowercase().to_ascii();
    let name = fqdn.trim_end_matches('.');
    let local = match name.strip_suffix(SESSION_DOMAIN) {
        Some(rest) => rest.strip_suffix('.').filter(|r| !r.contains('.')),
        None if !name.contains('.') => Some(name),
        None => None,
    };
    match local {
        Some(label) if !label.is_empty() => {
            let ip = names.resolve(label).await;
            match ip {
                None => reply(&query, ResponseCode::NXDomain, None),
                Some(ip) if q.query_type() == RecordType::A => {
                    let rec = Record::from_rdata(q.name().clone(), TTL, RData::A(A(ip)));
                    reply(&query, ResponseCode::NoError, Some(rec))
                }
                Some(_) => reply(&query, ResponseCode::NoError, None),
            }
        }
        _ => forward(packet, upstreams).await,
    }
}

fn reply(query: &Message, code: ResponseCode, answer: Option<Record>) -> Option<Vec<u8>> {
    let mut m = Message::new();
    m.set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(query.op_code())
        .set_recursion_desired(query.recursion_desired())
        .set_recursion_available(true)
        .set_authoritative(code != ResponseCode::FormErr)
        .set_response_code(code);
    for q in query.queries() {
        m.add_query(q.clone());
    }
    if let Some(rec) = answer {
        m.add_answer(rec);
    }
    m.to_vec().ok()
}

async fn forward(packet: &[u8], upstreams: &[SocketAddr]) -> Option<Vec<u8>> {
    for up in upstreams {
        let bind: SocketAddr = if up.is_ipv4() {
            "0.0.0.0:0".parse().ok()?
        } else {
            "[::]:0".parse().ok()?
        };
        let Ok(sock) = UdpSocket::bind(bind).await else {
            continue;
        };
        if sock.send_to(packet, up).await.is_err() {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        if let Ok(Ok((n, from))) =
            tokio::time::timeout(UPSTREAM_TIMEOUT, sock.recv_from(&mut buf)).await
        {
            if from == *up {
                buf.truncate(n);
                return Some(buf);
            }
        }
    }
    // No upstream answered: SERVFAIL rather than silence, so clients fail fast.
    let query = Message::from_vec(packet).ok()?;
    reply(&query, ResponseCode::ServFail, None)
}

/// The host's resolvers, from `/etc/resolv.conf` (port 53).
pub fn host_resolvers() -> Vec<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    parse_resolv_conf(&text)
}

pub(crate) fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// The search domains of the host (`search` line of `/etc/resolv.conf`).
pub(crate) fn host_search_domains() -> Vec<String> {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("search"))
        .flat_map(|rest| {
            rest.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_is_parsed() {
        let got = parse_resolv_conf("# x\nnameserver 10.0.0.53\nnameserver ::1\nsearch corp\n");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].to_string(), "10.0.0.53:53");
    }
}
