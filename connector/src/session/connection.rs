//! Opening the byte stream to an SMSC: TCP with an optional local source address, optionally
//! wrapped in TLS (rustls; custom CA, optional client certificate), framed with
//! [`SmppCodec`].

use std::fs::File;
use std::io::BufReader;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;
use tokio_util::codec::Framed;

use crate::protocol::codec::SmppCodec;
use crds::config::{Endpoint, TlsConfig};

/// A connection to an SMSC, framed as PDUs.
pub type Transport = Framed<Stream, SmppCodec>;

/// Plain TCP or TLS over TCP.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // One per connection; boxing buys nothing.
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(TlsStream<TcpStream>),
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The host name did not resolve.
    #[error("cannot resolve {address}: {source}")]
    Resolve {
        /// `host:port`.
        address: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The local source address is not an IP address.
    #[error("invalid local address {0:?}")]
    LocalAddress(String),
    /// The TCP connection failed or timed out.
    #[error("cannot connect to {address}: {source}")]
    Connect {
        /// `host:port`.
        address: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A certificate or key file could not be read or parsed.
    #[error("TLS file {path}: {message}")]
    TlsFile {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The TLS configuration or handshake failed.
    #[error("TLS with {address}: {message}")]
    Tls {
        /// `host:port`.
        address: String,
        /// What went wrong.
        message: String,
    },
}

/// Opens a framed connection to `endpoint` within `timeout`.
pub async fn connect(
    endpoint: &Endpoint,
    max_pdu_len: u32,
    timeout: Duration,
) -> Result<Transport, ConnectError> {
    let address = endpoint.address();
    let stream = tokio::time::timeout(timeout, open(endpoint))
        .await
        .map_err(|_| ConnectError::Connect {
            address: address.clone(),
            source: std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"),
        })??;
    Ok(Framed::with_capacity(
        stream,
        SmppCodec::new(max_pdu_len),
        64 * 1024,
    ))
}

async fn open(endpoint: &Endpoint) -> Result<Stream, ConnectError> {
    let address = endpoint.address();
    let tcp = tcp_connect(endpoint).await?;
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(%address, error = %e, "cannot set TCP_NODELAY");
    }
    match endpoint.tls.as_ref().filter(|t| t.enabled) {
        None => Ok(Stream::Plain(tcp)),
        Some(tls) => {
            let config = client_config(tls).map_err(|e| match e {
                TlsSetup::File { path, message } => ConnectError::TlsFile { path, message },
                TlsSetup::Config(message) => ConnectError::Tls {
                    address: address.clone(),
                    message,
                },
            })?;
            let name = tls
                .server_name
                .clone()
                .unwrap_or_else(|| endpoint.host.clone());
            let server_name =
                ServerName::try_from(name.clone()).map_err(|e| ConnectError::Tls {
                    address: address.clone(),
                    message: format!("invalid server name {name:?}: {e}"),
                })?;
            let stream = TlsConnector::from(Arc::new(config))
                .connect(server_name, tcp)
                .await
                .map_err(|e| ConnectError::Tls {
                    address,
                    message: e.to_string(),
                })?;
            Ok(Stream::Tls(stream))
        }
    }
}

async fn tcp_connect(endpoint: &Endpoint) -> Result<TcpStream, ConnectError> {
    let address = endpoint.address();
    let local: Option<std::net::IpAddr> = match &endpoint.local_address {
        None => None,
        Some(a) => Some(
            a.parse()
                .map_err(|_| ConnectError::LocalAddress(a.clone()))?,
        ),
    };
    let targets: Vec<SocketAddr> = tokio::net::lookup_host((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|source| ConnectError::Resolve {
            address: address.clone(),
            source,
        })?
        .filter(|t| local.is_none_or(|l| l.is_ipv4() == t.is_ipv4()))
        .collect();
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no usable address");
    for target in targets {
        let attempt = async {
            let socket = if target.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            if let Some(ip) = local {
                socket.bind(SocketAddr::new(ip, 0))?;
            }
            socket.connect(target).await
        };
        match attempt.await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(ConnectError::Connect {
        address,
        source: last,
    })
}

enum TlsSetup {
    File { path: String, message: String },
    Config(String),
}

fn client_config(tls: &TlsConfig) -> Result<ClientConfig, TlsSetup> {
    let mut roots = RootCertStore::empty();
    match &tls.ca_file {
        Some(path) => {
            for cert in read_certs(path)? {
                roots.add(cert).map_err(|e| TlsSetup::File {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(native.certs);
            if added == 0 {
                return Err(TlsSetup::Config(
                    "no system CA certificates found; set tls.caFile".into(),
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetup::Config(e.to_string()))?
        .with_root_certificates(roots);
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(read_certs(cert)?, read_key(key)?)
            .map_err(|e| TlsSetup::Config(e.to_string())),
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err(TlsSetup::Config(
            "certFile and keyFile must be given together".into(),
        )),
    }
}

fn open_file(path: &str) -> Result<BufReader<File>, TlsSetup> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|e| TlsSetup::File {
            path: path.to_string(),
            message: e.to_string(),
        })
}

fn read_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, TlsSetup> {
    let certs = rustls_pemfile::certs(&mut open_file(path)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsSetup::File {
            path: path.to_string(),
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsSetup::File {
            path: path.to_string(),
            message: "no PEM certificate found".into(),
        });
    }
    Ok(certs)
}

fn read_key(path: &str) -> Result<PrivateKeyDer<'static>, TlsSetup> {
    rustls_pemfile::private_key(&mut open_file(path)?)
        .map_err(|e| TlsSetup::File {
            path: path.to_string(),
            message: e.to_string(),
        })?
        .ok_or_else(|| TlsSetup::File {
            path: path.to_string(),
            message: "no PEM private key found".into(),
        })
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }
}
