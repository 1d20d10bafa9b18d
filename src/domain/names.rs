//! Names as they are compared, so that an anonymous author cannot pose as the site's owner
//! with a name that only looks the same: "Ｓｉｔｅ Ｏｗｎｅｒ", "site\u{200B}owner",
//! "SITE  OWNER" and "ſite owner" all fold to "site owner".
//!
//! The fold: drop invisible characters (Unicode's Default_Ignorable_Code_Point — zero-width
//! characters, bidi controls, soft hyphen, variation selectors… — and every other format
//! character, general category Cf), NFKC, full case folding (ICU4X, the Unicode
//! consortium's own library), NFKC again (case folding can undo it), then whitespace
//! collapsed to single spaces and trimmed. A right-to-left override (U+202E) shows the
//! letters after it reversed, so such a name also counts as the text a reader sees (see
//! [`folds`]). Look-alikes from other scripts (a Cyrillic "А" in "Аdmin") are caught by
//! [`skeleton`]: the fold's confusable skeleton (Unicode TS #39), folded again.

use icu_casemap::CaseMapper;
use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory};
use icu_properties::{CodePointMapData, CodePointSetData};
use unicode_normalization::UnicodeNormalization;

fn invisible(c: char) -> bool {
    CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
        || CodePointMapData::<GeneralCategory>::new().get(c) == GeneralCategory::Format
}

