//! The TLS load client: `tls-echo` and `https`, one blocking rustls connection per
//! thread doing the same request/reply cycle as the plain client (`Reply` checks the
//! replies, `Tally` counts them). The server's certificate is accepted whatever it is:
//! the benchmark measures the servers' record layer, not certificate checks.

#[cfg(feature = "tls")]
pub use with_tls::{client_config, client_thread};
#[cfg(not(feature = "tls"))]
pub use without_tls::{client_config, client_thread};

#[cfg(not(feature = "tls"))]
mod without_tls {
    use std::net::SocketAddr;
    use std::sync::atomic::AtomicBool;

    /// No TLS configuration can exist without the `tls` feature.
    #[derive(Clone)]
    pub enum Config {}

    pub fn client_config() -> Result<Config, String> {
        Err("this netload was built without TLS: cargo build --features tls".into())
    }

    pub fn client_thread(
        _: SocketAddr,
        _: usize,
        _: Config,
        _: &crate::Plan,
        _: &AtomicBool,
    ) -> Result<crate::Tally, String> {
        Err("this netload was built without TLS".into())
    }
}

#[cfg(feature = "tls")]
mod with_tls {
    use std::io::{ErrorKind, Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

    use crate::{Plan, Reply, Tally, READ_CHUNK};

    pub type Config = Arc<ClientConfig>;

    /// Accepts any certificate; signatures are still checked, so the handshake is real.
    #[derive(Debug)]
    struct AnyCertificate(Arc<CryptoProvider>);

    impl ServerCertVerifier for AnyCertificate {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            let algs = &self.0.signature_verification_algorithms;
            verify_tls12_signature(message, cert, dss, algs)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            let algs = &self.0.signature_verification_algorithms;
            verify_tls13_signature(message, cert, dss, algs)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    pub fn client_config() -> Result<Config, String> {
        let provider = Arc::new(ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS config: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        Ok(Arc::new(config))
    }

    /// One connection, one request in flight, until `plan.end`.
    pub fn client_thread(
        addr: SocketAddr,
        index: usize,
        config: Config,
        plan: &Plan,
        failed: &AtomicBool,
    ) -> Result<Tally, String> {
        let mut tally = Tally::default();
        let result = run(addr, config, plan, failed, &mut tally);
        result.map(|()| tally).map_err(|e| {
            failed.store(true, Ordering::Relaxed);
            format!("connection {index}: {e}")
        })
    }

    fn run(
        addr: SocketAddr,
        config: Config,
        plan: &Plan,
        failed: &AtomicBool,
        tally: &mut Tally,
    ) -> Result<(), String> {
        let mut tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
        let mut conn = ClientConnection::new(config, name).map_err(|e| format!("TLS: {e}"))?;
        // The handshake first, with a generous limit (many connections handshake at once
        // against a busy server), then short waits that notice the end of the run.
        tcp.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp)
                .map_err(|e| format!("TLS handshake: {e}"))?;
        }
        tcp.set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        let mut scratch = vec![0u8; READ_CHUNK];
        let mut reply = Reply::default();
        while Instant::now() < plan.end && !failed.load(Ordering::Relaxed) {
            let started = Instant::now();
            stream
                .write_all(plan.request)
                .and_then(|()| stream.flush())
                .map_err(|e| format!("write: {e}"))?;
            let bytes = loop {
                let n = match stream.read(&mut scratch) {
                    Ok(0) => return Err("server closed the connection".into()),
                    Ok(n) => n,
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        if Instant::now() >= plan.end || failed.load(Ordering::Relaxed) {
                            return Ok(());
                        }
                        continue;
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(format!("read: {e}")),
                };
                let got = reply.take(plan.proto, &scratch[..n], plan.request);
                if let Some(bytes) = got.map_err(|e| e.to_string())? {
                    break bytes;
                }
            };
            tally.record(plan, started, Instant::now(), bytes);
        }
        Ok(())
    }
}
