//! A local S3 server over a folder (s3s-fs, SigV4 with fixed keys), for the S3
//! benchmark: `cargo run --release --example s3_server -- ROOT PORT`. Each directory
//! under ROOT is a bucket. Credentials: AKTEST / SKTEST.

use hyper_util::rt::{TokioExecutor, TokioIo};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(root), Some(port)) = (args.next(), args.next()) else {
        eprintln!("usage: s3_server ROOT PORT");
        std::process::exit(2);
    };
    let port: u16 = port.parse().expect("a port number");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let fs = s3s_fs::FileSystem::new(&root).expect("ROOT is a directory");
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single("AKTEST", "SKTEST"));
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("the port is free");
        eprintln!("s3_server: http://127.0.0.1:{port} over {root}");
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
    });
}
