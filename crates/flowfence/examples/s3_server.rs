//! A local S3 server over a folder (s3s-fs, SigV4 with the tests' fixed keys), for the
//! S3 benchmark: `cargo run --release --example s3_server -- ROOT PORT`. Each directory
//! under ROOT is a bucket. Credentials: AKTEST / SKTEST.

// The tests' server, so the benchmark measures the same thing.
#[path = "../tests/it/s3_serve.rs"]
mod s3_serve;

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
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("the port is free");
        eprintln!("s3_server: http://127.0.0.1:{port} over {root}");
        s3_serve::serve(fs, listener).await;
    });
}
