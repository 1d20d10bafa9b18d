//! The limit `benches/load.sh` compares Afterword's reads with: a bare actix-web handler
//! that answers every GET with the same bytes, from memory, with the same headers a thread
//! read carries (type, ETag, cache control, `Vary`, and the encoding when one is chosen),
//! on as many workers as the server has. No routing, no middleware, no cache lookup: what
//! is left is actix-web and the network, which no handler can beat on this machine.
//!
//!     bare_handler LISTEN PLAIN_FILE [BROTLI_FILE [GZIP_FILE]]
//!
//! A request whose `Accept-Encoding` names `br` (or else `gzip`) gets that file's bytes,
//! when given, with `Content-Encoding`. It prints `listening on ADDR` once it accepts.

use actix_web::http::header;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use bytes::Bytes;

struct Bodies {
    plain: Bytes,
    br: Option<Bytes>,
    gzip: Option<Bytes>,
}

async fn answer(req: HttpRequest, bodies: web::Data<Bodies>) -> HttpResponse {
    let accept = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (encoding, body) = match (&bodies.br, &bodies.gzip) {
        (Some(br), _) if accept.contains("br") => (Some("br"), br.clone()),
        (_, Some(gz)) if accept.contains("gzip") => (Some("gzip"), gz.clone()),
        _ => (None, bodies.plain.clone()),
    };
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::ETAG, "\"0123456789abcdef\""))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::VARY, "Accept-Encoding"));
    if let Some(e) = encoding {
        res.insert_header((header::CONTENT_ENCODING, e));
    }
    res.body(body)
}

fn read(path: &str) -> Bytes {
    std::fs::read(path)
        .map(Bytes::from)
        .unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 || args.len() > 4 {
        eprintln!("usage: bare_handler LISTEN PLAIN_FILE [BROTLI_FILE [GZIP_FILE]]");
        std::process::exit(2);
    }
    let bodies = web::Data::new(Bodies {
        plain: read(&args[1]),
        br: args.get(2).map(|p| read(p)),
        gzip: args.get(3).map(|p| read(p)),
    });
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            App::new()
                .app_data(bodies.clone())
                .default_service(web::get().to(answer))
        })
        // As the server: keep-alive 15 s, the workers actix-web picks (one per core).
        .keep_alive(std::time::Duration::from_secs(15))
        .max_connections(5_000)
        .bind(&args[0])?;
        println!("listening on {}", server.addrs()[0]);
        server.run().await
    })
}
