//! The thread as HTML, for pages that show comments without JavaScript (and for search
//! engines): the markup of the embed (same classes, so its stylesheet fits and it can take
//! the section over), schema.org `Comment` microdata, and plain forms.
//!
//! The words are the embed's own: `embed/src/i18n.js` is read at start-up, so both speak
//! the same five languages with one list to translate.

use std::collections::HashMap;
use std::sync::LazyLock;

use askama::Template;

use crate::view::{CommentJson, ThreadPage};

const I18N_JS: &str = include_str!("../embed/src/i18n.js");

/// The languages of the embed, English first (the fallback).
pub const LANGS: [&str; 5] = ["en", "de", "fr", "es", "zh"];

/// What the embed's strings cannot say: the pages a plain form answers with.
const PAGE_WORDS: [(&str, [&str; 3]); 5] = [
    (
        "en",
        [
            "Back to the page",
            "Your comment could not be posted",
            "Your comment",
        ],
    ),
    (
        "de",
        [
            "Zurück zur Seite",
            "Ihr Kommentar konnte nicht gesendet werden",
            "Ihr Kommentar",
        ],
    ),
    (
        "fr",
        [
            "Retour à la page",
            "Votre commentaire n’a pas pu être publié",
            "Votre commentaire",
        ],
    ),
    (
        "es",
        [
            "Volver a la página",
            "No se pudo publicar tu comentario",
            "Tu comentario",
        ],
    ),
    ("zh", ["返回页面", "评论未能发布", "你的评论"]),
];

type Table = HashMap<&'static str, HashMap<&'static str, &'static str>>;

/// `KEYS` and the `RAW` texts of `i18n.js`: a line per key, in the order of `KEYS`.
fn parse_i18n(src: &'static str) -> Table {
    let mut out = Table::new();
    let keys: Vec<&str> = src
        .split_once("export const KEYS = (")
        .and_then(|(_, rest)| rest.split_once(").split"))
        .map(|(list, _)| {
            list.split('\'')
                .skip(1)
                .step_by(2)
                .flat_map(str::split_whitespace)
                .collect()
        })
        .unwrap_or_default();
    for lang in LANGS {
        let opening = format!("\n  {lang}: `");
        let Some((_, rest)) = src.split_once(opening.as_str()) else {
            continue;
        };
        let Some((text, _)) = rest.split_once('`') else {
            continue;
        };
        let words = keys.iter().copied().zip(text.split('\n')).collect();
        out.insert(lang, words);
    }
    out
}

static WORDS: LazyLock<Table> = LazyLock::new(|| parse_i18n(I18N_JS));

/// `lang` if the embed speaks it.
pub fn known(lang: &str) -> Option<&'static str> {
    LANGS.iter().copied().find(|l| *l == lang)
}

/// The words of one language.
#[derive(Clone, Copy)]
pub struct Words {
    pub lang: &'static str,
}

impl Words {
    pub fn new(lang: &str) -> Words {
        Words {
            lang: known(lang).unwrap_or("en"),
        }
    }

    /// The string of `key`, English when this language lacks it.
    pub fn get(&self, key: &str) -> &'static str {
        let of = |lang: &str| WORDS.get(lang).and_then(|w| w.get(key)).copied();
        of(self.lang).or_else(|| of("en")).unwrap_or("")
    }

    /// `key` with `{name}` placeholders filled.
    pub fn fill(&self, key: &str, values: &[(&str, &str)]) -> String {
        let mut s = self.get(key).to_owned();
        for (k, v) in values {
            s = s.replace(&format!("{{{k}}}"), v);
        }
        s
    }

    /// A plural string ("one|other", "one|many|other") for `n`.
    pub fn plural(&self, key: &str, n: i64) -> String {
        let forms: Vec<&str> = self.get(key).split('|').collect();
        let one = match self.lang {
            "fr" => n == 0 || n == 1,
            "zh" => false,
            _ => n == 1,
        };
        let many = self.lang == "fr" && n != 0 && n % 1_000_000 == 0;
        let form = match forms.as_slice() {
            [o, _, ..] if one => o,
            [_, m, _] if many => m,
            [.., other] => other,
            [] => "",
        };
        form.replace("{n}", &n.to_string())
    }

    fn page_word(&self, i: usize) -> &'static str {
        PAGE_WORDS
            .iter()
            .find(|(l, _)| *l == self.lang)
            .map_or(PAGE_WORDS[0].1[i], |(_, w)| w[i])
    }

    pub fn back(&self) -> &'static str {
        self.page_word(0)
    }

    pub fn not_posted(&self) -> &'static str {
        self.page_word(1)
    }

    pub fn your_comment(&self) -> &'static str {
        self.page_word(2)
    }
}

/// FNV-1a over UTF-16 code units, as `embed/src/avatar.js` computes it.
fn fnv(s: &str, salt: u32) -> u32 {
    let mut h: u32 = 0x811c_9dc5 ^ salt;
    for unit in s.encode_utf16() {
        h = (h ^ u32::from(unit)).wrapping_mul(0x0100_0193);
    }
    h
}

