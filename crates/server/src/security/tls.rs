//! TLS for the listeners, with rustls: the server's certificate and key, and the CA
//! client certificates must chain to (mutual TLS). Each new connection takes the config
//! in force, so a certificate rotated on disk is used from the next connection on,
//! without a restart; connections already open keep theirs.

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::SystemTime,
};

use arc_swap::ArcSwap;
use rustls::{
    RootCertStore, ServerConfig,
    crypto::ring,
    pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, pem::PemObject},
    server::WebPkiClientVerifier,
};
use switchboard_config::security::TlsFiles;

use super::{SecurityError, modified};

/// The TLS config in force and the files it came from.
#[derive(Debug)]
pub(crate) struct Tls {
    files: TlsFiles,
    /// Client certificates are optional when tokens may identify callers instead.
    optional_client_certs: bool,
    config: ArcSwap<ServerConfig>,
    stamps: Mutex<[Option<SystemTime>; 4]>,
}

impl Tls {
    pub(crate) fn load(
        files: &TlsFiles,
        optional_client_certs: bool,
    ) -> Result<Tls, SecurityError> {
        let stamps = stamps(files);
        let config = build(files, optional_client_certs)?;
        Ok(Tls {
            files: files.clone(),
            optional_client_certs,
            config: ArcSwap::from_pointee(config),
            stamps: Mutex::new(stamps),
        })
    }

    /// The config for a new connection.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.load_full())
    }

    /// The config for a new connection to the metrics port, which speaks HTTP/1.1.
    pub(crate) fn http1_acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let mut config = ServerConfig::clone(&self.config.load());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    }

    /// Builds the config again when a file changed; one that cannot be used is logged
    /// and the running one stays.
    pub(crate) fn reload_changed(&self) {
        let now = stamps(&self.files);
        let mut seen = self.stamps.lock().unwrap_or_else(|e| e.into_inner());
        if *seen == now {
            return;
        }
        match build(&self.files, self.optional_client_certs) {
            Ok(config) => {
                *seen = now;
                self.config.store(Arc::new(config));
                tracing::info!(cert = %self.files.cert.display(), "TLS certificate read again: new connections use it");
            }
            // A certificate and its key are rarely replaced in one step: keep trying
            // (the stamps stay as they were) and say so at each attempt.
            Err(e) => {
                tracing::error!(error = %e, "TLS files refused; new connections keep the certificate read before")
            }
        }
    }
}

fn stamps(files: &TlsFiles) -> [Option<SystemTime>; 4] {
    [
        modified(&files.cert),
        modified(&files.key),
        files.client_ca.as_deref().and_then(modified),
        files.client_crl.as_deref().and_then(modified),
    ]
}

fn problem(path: &Path, problem: impl std::fmt::Display) -> SecurityError {
    SecurityError::Tls {
        path: path.display().to_string(),
        problem: problem.to_string(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, SecurityError> {
    std::fs::read(path).map_err(|e| problem(path, e))
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, SecurityError> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| problem(path, format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(problem(path, "no certificate in the file (PEM expected)"));
    }
    Ok(certs)
}

/// A rustls server config from the files: TLS 1.3 and 1.2, HTTP/2 by ALPN.
pub(crate) fn build(
    files: &TlsFiles,
    optional_client_certs: bool,
) -> Result<ServerConfig, SecurityError> {
    let chain = certificates(&files.cert)?;
    let key = PrivateKeyDer::from_pem_slice(&read(&files.key)?).map_err(|e| {
        problem(
            &files.key,
            format!("no private key in the file (PEM expected): {e}"),
        )
    })?;
    let provider = Arc::new(ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| problem(&files.cert, e))?;
    let builder = match &files.client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(ca)? {
                roots
                    .add(cert)
                    .map_err(|e| problem(ca, format!("not a CA certificate: {e}")))?;
            }
            let mut verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            if let Some(path) = &files.client_crl {
                let pem = read(path)?;
                let crls = CertificateRevocationListDer::pem_slice_iter(&pem)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| problem(path, format!("not PEM revocation lists: {e}")))?;
                if crls.is_empty() {
                    return Err(problem(
                        path,
                        "no revocation list in the file (PEM expected)",
                    ));
                }
                verifier = verifier.with_crls(crls);
            }
            let verifier = if optional_client_certs {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| problem(ca, e))?)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| {
        problem(
            &files.key,
            format!("does not go with {}: {e}", files.cert.display()),
        )
    })?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// A listener for HTTP/1.1 over TLS (the metrics port): handshakes run in tasks of their
/// own, bounded in time, and the certificate is read again when its files change.
#[derive(Debug)]
pub(crate) struct Listener {
    local: std::io::Result<std::net::SocketAddr>,
    ready: tokio::sync::mpsc::Receiver<(
        tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
        std::net::SocketAddr,
    )>,
}

/// Connections waiting for the server to take them after their handshake.
const HANDSHAKEN: usize = 64;

impl Listener {
    pub(crate) fn new(listener: tokio::net::TcpListener, tls: Tls) -> Listener {
        let local = listener.local_addr();
        let (tx, ready) = tokio::sync::mpsc::channel(HANDSHAKEN);
        let tls = Arc::new(tls);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                let (stream, remote) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::warn!(error = %e, "metrics port cannot accept; pausing");
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                            continue;
                        }
                    },
                    _ = tick.tick() => {
                        let tls = Arc::clone(&tls);
                        let _ = tokio::task::spawn_blocking(move || tls.reload_changed()).await;
                        continue;
                    }
                    () = tx.closed() => return,
                };
                let (acceptor, tx) = (tls.http1_acceptor(), tx.clone());
                tokio::spawn(async move {
                    let timeout = std::time::Duration::from_secs(10);
                    if let Ok(Ok(s)) = tokio::time::timeout(timeout, acceptor.accept(stream)).await
                    {
                        let _ = tx.send((s, remote)).await;
                    }
                });
            }
        });
        Listener { local, ready }
    }
}

impl axum::serve::Listener for Listener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept task is gone only with the runtime.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        match &self.local {
            Ok(a) => Ok(*a),
            Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
        }
    }
}

/// The names a client certificate goes by, in the order identities are looked up: its
/// DNS and URI subject alternative names, then its subject's common name.
pub(crate) fn names(cert: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::{extensions::GeneralName, prelude::FromDer};
    let Ok((_, cert)) = x509_parser::certificate::X509Certificate::from_der(cert) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(n) | GeneralName::URI(n) => out.push((*n).to_owned()),
                _ => {}
            }
        }
    }
    for cn in cert.subject().iter_common_name() {
        if let Ok(cn) = cn.as_str() {
            out.push(cn.to_owned());
        }
    }
    out
}
