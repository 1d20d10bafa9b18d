//! `afterword doctor --fetch URL`: loads a blog page and checks that its embed script
//! names a configured site whose origins allow the page (the CORS check a browser makes).

use std::cell::RefCell;
use std::time::Duration;

use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

use super::Report;
use crate::config::Settings;

/// What the page holds that concerns us.
#[derive(Debug, Default)]
struct Found {
    /// `(src, data-site)` of each `<script>`.
    scripts: Vec<(String, Option<String>)>,
    /// An element with `id="afterword"`, where the comments go.
    container: bool,
}

#[derive(Default)]
struct Sink(RefCell<Found>);

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        if let Token::TagToken(Tag {
            kind: TagKind::StartTag,
            name,
            attrs,
            ..
        }) = token
        {
            let attr = |n: &str| {
                attrs
                    .iter()
                    .find(|a| &*a.name.local == n)
                    .map(|a| a.value.to_string())
            };
            let mut found = self.0.borrow_mut();
            if attr("id").as_deref() == Some("afterword") {
                found.container = true;
            }
            if &*name == "script" {
                if let Some(src) = attr("src") {
                    found.scripts.push((src, attr("data-site")));
                }
                // A script's text is not markup.
                return TokenSinkResult::RawData(html5ever::tokenizer::states::RawKind::ScriptData);
            }
        }
        TokenSinkResult::Continue
    }
}

fn parse(html: &str) -> Found {
    let tokenizer = Tokenizer::new(Sink::default(), TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(html.into());
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    tokenizer.sink.0.take()
}

pub(super) fn check(report: &mut Report, settings: &Settings, url: &str) {
    let what = format!("page {url}");
    let client = match reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(15))
        .user_agent(concat!("afterword-doctor/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            report.fail(what, format!("{e}"), "");
            return;
        }
    };
    let response = match client.get(url).send() {
        Ok(r) => r,
        Err(e) => {
            report.fail(
                what,
                format!("cannot load it: {}", super::with_causes(&e)),
                "check the address; it must be reachable from this machine",
            );
            return;
        }
    };
    let page_url = response.url().clone();
    let status = response.status();
    if !status.is_success() {
        report.fail(
            what,
            format!("answered {status}"),
            "give the address of a published post",
        );
        return;
    }
    let html = match response.text() {
        Ok(t) => t,
        Err(e) => {
            report.fail(what, format!("cannot read it: {e}"), "");
            return;
        }
    };
    let found = parse(&html);
    let ours = found.scripts.iter().find_map(|(src, site)| {
        let resolved = page_url.join(src).ok()?;
        let file = resolved.path().rsplit('/').next()?;
        matches!(file, "embed.js" | "count.js").then(|| (resolved, site.clone()))
    });
    let Some((script, site)) = ours else {
        report.fail(
            what,
            "has no Afterword script (a <script> whose src ends in /embed.js or /count.js)",
            "paste the two lines from the README (\"Add comments to your blog\") into the post template",
        );
        return;
    };
    let site = site.unwrap_or_else(|| "default".to_owned());
    let Some(settings_site) = settings.sites.get(&site) else {
        let known: Vec<&str> = settings.sites.keys().map(String::as_str).collect();
        report.fail(
            what,
            format!(
                "its script has data-site=\"{site}\", which no [[site]] declares (declared: {})",
                known.join(", ")
            ),
            "make data-site the id of one of your [[site]]s",
        );
        return;
    };
    let origin = page_url.origin().ascii_serialization();
    if !settings_site.origins.allows(&origin) {
        report.fail(
            what,
            format!("the page's origin {origin} is not among site {site}'s origins: browsers there cannot post (CORS refuses them)"),
            format!("add \"{origin}\" to the origins of [[site]] id = \"{site}\""),
        );
        return;
    }
    let script_origin = script.origin().ascii_serialization();
    if let Some(public) = &settings.public_url {
        let public = public.origin().ascii_serialization();
        if script_origin != public {
            report.warn(
                what.clone(),
                format!("its script loads from {script_origin}, but public_url is {public}"),
                "load embed.js from the address in public_url (or correct public_url)",
            );
        }
    }
    if script.path().ends_with("/embed.js") && !found.container {
        report.warn(
            what,
            "has the embed script but no element with id=\"afterword\": the comments have nowhere to go",
            "add <div id=\"afterword\"></div> where the comments should appear",
        );
        return;
    }
    report.ok(
        what,
        format!(
            "{} for site {site} from {script_origin}; the page's origin {origin} may post",
            script.path().trim_start_matches('/')
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_the_container_are_found() {
        let f = parse(
            r#"<html><body><div id="afterword"></div>
            <script>var s = "<script src='/fake.js'>";</script>
            <script src="https://c.example/embed.js" data-site="blog" async></script>"#,
        );
        assert!(f.container);
        assert_eq!(
            f.scripts,
            vec![(
                "https://c.example/embed.js".to_owned(),
                Some("blog".to_owned())
            )]
        );
    }
}