/// The identicon of `avatar.js`: the SVG path of its cells and its hue.
pub fn avatar(seed: &str) -> (String, u32) {
    let bits = fnv(seed, 0);
    let mut cells = [false; 25];
    for (i, cell) in cells.iter_mut().enumerate() {
        let x = i % 5;
        let col = if x < 3 { x } else { 4 - x };
        *cell = (bits >> ((i / 5) * 3 + col)) & 1 == 1;
    }
    if !cells.contains(&true) {
        cells[12] = true;
    }
    let path = cells
        .iter()
        .enumerate()
        .filter(|(_, on)| **on)
        .map(|(i, _)| format!("M{} {}h1v1h-1z", i % 5, i / 5))
        .collect();
    (path, fnv(seed, 0x5bd1_e995) % 360)
}

/// The embed nests replies this deep; deeper ones sit flat at the last level.
pub const MAX_DEPTH: usize = 3;

/// A plain comment form: the page's main one, or a reply form.
#[derive(Template)]
#[template(path = "fragment_form.html")]
pub struct FormView {
    /// Prefix of the fields' ids: unique in the page.
    pub idp: String,
    pub action: String,
    pub words: Words,
    pub notify: bool,
    pub token: String,
    pub back: Option<String>,
    pub title: Option<String>,
    pub parent: Option<i64>,
    /// What the reader wrote, kept when the server refused it.
    pub body: String,
    pub author: String,
    pub email: String,
    pub website: String,
    pub notify_checked: bool,
    pub error: String,
}

/// What every form of a fragment shares.
pub struct FormSpec {
    pub action: String,
    pub notify: bool,
    pub token: String,
    pub back: Option<String>,
    pub title: Option<String>,
}

