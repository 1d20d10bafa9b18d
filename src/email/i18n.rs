//! The words of the mail to commenters and of the pages their links open, in the five
//! languages of the embed (`embed/src/i18n.js`). The language is the commenter's: the
//! first of en, de, fr, es, zh in the `Accept-Language` their browser sent with the
//! comment, else English. It is kept with the subscription, so later mail (sent when
//! there is no request to ask) speaks it too. Moderator mail stays English.

/// The languages, English first (the fallback).
pub const LANGS: [&str; 5] = ["en", "de", "fr", "es", "zh"];

/// The language to write in, from an `Accept-Language` header (quality values honoured,
/// `de-AT` taken as `de`).
pub fn pick(accept_language: Option<&str>) -> &'static str {
    let Some(header) = accept_language else {
        return "en";
    };
    let mut best: Option<(f32, usize, &'static str)> = None;
    for (i, item) in header.split(',').enumerate().take(20) {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let primary = tag.split('-').next().unwrap_or("");
        let Some(lang) = LANGS.iter().find(|l| **l == primary) else {
            continue;
        };
        if q > 0.0 && best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && i < bi)) {
            best = Some((q, i, lang));
        }
    }
    best.map_or("en", |(_, _, l)| l)
}

/// Every string; `{thread}`, `{author}`, `{n}` are filled in by [`fill`].
pub struct Strings {
    pub lang: &'static str,
    pub confirm_subject: &'static str,
    pub confirm_intro: &'static str,
    pub confirm_intro_thread: &'static str,
    pub confirm_action: &'static str,
    pub confirm_ignore: &'static str,
    pub reply_subject_one: &'static str,
    pub reply_subject_many: &'static str,
    pub comment_subject_one: &'static str,
    pub comment_subject_many: &'static str,
    pub replied: &'static str,
    pub wrote: &'static str,
    pub read_it: &'static str,
    pub why: &'static str,
    pub why_thread: &'static str,
    pub unsubscribe_thread: &'static str,
    pub unsubscribe_all: &'static str,
    pub anonymous: &'static str,
    pub page_confirm_heading: &'static str,
    pub page_confirm_text: &'static str,
    pub page_confirm_button: &'static str,
    pub page_confirmed: &'static str,
    pub page_confirmed_text: &'static str,
    pub page_bad_link: &'static str,
    pub page_bad_link_text: &'static str,
    pub page_unsub_heading: &'static str,
    pub page_unsub_text: &'static str,
    pub page_unsubscribed: &'static str,
    pub page_unsubscribed_thread: &'static str,
    pub page_unsubscribed_all: &'static str,
}

const EN: Strings = Strings {
    lang: "en",
    confirm_subject: "Please confirm: email me replies on “{thread}”",
    confirm_intro: "You asked to be emailed when someone replies to your comment on “{thread}”.",
    confirm_intro_thread: "You asked to be emailed about new comments on “{thread}”.",
    confirm_action: "To confirm your address, open this link and press the button:",
    confirm_ignore: "If it was not you, ignore this mail: nothing more will be sent to you.",
    reply_subject_one: "New reply to your comment on “{thread}”",
    reply_subject_many: "{n} new replies to your comment on “{thread}”",
    comment_subject_one: "New comment on “{thread}”",
    comment_subject_many: "{n} new comments on “{thread}”",
    replied: "{author} replied:",
    wrote: "{author} wrote:",
    read_it: "Read it on the site:",
    why: "You get this mail because you asked to be notified of replies to your comment.",
    why_thread: "You get this mail because you follow the comments on this post.",
    unsubscribe_thread: "Stop mail about this thread:",
    unsubscribe_all: "Stop all mail from this site:",
    anonymous: "Anonymous",
    page_confirm_heading: "Email me replies?",
    page_confirm_text:
        "Press the button to confirm that replies to your comments may be emailed to {email}.",
    page_confirm_button: "Yes, email me replies",
    page_confirmed: "Confirmed",
    page_confirmed_text:
        "Replies to your comments will be emailed to you. Every mail has a link to stop them.",
    page_bad_link: "This link does not work",
    page_bad_link_text: "It is incomplete, has expired or was already used. Nothing was changed.",
    page_unsub_heading: "Stop reply mail?",
    page_unsub_text: "Mail about replies goes to {email}. Choose what to stop:",
    page_unsubscribed: "Unsubscribed",
    page_unsubscribed_thread: "You will get no more mail about replies in this thread.",
    page_unsubscribed_all: "You will get no more mail about replies from this site.",
};