/// The form of a name that comparisons use. Two names that fold alike are the same name.
pub fn fold(name: &str) -> String {
    // ASCII has no invisible characters, NFKC leaves it be and folds it to lower case:
    // the common case, at a tenth of the cost.
    if name.is_ascii() {
        let lower = name.to_ascii_lowercase();
        return lower.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    fold_unicode(name)
}

fn fold_unicode(name: &str) -> String {
    let visible: String = name.chars().filter(|c| !invisible(*c)).collect();
    let nfkc: String = visible.nfkc().collect();
    let folded = CaseMapper::new().fold_string(&nfkc);
    let again: String = folded.nfkc().filter(|c| !invisible(*c)).collect();
    again.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Right-to-left override, and what ends its span.
const RLO: char = '\u{202E}';
const PDF: char = '\u{202C}';
const PDI: char = '\u{2069}';

/// The name as displayed when it holds right-to-left overrides: each span from U+202E to
/// the next U+202C or U+2069 (or the end) reversed.
fn as_displayed(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut span: Option<Vec<char>> = None;
    for c in name.chars() {
        match (&mut span, c) {
            (None, RLO) => span = Some(Vec::new()),
            (Some(s), PDF | PDI) => {
                out.extend(s.iter().rev());
                span = None;
            }
            (Some(s), c) => s.push(c),
            (None, c) => out.push(c),
        }
    }
    if let Some(s) = span {
        out.extend(s.iter().rev());
    }
    out
}

/// Every form a name may be taken for: its fold, and with right-to-left overrides the fold
/// of what a reader sees. A name matches another if any of these equals the other's fold.
pub fn folds(name: &str) -> Vec<String> {
    let mut all = vec![fold(name)];
    if name.contains(RLO) {
        let shown = fold(&as_displayed(name));
        if shown != all[0] {
            all.push(shown);
        }
    }
    all
}

/// The confusable skeleton of a name (Unicode TS #39, `unicode-security`), folded, and
/// again: two names that look alike to a reader have the same one ("Аdmin" with a
/// Cyrillic А, "МОD", "admin"). Taken before case folding too, since the table pairs
/// capitals (Cyrillic М with Latin M) that fold to letters it does not pair; and again
/// after it, so that a name already folded (a reserved name) gets the same one. Coarser
/// than the fold, so compared as well as it, never instead.
pub fn skeleton(name: &str) -> String {
    let sk = |s: &str| fold(&unicode_security::skeleton(s).collect::<String>());
    sk(&sk(name))
}

/// [`skeleton`] of each form a name may be taken for (see [`folds`]), as written and
/// folded first: the table pairs a capital I with l, but its lower case with i.
pub fn skeletons(name: &str) -> Vec<String> {
    let mut all = Vec::new();
    let mut forms = vec![name.to_owned()];
    if name.contains(RLO) {
        forms.push(as_displayed(name));
    }
    for form in forms {
        for sk in [skeleton(&form), skeleton(&fold(&form))] {
            if !all.contains(&sk) {
                all.push(sk);
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::{fold, folds, skeleton, skeletons};

    #[test]
    fn look_alikes_from_other_scripts_share_a_skeleton() {
        // A reserved name is kept folded: its skeleton is the same as the original's.
        let admin = skeleton(&fold("Admin"));
        assert_eq!(skeleton("Admin"), admin);
        for variant in [
            "\u{0410}dmin",        // Cyrillic А
            "\u{0430}dm\u{0456}n", // Cyrillic а and і
            "\u{0391}dmin",        // Greek Α
            "\u{0410}DMIN",
            "Ad\u{200B}min",
            "ＡＤＭＩＮ",
            "\u{202E}nimd\u{0410}",
        ] {
            assert!(skeletons(variant).contains(&admin), "{variant:?}");
        }
        assert_eq!(skeleton("\u{041C}\u{041E}D"), skeleton("mod"));
        assert_ne!(skeleton("Adrian"), admin);
        assert_ne!(skeleton("Ada"), admin);
        let _ = folds;
    }

    #[test]
    fn look_alikes_of_one_name_fold_alike() {
        let owner = fold("Site Owner");
        assert_eq!(owner, "site owner");
        for variant in [
            "SITE OWNER",
            "site owner",
            "  Site \t Owner ",
            "Site\u{00A0}Owner",
            "Ｓｉｔｅ Ｏｗｎｅｒ",
            "ſite owner",
            "Site\u{200B} Owner",
            "S\u{200C}i\u{200D}t\u{2060}e O\u{FEFF}wner",
            "Si\u{00AD}te Owner",
            "Site Owner\u{FE0F}",
            "Site Owner\u{E0101}",
            "\u{202E}Site Owner\u{202C}",
            "\u{2067}Site Owner\u{2069}",
            "Site\u{200E} Owner\u{200F}",
            "Site\u{034F} Owner",
            "𝐒𝐢𝐭𝐞 𝐎𝐰𝐧𝐞𝐫",
            "Site\u{3000}Owner",
        ] {
            assert_eq!(fold(variant), owner, "{variant:?}");
        }
    }

    #[test]
    fn zero_width_inside_a_word_joins_it() {
        assert_eq!(fold("site\u{200B}owner"), "siteowner");
        assert_eq!(fold("site\u{200B}owner"), fold("SiteOwner"));
    }

    #[test]
    fn full_case_folding_not_just_lower_case() {
        assert_eq!(fold("STRASSE"), fold("straße"));
        assert_eq!(fold("ΣΊΣΥΦΟΣ"), fold("σίσυφος"));
        assert_eq!(fold("Ǆ"), "dž");
    }

    #[test]
    fn compatibility_forms_fold() {
        assert_eq!(fold("ﬁle"), "file");
        assert_eq!(fold("Ⓐdmin"), "admin");
        // Composed and decomposed accents are one name.
        assert_eq!(fold("Ame\u{0301}lie"), fold("Amélie"));
    }

    #[test]
    fn a_right_to_left_override_is_read_as_displayed() {
        let owner = fold("Site Owner");
        // Shown as "Site Owner".
        for trick in [
            "\u{202E}renwO etiS",
            "Site \u{202E}renwO",
            "\u{202E}etiS\u{202C} \u{202E}renwO\u{202C}",
            "\u{202E}RENWO ETIS\u{2069}",
        ] {
            assert!(
                folds(trick).contains(&owner),
                "{trick:?}: {:?}",
                folds(trick)
            );
        }
        assert_eq!(folds("Site Owner"), [owner]);
        assert_eq!(folds("renwO etiS"), ["renwo etis"]);
    }

    #[test]
    fn different_names_stay_different() {
        assert_ne!(fold("Site Owner"), fold("Site Owners"));
        assert_ne!(fold("Site Owner"), fold("Site-Owner"));
        assert_eq!(fold(""), "");
        assert_eq!(fold("\u{200B}\u{202E} "), "");
    }

    proptest::proptest! {
        /// The ASCII shortcut folds exactly as the full fold does.
        #[test]
        fn ascii_shortcut_is_the_full_fold(s in "[ -~\t\n\r\x0b\x0c\x00-\x1f\x7f]{0,60}") {
            proptest::prop_assert_eq!(fold(&s), super::fold_unicode(&s));
        }
    }
}