impl FormSpec {
    pub fn form(&self, words: Words, idp: String, parent: Option<i64>) -> FormView {
        FormView {
            idp,
            action: self.action.clone(),
            words,
            notify: self.notify,
            token: self.token.clone(),
            back: self.back.clone(),
            title: self.title.clone(),
            parent,
            body: String::new(),
            author: String::new(),
            email: String::new(),
            website: String::new(),
            notify_checked: false,
            error: String::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "fragment_comment.html")]
pub struct CommentView {
    pub id: i64,
    pub words: Words,
    pub deleted: bool,
    /// A reply (nested in its parent's microdata).
    pub reply: bool,
    pub author: String,
    pub website: Option<String>,
    pub moderator: bool,
    pub avatar_path: String,
    pub hue: u32,
    pub html: String,
    pub created_at: String,
    pub date: String,
    pub edited: bool,
    pub reply_to: Option<(i64, String)>,
    pub reactions: Vec<(String, i64)>,
    pub form: Option<FormView>,
    pub replies: Vec<CommentView>,
}

#[derive(Template)]
#[template(path = "fragment.html")]
pub struct FragmentView {
    pub words: Words,
    pub base: String,
    pub heading: String,
    pub locked: bool,
    pub post_reactions: Vec<(String, i64)>,
    pub form: Option<FormView>,
    pub comments: Vec<CommentView>,
    pub more: Option<String>,
    /// The page as the JSON API gives it, for the embed to take over (no second fetch).
    pub data: String,
    pub sort: &'static str,
    pub theme: &'static str,
    pub token: String,
    /// The thread's Atom feed.
    pub feed: String,
}

/// Reactions with a count, in the site's order.
fn counted(
    reactions: &std::collections::BTreeMap<String, i64>,
    order: &[String],
) -> Vec<(String, i64)> {
    order
        .iter()
        .filter_map(|k| {
            reactions
                .get(k)
                .filter(|n| **n > 0)
                .map(|n| (k.clone(), *n))
        })
        .collect()
}

/// JSON safe inside a `<script>` element: no `<`, `>` or `&` to end or confuse it.
pub fn script_json(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// What a fragment needs besides the thread page.
pub struct Options<'a> {
    pub words: Words,
    pub base: &'a str,
    pub form: Option<&'a FormSpec>,
    pub more: Option<String>,
    pub sort: &'static str,
    pub theme: &'static str,
    pub feed: String,
}

/// Makes one comment's view: the comment, whether it is a reply, whom it answers (flat).
type MakeNode<'a> = dyn Fn(&CommentJson, bool, Option<(i64, String)>) -> CommentView + 'a;

/// The page of a thread as a fragment, its comments nested as the embed nests them.
pub fn build(page: &ThreadPage, data: String, o: &Options<'_>) -> FragmentView {
    let words = o.words;
    let locked = page.thread.locked;
    let by_id: HashMap<i64, &CommentJson> = page.comments.iter().map(|c| (c.id, c)).collect();
    let mut kids: HashMap<i64, Vec<&CommentJson>> = HashMap::new();
    let mut roots = Vec::new();
    for c in &page.comments {
        match c.parent_id.filter(|p| *p != c.id && by_id.contains_key(p)) {
            Some(p) => kids.entry(p).or_default().push(c),
            None => roots.push(c),
        }
    }
    for list in kids.values_mut() {
        list.sort_by_key(|c| c.id);
    }
    let order = &page.site.reactions;
    let name = |c: &CommentJson| {
        c.author
            .clone()
            .unwrap_or_else(|| words.get("anonymous").to_owned())
    };
    let node = |c: &CommentJson, reply: bool, reply_to: Option<(i64, String)>| {
        let deleted = c.status == "deleted";
        let (avatar_path, hue) = avatar(if deleted { "" } else { &c.avatar });
        CommentView {
            id: c.id,
            words,
            deleted,
            reply,
            author: name(c),
            website: c
                .website
                .clone()
                .filter(|w| w.starts_with("https://") || w.starts_with("http://")),
            moderator: c.moderator,
            avatar_path,
            hue,
            html: c.html.clone(),
            created_at: c.created_at.clone(),
            date: c.created_at.get(..10).unwrap_or_default().to_owned(),
            edited: c.edited_at.is_some(),
            reply_to,
            reactions: counted(&c.reactions, order),
            form: (!deleted && !locked)
                .then(|| {
                    o.form
                        .map(|f| f.form(words, format!("aw-r{}-", c.id), Some(c.id)))
                })
                .flatten(),
            replies: Vec::new(),
        }
    };
    // Depth first, as tree.js: children nest until MAX_DEPTH, deeper ones follow their
    // parent at the last level, saying whom they answer.
    fn place<'c>(
        c: &'c CommentJson,
        depth: usize,
        reply_to: Option<(i64, String)>,
        out: &mut Vec<CommentView>,
        kids: &HashMap<i64, Vec<&'c CommentJson>>,
        node: &MakeNode<'_>,
        name: &dyn Fn(&CommentJson) -> String,
    ) {
        let mut view = node(c, depth > 0, reply_to);
        let mut after = Vec::new();
        for kid in kids.get(&c.id).map(Vec::as_slice).unwrap_or_default() {
            if depth < MAX_DEPTH {
                place(kid, depth + 1, None, &mut view.replies, kids, node, name);
            } else {
                place(
                    kid,
                    depth,
                    Some((c.id, name(c))),
                    &mut after,
                    kids,
                    node,
                    name,
                );
            }
        }
        out.push(view);
        out.append(&mut after);
    }
    let mut comments = Vec::new();
    for r in roots {
        place(r, 0, None, &mut comments, &kids, &node, &name);
    }
    FragmentView {
        words,
        base: o.base.to_owned(),
        heading: words.plural("count", page.thread.comment_count),
        locked,
        post_reactions: counted(&page.thread.reactions, order),
        form: (!locked)
            .then(|| o.form.map(|f| f.form(words, "aw-f-".into(), None)))
            .flatten(),
        comments,
        more: o.more.clone(),
        data,
        sort: o.sort,
        theme: o.theme,
        feed: o.feed.clone(),
        token: o.form.map(|f| f.token.clone()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_key_of_the_embed() {
        for lang in LANGS {
            let w = WORDS.get(lang).expect(lang);
            assert_eq!(w.len(), WORDS["en"].len(), "{lang}");
            assert!(w.len() >= 30, "{lang}: {}", w.len());
        }
        assert_eq!(Words::new("de").get("reply"), "Antworten");
        assert_eq!(Words::new("xx").get("post"), "Post comment");
    }

    #[test]
    fn plurals_follow_the_language() {
        assert_eq!(Words::new("en").plural("count", 1), "1 comment");
        assert_eq!(Words::new("en").plural("count", 0), "0 comments");
        assert_eq!(Words::new("fr").plural("count", 0), "0 commentaire");
        assert_eq!(Words::new("de").plural("count", 2), "2 Kommentare");
    }

    #[test]
    fn identicons_match_the_embed() {
        // avatarShape('abc') and avatarPath in embed/src/avatar.js (node).
        let (path, hue) = avatar("abc");
        assert_eq!((path.as_str(), hue), (EXPECTED_ABC.0, EXPECTED_ABC.1));
    }

    const EXPECTED_ABC: (&str, u32) = (
        "M0 0h1v1h-1zM1 0h1v1h-1zM3 0h1v1h-1zM4 0h1v1h-1zM0 1h1v1h-1zM4 1h1v1h-1zM2 2h1v1h-1zM2 3h1v1h-1zM1 4h1v1h-1zM2 4h1v1h-1zM3 4h1v1h-1z",
        80,
    );

    #[test]
    fn json_cannot_close_its_script() {
        assert_eq!(
            script_json(r#"{"a":"</script><!--&"}"#),
            r#"{"a":"\u003c/script\u003e\u003c!--\u0026"}"#
        );
    }
}
