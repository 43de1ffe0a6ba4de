//! `netload http-echo-server [--host 127.0.0.1] [--port 0] [--cert PEM --key PEM]`: the
//! keep-alive HTTP/1.1 server of benches/http_client_bench.py, plain or, with `--cert`
//! and `--key` (built with `--features tls`), over TLS (rustls, ALPN `http/1.1`).
//!
//! One thread per connection, blocking sockets. A request with a `Content-Length` body
//! gets that body back (`200`, the same length); one without a body gets the
//! `Hello, World!` response of `http-server`. `Expect: 100-continue` is answered;
//! chunked request bodies are refused (`501`, then the connection is closed). Prints
//! `{"port": N}` once listening and serves until killed.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpListener;

use crate::{bad_data, find, Opts, HTTP_RESPONSE, MAX_HEAD, READ_CHUNK};

pub fn serve(opts: &Opts) -> Result<(), String> {
    let host = opts.str_or("host", "127.0.0.1");
    let port: u16 = opts.num("port", Some(0))?;
    let tls = match (opts.0.get("cert"), opts.0.get("key")) {
        (Some(cert), Some(key)) => Some(tls::server_config(cert, key)?),
        (None, None) => None,
        _ => return Err("--cert and --key go together".into()),
    };
    let listener =
        TcpListener::bind((host, port)).map_err(|e| format!("bind {host}:{port}: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("listen: {e}"))?
        .port();
    println!("{{\"port\": {port}}}");
    io::stdout().flush().map_err(|e| format!("stdout: {e}"))?;
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                eprintln!("netload: accept: {e}");
                continue;
            }
        };
        let tls = tls.clone();
        std::thread::spawn(move || {
            let result = stream.set_nodelay(true).and_then(|()| match tls {
                None => answer(stream),
                Some(config) => answer(tls::wrap(config, stream)?),
            });
            match result {
                // A client that goes away, even mid-request, is the end of its run.
                Err(e)
                    if !matches!(
                        e.kind(),
                        ErrorKind::UnexpectedEof
                            | ErrorKind::ConnectionReset
                            | ErrorKind::BrokenPipe
                    ) =>
                {
                    eprintln!("netload: connection: {e}")
                }
                _ => {}
            }
        });
    }
    Ok(())
}

/// Answer requests on one connection until the client closes it.
fn answer<S: Read + Write>(mut s: S) -> io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK); // received, not yet answered
    let mut out: Vec<u8> = Vec::new();
    let mut scratch = vec![0u8; READ_CHUNK];
    loop {
        let head_end = loop {
            if let Some(at) = find(&buf, b"\r\n\r\n") {
                break at;
            }
            if buf.len() > MAX_HEAD {
                return Err(bad_data("request head longer than 64 KiB".into()));
            }
            let n = s.read(&mut scratch)?;
            if n == 0 {
                return Ok(()); // closed (between requests, or else the client gave up)
            }
            buf.extend_from_slice(&scratch[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let (mut length, mut close) = (0usize, false);
        for line in head.split("\r\n").skip(1) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("content-length") {
                length = value
                    .parse()
                    .map_err(|_| bad_data(format!("bad Content-Length {value:?}")))?;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                s.write_all(b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
                return s.flush();
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            } else if name.eq_ignore_ascii_case("expect")
                && value.eq_ignore_ascii_case("100-continue")
            {
                s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
                s.flush()?;
            }
        }
        let total = head_end + 4 + length;
        if buf.len() < total {
            let have = buf.len();
            buf.resize(total, 0);
            s.read_exact(&mut buf[have..])?;
        }
        out.clear();
        if length == 0 {
            out.extend_from_slice(HTTP_RESPONSE);
        } else {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                 Content-Length: {length}\r\n\r\n"
            )?;
            out.extend_from_slice(&buf[head_end + 4..total]);
        }
        s.write_all(&out)?;
        s.flush()?;
        if close {
            return Ok(());
        }
        buf.drain(..total);
    }
}

#[cfg(feature = "tls")]
mod tls {
    use std::io;
    use std::net::TcpStream;
    use std::sync::Arc;

    use rustls::crypto::ring;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use rustls::{ServerConfig, ServerConnection, StreamOwned};

    pub type Config = Arc<ServerConfig>;

    pub fn server_config(cert: &str, key: &str) -> Result<Config, String> {
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("--cert {cert}: {e}"))?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("--key {key}: {e}"))?;
        let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
            .map_err(|e| format!("TLS config: {e}"))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    pub fn wrap(
        config: Config,
        tcp: TcpStream,
    ) -> io::Result<StreamOwned<ServerConnection, TcpStream>> {
        let conn = ServerConnection::new(config).map_err(io::Error::other)?;
        Ok(StreamOwned::new(conn, tcp))
    }
}

#[cfg(not(feature = "tls"))]
mod tls {
    use std::io;
    use std::net::TcpStream;

    /// No TLS configuration can exist without the `tls` feature.
    #[derive(Clone)]
    pub enum Config {}

    pub fn server_config(_: &str, _: &str) -> Result<Config, String> {
        Err("this netload was built without TLS: cargo build --features tls".into())
    }

    pub fn wrap(config: Config, _: TcpStream) -> io::Result<TcpStream> {
        match config {}
    }
}
