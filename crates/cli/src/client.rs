//! How the commands that ask a running server connect to it: TLS when the address is
//! `https://` (with the CA that signed the server's certificate, and a client
//! certificate for mutual TLS), and a bearer token when the server wants one.

use std::path::PathBuf;

use tonic::{
    Request, Status,
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Certificate, Channel, ClientTlsConfig, Identity},
};

#[derive(Debug, clap::Args)]
pub(crate) struct Connect {
    /// The server's gRPC address (`https://...` for a server with TLS).
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub(crate) server: String,
    /// A file holding the bearer token (from `switchboard token new`), for a server with
    /// `security.tokens`; or set SWITCHBOARD_TOKEN.
    #[arg(long)]
    token_file: Option<PathBuf>,
    #[arg(long, env = "SWITCHBOARD_TOKEN", hide = true, hide_env_values = true)]
    token: Option<String>,
    /// The CA certificate (PEM) that signed the server's certificate.
    #[arg(long)]
    ca_cert: Option<PathBuf>,
    /// A client certificate (PEM), for a server that identifies clients by them.
    #[arg(long, requires = "client_key")]
    client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, requires = "client_cert")]
    client_key: Option<PathBuf>,
}

/// Adds the bearer token, when there is one, to every request.
#[derive(Clone, Debug)]
pub(crate) struct Bearer(Option<MetadataValue<Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(v) = &self.0 {
            request.metadata_mut().insert("authorization", v.clone());
        }
        Ok(request)
    }
}

pub(crate) type Client = InterceptedService<Channel, Bearer>;

impl Connect {
    pub(crate) async fn channel(&self) -> anyhow::Result<Client> {
        let read =
            |p: &PathBuf| std::fs::read(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()));
        let token = match (&self.token_file, &self.token) {
            (Some(file), _) => Some(String::from_utf8(read(file)?)?.trim().to_owned()),
            (None, Some(t)) => Some(t.trim().to_owned()),
            (None, None) => None,
        };
        let bearer = match token {
            Some(t) => Some(
                format!("Bearer {t}")
                    .parse()
                    .map_err(|_| anyhow::anyhow!("the token is not printable text"))?,
            ),
            None => None,
        };
        let mut endpoint = Channel::from_shared(self.server.clone())
            .map_err(|e| anyhow::anyhow!("--server {}: {e}", self.server))?;
        if self.server.starts_with("https://") {
            let mut tls = ClientTlsConfig::new();
            if let Some(ca) = &self.ca_cert {
                tls = tls.ca_certificate(Certificate::from_pem(read(ca)?));
            }
            if let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) {
                tls = tls.identity(Identity::from_pem(read(cert)?, read(key)?));
            }
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| anyhow::anyhow!("TLS: {e}"))?;
        }
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach the server at {}: {e}", self.server))?;
        Ok(InterceptedService::new(channel, Bearer(bearer)))
    }
}
