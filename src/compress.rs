//! Response bodies compressed once and kept: thread pages, counts answers and the scripts
//! are sent to many readers, so each encoding is computed at most once per body.

use std::io::Write;
use std::sync::OnceLock;

use bytes::Bytes;

/// Bodies smaller than this are sent as they are: compression would gain a few bytes at most.
const MIN_SIZE: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    /// The `Content-Encoding` value, none for identity.
    pub fn header(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
        }
    }

    /// What the ETag of this representation ends with, so each encoding has its own tag.
    fn etag_suffix(self) -> &'static str {
        match self {
            Encoding::Identity => "",
            Encoding::Gzip => "-gz",
            Encoding::Brotli => "-br",
        }
    }

    /// The best encoding an `Accept-Encoding` header allows: brotli, then gzip, then none.
    /// Honours `q=0` (refused), including for `*`.
    pub fn negotiate(accept: Option<&str>) -> Encoding {
        let Some(accept) = accept else {
            return Encoding::Identity;
        };
        let (mut br, mut gzip, mut star) = (None, None, None);
        for part in accept.split(',') {
            let mut it = part.split(';');
            let name = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it
                .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
                .find_map(|v| v.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match name.as_str() {
                "br" => br = Some(q),
                "gzip" | "x-gzip" => gzip = Some(q),
                "*" => star = Some(q),
                _ => {}
            }
        }
        let br = br.or(star).unwrap_or(0.0);
        let gzip = gzip.or(star).unwrap_or(0.0);
        if br > 0.0 && br >= gzip {
            Encoding::Brotli
        } else if gzip > 0.0 {
            Encoding::Gzip
        } else {
            Encoding::Identity
        }
    }
}

/// A body to keep in memory, without the spare capacity its vector grew (serde_json, the
/// templates and the encoders double theirs as they write, so up to half of it would be
/// held unused, and uncounted by the caches' weights). Shrinking a block gives back its
/// tail in place: nothing is copied.
pub fn keep(body: impl Into<Vec<u8>>) -> Bytes {
    Bytes::from(body.into().into_boxed_slice())
}

/// How hard to work: pages built while serving use fast settings; the scripts, compressed
/// once per process, the best.
#[derive(Clone, Copy, Debug)]
pub enum Effort {
    Fast,
    Best,
}

/// One body and its compressed forms, each made on first demand.
pub struct Compressed {
    identity: Bytes,
    etag: String,
    effort: Effort,
    gzip: OnceLock<Option<Bytes>>,
    brotli: OnceLock<Option<Bytes>>,
}

impl Compressed {
    /// `etag` is the identity representation's strong tag, quotes included.
    pub fn new(identity: Bytes, etag: String, effort: Effort) -> Self {
        Compressed {
            identity,
            etag,
            effort,
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
        }
    }

    /// A body whose compressed forms were made ahead (the scripts, at their build): each
    /// is kept if it is smaller than the body, as `get` would keep its own.
    pub fn precompressed(identity: Bytes, etag: String, gzip: Bytes, brotli: Bytes) -> Self {
        let smaller = |b: Bytes| (b.len() < identity.len()).then_some(b);
        Compressed {
            gzip: OnceLock::from(smaller(gzip)),
            brotli: OnceLock::from(smaller(brotli)),
            identity,
            etag,
            effort: Effort::Best,
        }
    }

    pub fn identity(&self) -> &Bytes {
        &self.identity
    }

    /// The uncompressed body's ETag.
    pub fn etag(&self) -> &str {
        &self.etag
    }

    /// The body for `want`, or the identity body when that encoding would not pay off.
    pub fn get(&self, want: Encoding) -> (Encoding, Bytes) {
        let slot = match want {
            Encoding::Identity => return (Encoding::Identity, self.identity.clone()),
            Encoding::Gzip => &self.gzip,
            Encoding::Brotli => &self.brotli,
        };
        let made = slot.get_or_init(|| {
            if self.identity.len() < MIN_SIZE {
                return None;
            }
            let out = match want {
                Encoding::Brotli => brotli(&self.identity, self.effort),
                _ => gzip(&self.identity, self.effort),
            };
            // Already-dense bodies can grow; then identity is the better answer.
            out.filter(|b| b.len() < self.identity.len()).map(keep)
        });
        match made {
            Some(b) => (want, b.clone()),
            None => (Encoding::Identity, self.identity.clone()),
        }
    }

    /// The ETag of the representation in `encoding`.
    pub fn etag_for(&self, encoding: Encoding) -> String {
        let suffix = encoding.etag_suffix();
        if suffix.is_empty() {
            return self.etag.clone();
        }
        let inner = self.etag.trim_end_matches('"');
        format!("{inner}{suffix}\"")
    }