const DE: Strings = Strings {
    lang: "de",
    confirm_subject: "Bitte bestätigen: Antworten zu „{thread}“ per E-Mail",
    confirm_intro: "Sie möchten per E-Mail erfahren, wenn jemand auf Ihren Kommentar zu „{thread}“ antwortet.",
    confirm_intro_thread: "Sie möchten per E-Mail von neuen Kommentaren zu „{thread}“ erfahren.",
    confirm_action: "Öffnen Sie zur Bestätigung diesen Link und drücken Sie den Knopf:",
    confirm_ignore: "Falls das nicht Sie waren, ignorieren Sie diese E-Mail: Sie bekommen keine weitere.",
    reply_subject_one: "Neue Antwort auf Ihren Kommentar zu „{thread}“",
    reply_subject_many: "{n} neue Antworten auf Ihren Kommentar zu „{thread}“",
    comment_subject_one: "Neuer Kommentar zu „{thread}“",
    comment_subject_many: "{n} neue Kommentare zu „{thread}“",
    replied: "{author} hat geantwortet:",
    wrote: "{author} schrieb:",
    read_it: "Auf der Seite lesen:",
    why: "Sie bekommen diese E-Mail, weil Sie über Antworten auf Ihren Kommentar informiert werden wollten.",
    why_thread: "Sie bekommen diese E-Mail, weil Sie den Kommentaren zu diesem Beitrag folgen.",
    unsubscribe_thread: "Keine E-Mails mehr zu dieser Diskussion:",
    unsubscribe_all: "Keine E-Mails mehr von dieser Website:",
    anonymous: "Anonym",
    page_confirm_heading: "Antworten per E-Mail?",
    page_confirm_text: "Drücken Sie den Knopf, um zu bestätigen, dass Antworten auf Ihre Kommentare an {email} geschickt werden dürfen.",
    page_confirm_button: "Ja, Antworten per E-Mail",
    page_confirmed: "Bestätigt",
    page_confirmed_text: "Antworten auf Ihre Kommentare kommen per E-Mail. Jede E-Mail enthält einen Link zum Abbestellen.",
    page_bad_link: "Dieser Link funktioniert nicht",
    page_bad_link_text: "Er ist unvollständig, abgelaufen oder wurde schon benutzt. Nichts wurde geändert.",
    page_unsub_heading: "E-Mails zu Antworten abbestellen?",
    page_unsub_text: "E-Mails zu Antworten gehen an {email}. Was möchten Sie abbestellen?",
    page_unsubscribed: "Abbestellt",
    page_unsubscribed_thread: "Sie bekommen keine E-Mails mehr zu Antworten in dieser Diskussion.",
    page_unsubscribed_all: "Sie bekommen keine E-Mails mehr zu Antworten von dieser Website.",
};

const FR: Strings = Strings {
    lang: "fr",
    confirm_subject: "Merci de confirmer : réponses sur « {thread} » par e-mail",
    confirm_intro: "Vous avez demandé à être prévenu par e-mail des réponses à votre commentaire sur « {thread} ».",
    confirm_intro_thread: "Vous avez demandé à être prévenu par e-mail des nouveaux commentaires sur « {thread} ».",
    confirm_action: "Pour confirmer votre adresse, ouvrez ce lien et appuyez sur le bouton :",
    confirm_ignore: "Si ce n’était pas vous, ignorez ce message : vous ne recevrez rien d’autre.",
    reply_subject_one: "Nouvelle réponse à votre commentaire sur « {thread} »",
    reply_subject_many: "{n} nouvelles réponses à votre commentaire sur « {thread} »",
    comment_subject_one: "Nouveau commentaire sur « {thread} »",
    comment_subject_many: "{n} nouveaux commentaires sur « {thread} »",
    replied: "{author} a répondu :",
    wrote: "{author} a écrit :",
    read_it: "Lire sur le site :",
    why: "Vous recevez ce message car vous avez demandé à être prévenu des réponses à votre commentaire.",
    why_thread: "Vous recevez ce message car vous suivez les commentaires de cet article.",
    unsubscribe_thread: "Ne plus recevoir de messages sur cette discussion :",
    unsubscribe_all: "Ne plus recevoir de messages de ce site :",
    anonymous: "Anonyme",
    page_confirm_heading: "Recevoir les réponses par e-mail ?",
    page_confirm_text: "Appuyez sur le bouton pour confirmer que les réponses à vos commentaires peuvent être envoyées à {email}.",
    page_confirm_button: "Oui, m’envoyer les réponses",
    page_confirmed: "Confirmé",
    page_confirmed_text: "Les réponses à vos commentaires vous seront envoyées. Chaque message contient un lien pour les arrêter.",
    page_bad_link: "Ce lien ne fonctionne pas",
    page_bad_link_text: "Il est incomplet, a expiré ou a déjà servi. Rien n’a été changé.",
    page_unsub_heading: "Arrêter les messages ?",
    page_unsub_text: "Les réponses sont envoyées à {email}. Que voulez-vous arrêter ?",
    page_unsubscribed: "Désabonné",
    page_unsubscribed_thread: "Vous ne recevrez plus de messages sur les réponses de cette discussion.",
    page_unsubscribed_all: "Vous ne recevrez plus de messages sur les réponses de ce site.",
};

