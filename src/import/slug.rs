//! Which slug an imported thread gets: by default the path of the post's address, as the
//! embed sends it (`location.pathname`).

use crate::domain::Slug;

#[derive(Debug, Clone)]
pub enum SlugRule {
    /// The URL's path (`/2019/hello/`), percent-decoded; a bare path is taken as it is.
    Path,
    /// The whole URL as the source has it.
    Url,
    /// A regular expression on the whole URL and its replacement (`$1` for groups).
    Regex(regex::Regex, String),
}

impl std::str::FromStr for SlugRule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "path" => Ok(SlugRule::Path),
            "url" => Ok(SlugRule::Url),
            _ => {
                let Some(rule) = s.strip_prefix("regex:") else {
                    return Err("use path, url or regex:PATTERN=REPLACEMENT".into());
                };
                // The last `=` splits, so a pattern may hold `=` (a replacement cannot).
                let Some((pattern, replacement)) = rule.rsplit_once('=') else {
                    return Err("regex: needs PATTERN=REPLACEMENT".into());
                };
                let re = regex::Regex::new(pattern).map_err(|e| format!("bad pattern: {e}"))?;
                Ok(SlugRule::Regex(re, replacement.to_owned()))
            }
        }
    }
}

impl SlugRule {
    /// The slug for a post at `url`; an error says why there is none.
    pub fn apply(&self, url: &str) -> Result<Slug, String> {
        let raw = match self {
            SlugRule::Url => url.trim().to_owned(),
            SlugRule::Path => path_of(url),
            SlugRule::Regex(re, replacement) => {
                if !re.is_match(url) {
                    return Err(format!("the slug pattern does not match {url}"));
                }
                re.replace(url, replacement.as_str()).into_owned()
            }
        };
        Slug::parse(&raw).map_err(|e| format!("no usable slug from {url}: {}", e.message))
    }
}

/// The path of an address, percent-decoded (`/caf%C3%A9/` → `/café/`).
fn path_of(url: &str) -> String {
    let t = url.trim();
    let path = match url::Url::parse(t) {
        Ok(u) if u.has_host() => u.path().to_owned(),
        // A bare path (Isso keeps those): drop a query or fragment.
        _ => t.split(['?', '#']).next().unwrap_or("").to_owned(),
    };
    percent_encoding::percent_decode_str(&path)
        .decode_utf8()
        .map(|s| s.into_owned())
        .unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_from_paths_urls_and_patterns() {
        let path: SlugRule = "path".parse().unwrap();
        assert_eq!(
            path.apply("https://blog.example/caf%C3%A9/?x=1#c")
                .unwrap()
                .as_str(),
            "/café/"
        );
        assert_eq!(path.apply("/2019/hello/").unwrap().as_str(), "/2019/hello/");
        let url: SlugRule = "url".parse().unwrap();
        assert_eq!(
            url.apply("https://b.example/a/").unwrap().as_str(),
            "https://b.example/a/"
        );
        let re: SlugRule = r"regex:^https?://[^/]+/(\d+)/(.*)$=/posts/$2"
            .parse()
            .unwrap();
        assert_eq!(
            re.apply("https://b.example/2019/hi/").unwrap().as_str(),
            "/posts/hi/"
        );
        assert!(re.apply("https://b.example/about/").is_err());
        assert!("regex:(=x".parse::<SlugRule>().is_err());
        assert!("title".parse::<SlugRule>().is_err());
    }
}