    /// Does an `If-None-Match` header match any representation of this body (weak comparison)?
    pub fn matches(&self, if_none_match: &str) -> bool {
        if_none_match.split(',').any(|t| {
            let t = t.trim();
            if t == "*" {
                return true;
            }
            let t = t.strip_prefix("W/").unwrap_or(t);
            let t = t.trim_matches('"');
            let t = t
                .strip_suffix("-gz")
                .or_else(|| t.strip_suffix("-br"))
                .unwrap_or(t);
            t == self.etag.trim_matches('"')
        })
    }

    /// Bytes held now or later (the compressed forms are estimated before they exist).
    pub fn weight(&self) -> usize {
        // gzip and brotli of JSON come to well under an eighth of it each.
        self.identity.len() + self.identity.len() / 4 + self.etag.len()
    }
}

fn gzip(data: &[u8], effort: Effort) -> Option<Vec<u8>> {
    let level = match effort {
        Effort::Fast => flate2::Compression::new(5),
        Effort::Best => flate2::Compression::best(),
    };
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 4), level);
    enc.write_all(data).ok()?;
    enc.finish().ok()
}

fn brotli(data: &[u8], effort: Effort) -> Option<Vec<u8>> {
    let quality = match effort {
        Effort::Fast => 5,
        Effort::Best => 11,
    };
    let mut out = Vec::with_capacity(data.len() / 4);
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, quality, 18);
        w.write_all(data).ok()?;
        w.flush().ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn negotiation_prefers_brotli_and_honours_refusals() {
        use Encoding::*;
        assert_eq!(Encoding::negotiate(None), Identity);
        assert_eq!(Encoding::negotiate(Some("gzip, deflate, br")), Brotli);
        assert_eq!(Encoding::negotiate(Some("gzip")), Gzip);
        assert_eq!(Encoding::negotiate(Some("br;q=0, gzip")), Gzip);
        assert_eq!(Encoding::negotiate(Some("gzip;q=1.0, br;q=0.5")), Gzip);
        assert_eq!(Encoding::negotiate(Some("*")), Brotli);
        assert_eq!(Encoding::negotiate(Some("*;q=0")), Identity);
        assert_eq!(Encoding::negotiate(Some("identity")), Identity);
        assert_eq!(Encoding::negotiate(Some("")), Identity);
        assert_eq!(Encoding::negotiate(Some("GZIP")), Gzip);
    }

    fn body() -> Bytes {
        Bytes::from(
            (0..200)
                .map(|i| format!("{{\"id\":{i},\"html\":\"<p>comment number {i}</p>\"}}"))
                .collect::<Vec<_>>()
                .join(","),
        )
    }

    #[test]
    fn compressed_forms_round_trip() {
        let c = Compressed::new(body(), "\"abc\"".into(), Effort::Fast);
        let (enc, gz) = c.get(Encoding::Gzip);
        assert_eq!(enc, Encoding::Gzip);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, c.identity()[..]);
        let (enc, br) = c.get(Encoding::Brotli);
        assert_eq!(enc, Encoding::Brotli);
        let mut out = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, c.identity()[..]);
        assert!(br.len() < c.identity().len() / 3);
        // Made once: the second ask returns the very same bytes.
        assert_eq!(c.get(Encoding::Brotli).1.as_ptr(), br.as_ptr());
    }

    #[test]
    fn small_bodies_stay_identity() {
        let c = Compressed::new(Bytes::from_static(b"{}"), "\"x\"".into(), Effort::Best);
        assert_eq!(c.get(Encoding::Brotli).0, Encoding::Identity);
        assert_eq!(c.get(Encoding::Gzip).0, Encoding::Identity);
    }

    #[test]
    fn etags_differ_per_encoding_and_all_match() {
        let c = Compressed::new(body(), "\"abc\"".into(), Effort::Fast);
        assert_eq!(c.etag_for(Encoding::Identity), "\"abc\"");
        assert_eq!(c.etag_for(Encoding::Gzip), "\"abc-gz\"");
        assert_eq!(c.etag_for(Encoding::Brotli), "\"abc-br\"");
        for tag in [
            "\"abc\"",
            "\"abc-gz\"",
            "W/\"abc-br\"",
            "\"zzz\", \"abc\"",
            "*",
        ] {
            assert!(c.matches(tag), "{tag}");
        }
        for tag in ["\"abd\"", "\"abc-xx\"", "abcd", ""] {
            assert!(!c.matches(tag), "{tag}");
        }
    }
}