const ES: Strings = Strings {
    lang: "es",
    confirm_subject: "Confirma: respuestas en «{thread}» por correo",
    confirm_intro: "Pediste recibir un correo cuando alguien responda a tu comentario en «{thread}».",
    confirm_intro_thread: "Pediste recibir un correo con los nuevos comentarios en «{thread}».",
    confirm_action: "Para confirmar tu dirección, abre este enlace y pulsa el botón:",
    confirm_ignore: "Si no fuiste tú, ignora este correo: no recibirás nada más.",
    reply_subject_one: "Nueva respuesta a tu comentario en «{thread}»",
    reply_subject_many: "{n} respuestas nuevas a tu comentario en «{thread}»",
    comment_subject_one: "Nuevo comentario en «{thread}»",
    comment_subject_many: "{n} comentarios nuevos en «{thread}»",
    replied: "{author} respondió:",
    wrote: "{author} escribió:",
    read_it: "Léelo en el sitio:",
    why: "Recibes este correo porque pediste que te avisaran de las respuestas a tu comentario.",
    why_thread: "Recibes este correo porque sigues los comentarios de esta entrada.",
    unsubscribe_thread: "No recibir más correos de esta conversación:",
    unsubscribe_all: "No recibir más correos de este sitio:",
    anonymous: "Anónimo",
    page_confirm_heading: "¿Recibir respuestas por correo?",
    page_confirm_text: "Pulsa el botón para confirmar que las respuestas a tus comentarios pueden enviarse a {email}.",
    page_confirm_button: "Sí, enviarme las respuestas",
    page_confirmed: "Confirmado",
    page_confirmed_text: "Recibirás las respuestas a tus comentarios por correo. Cada correo tiene un enlace para dejar de recibirlos.",
    page_bad_link: "Este enlace no funciona",
    page_bad_link_text: "Está incompleto, ha caducado o ya se usó. No se cambió nada.",
    page_unsub_heading: "¿Dejar de recibir correos?",
    page_unsub_text: "Los correos de respuestas van a {email}. ¿Qué quieres dejar de recibir?",
    page_unsubscribed: "Baja confirmada",
    page_unsubscribed_thread: "No recibirás más correos de respuestas en esta conversación.",
    page_unsubscribed_all: "No recibirás más correos de respuestas de este sitio.",
};

const ZH: Strings = Strings {
    lang: "zh",
    confirm_subject: "请确认：通过邮件接收“{thread}”的回复",
    confirm_intro: "你要求在有人回复你在“{thread}”的评论时收到邮件。",
    confirm_intro_thread: "你要求在“{thread}”有新评论时收到邮件。",
    confirm_action: "请打开此链接并点击按钮以确认你的邮箱：",
    confirm_ignore: "如果这不是你本人操作，请忽略此邮件：你不会再收到任何邮件。",
    reply_subject_one: "你在“{thread}”的评论有新回复",
    reply_subject_many: "你在“{thread}”的评论有 {n} 条新回复",
    comment_subject_one: "“{thread}”有新评论",
    comment_subject_many: "“{thread}”有 {n} 条新评论",
    replied: "{author} 回复：",
    wrote: "{author} 写道：",
    read_it: "在网站上查看：",
    why: "你收到此邮件是因为你要求接收评论回复通知。",
    why_thread: "你收到此邮件是因为你关注了这篇文章的评论。",
    unsubscribe_thread: "不再接收此讨论的邮件：",
    unsubscribe_all: "不再接收此网站的邮件：",
    anonymous: "匿名",
    page_confirm_heading: "通过邮件接收回复？",
    page_confirm_text: "点击按钮，确认可以将你评论的回复发送到 {email}。",
    page_confirm_button: "是的，给我发送回复",
    page_confirmed: "已确认",
    page_confirmed_text: "你评论的回复将通过邮件发送给你。每封邮件都有退订链接。",
    page_bad_link: "此链接无效",
    page_bad_link_text: "链接不完整、已过期或已被使用。没有任何更改。",
    page_unsub_heading: "停止接收回复邮件？",
    page_unsub_text: "回复邮件发送到 {email}。请选择要停止的内容：",
    page_unsubscribed: "已退订",
    page_unsubscribed_thread: "你将不再收到此讨论的回复邮件。",
    page_unsubscribed_all: "你将不再收到此网站的回复邮件。",
};

/// The strings of `lang`; English for anything else.
pub fn strings(lang: &str) -> &'static Strings {
    match lang {
        "de" => &DE,
        "fr" => &FR,
        "es" => &ES,
        "zh" => &ZH,
        _ => &EN,
    }
}

/// Fills `{name}` placeholders.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut s = template.to_owned();
    for (k, v) in values {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_first_known_language_by_quality() {
        assert_eq!(pick(None), "en");
        assert_eq!(pick(Some("de-AT,de;q=0.9,en;q=0.8")), "de");
        assert_eq!(pick(Some("ja, fr;q=0.5, en;q=0.7")), "en");
        assert_eq!(pick(Some("ja")), "en");
        assert_eq!(pick(Some("zh-CN;q=0.9, es;q=0.9")), "zh");
        assert_eq!(pick(Some("fr;q=0")), "en");
        for l in LANGS {
            assert_eq!(strings(l).lang, l);
        }
    }
}
