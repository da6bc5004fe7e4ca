//! Host firewall rules that keep sessions apart.
//!
//! Every session namespace reaches the host through one veth whose host end is named
//! `hy{prefix}{slot}`, so a handful of wildcard rules cover every session, now and later;
//! nothing is added per session, so nothing can leak per session either:
//!
//! - `FORWARD`: session → session dropped (any session of any host prefix: `hy+`), and
//!   so is anything from a session addressed to this host's session ranges (they are not
//!   routed on the host, so it would otherwise leave through the host's uplink), and so
//!   is link-local traffic (`169.254.0.0/16`: cloud metadata services); new connections into a session dropped;
//!   replies into a session accepted; session → anywhere else accepted (egress).
//! - `INPUT`: a session reaches no service of the host (replies to the host's own
//!   connections excepted, and TCP ports the operator allows, such as a local proxy).
//! - `nat POSTROUTING`: egress is masqueraded behind the host's address.
//!
//! The rules live in chains of their own (`{PREFIX}-HYDRA-FWD`, `-IN`, `-NAT`), jumped to
//! from the built-in chains, re-created from scratch at every start and removed by
//! [`remove`].

use crate::docker::engine::HOST_VETH_MARK;
use crate::docker::sys::run;
use crate::{Result, Subnet};

/// The chains of one host prefix.
#[derive(Debug, Clone)]
pub(crate) struct Chains {
    fwd: String,
    input: String,
    nat: String,
    iface: String,
    any_session: String,
}

impl Chains {
    pub(crate) fn new(prefix: &str) -> Self {
        let p = prefix.to_uppercase();
        Chains {
            fwd: format!("{p}-HYDRA-FWD"),
            input: format!("{p}-HYDRA-IN"),
            nat: format!("{p}-HYDRA-NAT"),
            iface: format!("{HOST_VETH_MARK}{prefix}+"),
            any_session: format!("{HOST_VETH_MARK}+"),
        }
    }
}

async fn ipt(args: &[&str]) -> Result<String> {
    let mut full = vec!["-w", "5"];
    full.extend_from_slice(args);
    run("iptables", &full).await
}

async fn ensure_chain(table: &str, chain: &str, from: &str) -> Result<()> {
    if ipt(&["-t", table, "-n", "-L", chain]).await.is_err() {
        ipt(&["-t", table, "-N", chain]).await?;
    }
    ipt(&["-t", table, "-F", chain]).await?;
    if ipt(&["-t", table, "-C", from, "-j", chain]).await.is_err() {
        ipt(&["-t", table, "-I", from, "1", "-j", chain]).await?;
    }
    Ok(())
}

/// Installs (or re-installs) the rules and turns on IPv4 forwarding.
pub(crate) async fn install(
    chains: &Chains,
    uplink: Subnet,
    containers: Subnet,
    allow_host_tcp: &[u16],
) -> Result<()> {
    let i = chains.iface.as_str();
    ensure_chain("filter", &chains.fwd, "FORWARD").await?;
    let f = chains.fwd.as_str();
    ipt(&["-A", f, "-i", i, "-o", &chains.any_session, "-j", "DROP"]).await?;
    // Session networks are never routed on the host: a packet for one must not leave
    // through the host's own uplink either.
    // Link-local addresses beyond the host, cloud metadata services among them.
    ipt(&["-A", f, "-i", i, "-d", "169.254.0.0/16", "-j", "DROP"]).await?;
    for pool in [uplink, containers] {
        let pool = pool.to_string();
        ipt(&["-A", f, "-i", i, "-d", &pool, "-j", "DROP"]).await?;
    }
    let est = ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED"];
    let mut reply = vec!["-A", f, "-o", i];
    reply.extend_from_slice(&est);
    reply.extend_from_slice(&["-j", "ACCEPT"]);
    ipt(&reply).await?;
    ipt(&["-A", f, "-o", i, "-j", "DROP"]).await?;
    ipt(&["-A", f, "-i", i, "-j", "ACCEPT"]).await?;

    ensure_chain("filter", &chains.input, "INPUT").await?;
    let n = chains.input.as_str();
    let mut reply = vec!["-A", n, "-i", i];
    reply.extend_from_slice(&est);
    reply.extend_from_slice(&["-j", "ACCEPT"]);
    ipt(&reply).await?;
    for port in allow_host_tcp {
        let port = port.to_string();
        ipt(&[
            "-A", n, "-i", i, "-p", "tcp", "--dport", &port, "-j", "ACCEPT",
        ])
        .await?;
    }
    ipt(&["-A", n, "-i", i, "-j", "DROP"]).await?;

    ensure_chain("nat", &chains.nat, "POSTROUTING").await?;
    let src = uplink.to_string();
    ipt(&[
        "-t",
        "nat",
        "-A",
        &chains.nat,
        "-s",
        &src,
        "!",
        "-o",
        i,
        "-j",
        "MASQUERADE",
    ])
    .await?;

    std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")
        .map_err(crate::HydraError::io("enable net.ipv4.ip_forward"))?;
    Ok(())
}

/// Removes the jumps and the chains (used by tests and `helix sandbox-host --uninstall`).
pub(crate) async fn remove(chains: &Chains) -> Result<()> {
    for (table, chain, from) in [
        ("filter", &chains.fwd, "FORWARD"),
        ("filter", &chains.input, "INPUT"),
        ("nat", &chains.nat, "POSTROUTING"),
    ] {
        while ipt(&["-t", table, "-D", from, "-j", chain]).await.is_ok() {}
        let _ = ipt(&["-t", table, "-F", chain]).await;
        let _ = ipt(&["-t", table, "-X", chain]).await;
    }
    Ok(())
}
