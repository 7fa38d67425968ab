//! Serving an S3 implementation over HTTP on 127.0.0.1, with SigV4 checked against fixed
//! keys: the S3 tests' server and the S3 benchmark's (`examples/s3_server.rs`).

use hyper_util::rt::{TokioExecutor, TokioIo};

/// The access key the server accepts.
pub(crate) const ACCESS_KEY: &str = "AKTEST";
/// Its secret.
pub(crate) const SECRET_KEY: &str = "SKTEST";

/// Answers S3 requests on `listener` with `s3` until the runtime stops.
pub(crate) async fn serve<S: s3s::S3>(s3: S, listener: tokio::net::TcpListener) {
    let mut builder = s3s::service::S3ServiceBuilder::new(s3);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    let service = builder.build();
    let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        let conn = http
            .serve_connection(TokioIo::new(socket), service.clone())
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}
