//! The Tokio peer for the I/O benchmarks: TCP echo and HTTP plaintext
//! servers, one task per connection. `weft-tokio-io echo|http PORT WORKERS`
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nServer: weft\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

async fn echo(mut s: TcpStream) {
    let mut buf = vec![0u8; 16384];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if s.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

// Hand-rolled HTTP/1.1 (as the C and Go peers): count request ends, answer
// each, one write per read.
async fn http(mut s: TcpStream) {
    let mut buf = vec![0u8; 8192];
    let mut tail: Vec<u8> = Vec::new();
    let mut out: Vec<u8> = Vec::new();
    loop {
        let n = match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        tail.extend_from_slice(&buf[..n]);
        let mut start = 0;
        while let Some(pos) = tail[start..].windows(4).position(|w| w == b"\r\n\r\n") {
            out.extend_from_slice(RESPONSE);
            start += pos + 4;
        }
        tail.drain(..start);
        if !out.is_empty() {
            if s.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args[1].clone();
    let port: u16 = args[2].parse().unwrap();
    let workers: usize = args.get(3).map(|w| w.parse().unwrap()).unwrap_or(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let ln = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        println!("ready");
        loop {
            let (s, _) = match ln.accept().await {
                Ok(x) => x,
                Err(_) => continue,
            };
            let _ = s.set_nodelay(true);
            if mode == "http" {
                tokio::spawn(http(s));
            } else {
                tokio::spawn(echo(s));
            }
        }
    });
}
