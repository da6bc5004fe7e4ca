//! Enterprise egress: model providers reached through an HTTP CONNECT proxy, over TLS
//! with a certificate from a private CA that only SSL_CERT_FILE makes trusted; and
//! NO_PROXY honoured. (Its own test binary: it sets process environment variables.)

mod common;

use axum::http::{Method, StatusCode};
use common::fake_upstream::{router, UPSTREAM_KEY};
use common::{Caller, TestApp};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A private CA and a server certificate for localhost / 127.0.0.1 it issued.
fn private_pki() -> (String, rustls_pki::Cert, String) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Helix Test Private CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    (
        ca.pem(),
        rustls_pki::Cert {
            der: cert.der().to_vec(),
            key: key.serialize_der(),
        },
        cert.pem(),
    )
}

mod rustls_pki {
    pub struct Cert {
        pub der: Vec<u8>,
        pub key: Vec<u8>,
    }
}

/// The fake upstream over TLS on a free port; returns the port.
async fn tls_upstream(cert: rustls_pki::Cert) -> u16 {
    use tokio_rustls::rustls;
    let chain = vec![rustls::pki_types::CertificateDer::from(cert.der)];
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key.into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = router();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
            });
        }
    });
    port
}

/// An HTTP CONNECT proxy on a free port that counts the tunnels it opened.
async fn connect_proxy() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let tunnels = Arc::new(AtomicUsize::new(0));
    let counter = tunnels.clone();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut client = BufReader::new(client);
                let mut line = String::new();
                client.read_line(&mut line).await.ok()?;
                let target = line
                    .strip_prefix("CONNECT ")?
                    .split_whitespace()
                    .next()?
                    .to_owned();
                // Only loopback targets: this proxy never reaches anything else.
                if !(target.starts_with("localhost:") || target.starts_with("127.0.0.1:")) {
                    return None;
                }
                loop {
                    let mut h = String::new();
                    client.read_line(&mut h).await.ok()?;
                    if h == "\r\n" || h.is_empty() {
                        break;
                    }
                }
                let mut upstream = tokio::net::TcpStream::connect(&target).await.ok()?;
                counter.fetch_add(1, Ordering::SeqCst);
                client
                    .get_mut()
                    .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                    .await
                    .ok()?;
                let mut client = client.into_inner();
                tokio::io::copy_bidirectional(&mut client, &mut upstream)
                    .await
                    .ok()?;
                Some(())
            });
        }
    });
    (port, tunnels)
}

async fn chat_via(t: &TestApp, base_url: &str) -> common::Resp {
    let (admin, _) = t.user_with_key("root@x.io").await;
    let r = t.call(Method::POST, "/api/v1/providers", &admin,
        Some(json!({"name": "corp", "kind": "openai", "base_url": base_url, "api_key": UPSTREAM_KEY, "scope": "global"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let Caller::ApiKey(_) = &admin else {
        unreachable!()
    };
    t.call(
        Method::POST,
        "/v1/chat/completions",
        &admin,
        Some(json!({"model": "corp/m1", "messages": [{"role": "user", "content": "hi"}]})),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_through_a_proxy_with_a_private_ca() {
    let (ca_pem, server_cert, _) = private_pki();
    let tls_port = tls_upstream(server_cert).await;
    let (proxy_port, tunnels) = connect_proxy().await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("corp-ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let base_url = format!("https://localhost:{tls_port}/v1");
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
        "SSL_CERT_DIR",
    ] {
        std::env::remove_var(var);
    }

    // Without the private CA the upstream's certificate is refused.
    std::env::set_var("HTTPS_PROXY", format!("http://127.0.0.1:{proxy_port}"));
    let t = TestApp::new().await;
    let r = chat_via(&t, &base_url).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("upstream_error")),
        "{:?}",
        r.body
    );

    // With SSL_CERT_FILE the call succeeds, through the proxy.
    std::env::set_var("SSL_CERT_FILE", &ca_file);
    let before = tunnels.load(Ordering::SeqCst);
    let t = TestApp::new().await;
    let r = chat_via(&t, &base_url).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["choices"][0]["message"]["content"], "Hello");
    assert!(
        tunnels.load(Ordering::SeqCst) > before,
        "the call went through the proxy"
    );

    // NO_PROXY bypasses it.
    std::env::set_var("NO_PROXY", "localhost");
    let before = tunnels.load(Ordering::SeqCst);
    let t = TestApp::new().await;
    let r = chat_via(&t, &base_url).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        tunnels.load(Ordering::SeqCst),
        before,
        "NO_PROXY was honoured"
    );

    // A bundle that holds no certificate is refused at start, not ignored.
    std::fs::write(&ca_file, "not a certificate").unwrap();
    assert!(helix_core::egress::extra_roots().is_err());
}
