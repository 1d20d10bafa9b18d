//! The words of the mail to commenters and of the pages their links open, in the five
//! languages of the embed (`embed/src/i18n.js`). The language is the commenter's: the
//! first of en, de, fr, es, zh in the `Accept-Language` their browser sent with the
//! comment, else English. It is kept with the subscription, so later mail (sent when
//! there is no request to ask) speaks it too. Moderator mail, and the pages its action
//! links open, speak the site's `language` (config, default English).

/// The languages, English first (the fallback).
pub const LANGS: [&str; 5] = ["en", "de", "fr", "es", "zh"];

/// `lang` as one of [`LANGS`], if it is one (exactly: a site's `language` setting).
pub fn known(lang: &str) -> Option<&'static str> {
    LANGS.iter().copied().find(|l| *l == lang)
}

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

/// Declares [`Strings`] and [`Strings::all`] from one list of fields.
macro_rules! strings {
    ($($field:ident),* $(,)?) => {
        /// Every string; `{thread}`, `{author}`, `{n}`… are filled in by [`fill`].
        pub struct Strings {
            $(pub $field: &'static str,)*
        }

        impl Strings {
            /// Every string, in the order of the fields, for checks.
            pub fn all(&self) -> Vec<&'static str> {
                vec![$(self.$field),*]
            }
        }
    };
}

strings! {
    lang,
    confirm_subject,
    confirm_intro,
    confirm_intro_thread,
    confirm_action,
    confirm_ignore,
    reply_subject_one,
    reply_subject_many,
    comment_subject_one,
    comment_subject_many,
    replied,
    wrote,
    read_it,
    why,
    why_thread,
    unsubscribe_thread,
    unsubscribe_all,
    anonymous,
    page_confirm_heading,
    page_confirm_text,
    page_confirm_button,
    page_confirmed,
    page_confirmed_text,
    page_bad_link,
    page_bad_link_text,
    page_unsub_heading,
    page_unsub_text,
    page_unsubscribed,
    page_unsubscribed_thread,
    page_unsubscribed_all,
    // Moderator mail and the action link's pages, in the site's `language`.
    mod_subject_pending,
    mod_subject_new,
    mod_intro_pending,
    mod_intro_new,
    mod_from,
    mod_thread,
    mod_post,
    mod_comment,
    mod_approve,
    mod_spam,
    mod_delete,
    mod_links_note,
    mod_page,
    mod_why,
    act_invalid,
    act_invalid_text,
    act_expired,
    act_expired_text,
    act_used,
    act_used_text,
    act_gone,
    act_gone_text,
    act_not_moderator_text,
    act_ask_approve,
    act_ask_spam,
    act_ask_delete,
    act_ask_text,
    act_state,
    status_pending,
    status_approved,
    status_spam,
    status_deleted,
    act_done_approve,
    act_done_spam,
    act_done_delete,
    act_done_text,
    act_failed,
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
    mod_subject_pending: "Pending comment by {author} on {thread}",
    mod_subject_new: "New comment by {author} on {thread}",
    mod_intro_pending: "A new comment waits for moderation on “{thread}”.",
    mod_intro_new: "A new comment was published on “{thread}”.",
    mod_from: "From",
    mod_thread: "Thread",
    mod_post: "Post",
    mod_comment: "Comment",
    mod_approve: "Approve",
    mod_spam: "Mark as spam",
    mod_delete: "Delete",
    mod_links_note: "Each link opens a page that asks you to confirm. It works once, for {n} days.",
    mod_page: "Moderation page",
    mod_why: "Sent by Afterword because you moderate this site.",
    act_invalid: "This link is not valid",
    act_invalid_text: "The link is incomplete or was changed. Open it again from the mail, or moderate on the moderation page.",
    act_expired: "This link has expired",
    act_expired_text: "Links in moderation mail work for {n} days. Moderate this comment on the moderation page instead.",
    act_used: "This link has already been used",
    act_used_text: "Each link in a moderation mail works once. See the comment on the moderation page.",
    act_gone: "This comment is gone",
    act_gone_text: "It was deleted for good.",
    act_not_moderator_text: "This link was sent to an address that is no longer among this site’s moderators.",
    act_ask_approve: "Approve comment #{id}?",
    act_ask_spam: "Mark comment #{id} as spam?",
    act_ask_delete: "Delete comment #{id}?",
    act_ask_text: "Nothing changes until you confirm.",
    act_state: "comment #{id} · now {status}",
    status_pending: "pending",
    status_approved: "approved",
    status_spam: "spam",
    status_deleted: "deleted",
    act_done_approve: "Comment #{id} approved",
    act_done_spam: "Comment #{id} marked as spam",
    act_done_delete: "Comment #{id} deleted",
    act_done_text: "Done. The moderation page shows it, and the audit log records it.",
    act_failed: "This could not be done",
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
    mod_subject_pending: "Kommentar von {author} zu {thread} wartet auf Freigabe",
    mod_subject_new: "Neuer Kommentar von {author} zu {thread}",
    mod_intro_pending: "Ein neuer Kommentar zu „{thread}“ wartet auf Freigabe.",
    mod_intro_new: "Ein neuer Kommentar zu „{thread}“ wurde veröffentlicht.",
    mod_from: "Von",
    mod_thread: "Diskussion",
    mod_post: "Beitrag",
    mod_comment: "Kommentar",
    mod_approve: "Freigeben",
    mod_spam: "Als Spam markieren",
    mod_delete: "Löschen",
    mod_links_note: "Jeder Link öffnet eine Seite, auf der Sie bestätigen. Er funktioniert einmal und {n} Tage lang.",
    mod_page: "Moderationsseite",
    mod_why: "Gesendet von Afterword, weil Sie diese Website moderieren.",
    act_invalid: "Dieser Link ist ungültig",
    act_invalid_text: "Der Link ist unvollständig oder wurde verändert. Öffnen Sie ihn erneut aus der E-Mail oder moderieren Sie auf der Moderationsseite.",
    act_expired: "Dieser Link ist abgelaufen",
    act_expired_text: "Links in Moderations-E-Mails gelten {n} Tage. Moderieren Sie diesen Kommentar stattdessen auf der Moderationsseite.",
    act_used: "Dieser Link wurde bereits benutzt",
    act_used_text: "Jeder Link in einer Moderations-E-Mail funktioniert nur einmal. Den Kommentar finden Sie auf der Moderationsseite.",
    act_gone: "Diesen Kommentar gibt es nicht mehr",
    act_gone_text: "Er wurde endgültig gelöscht.",
    act_not_moderator_text: "Dieser Link ging an eine Adresse, die nicht mehr zu den Moderatoren dieser Seite gehört.",
    act_ask_approve: "Kommentar #{id} freigeben?",
    act_ask_spam: "Kommentar #{id} als Spam markieren?",
    act_ask_delete: "Kommentar #{id} löschen?",
    act_ask_text: "Erst wenn Sie bestätigen, ändert sich etwas.",
    act_state: "Kommentar #{id} · derzeit {status}",
    status_pending: "wartend",
    status_approved: "freigegeben",
    status_spam: "Spam",
    status_deleted: "gelöscht",
    act_done_approve: "Kommentar #{id} freigegeben",
    act_done_spam: "Kommentar #{id} als Spam markiert",
    act_done_delete: "Kommentar #{id} gelöscht",
    act_done_text: "Erledigt. Die Moderationsseite zeigt es, und das Protokoll hält es fest.",
    act_failed: "Das war nicht möglich",
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
    mod_subject_pending: "Commentaire de {author} en attente sur {thread}",
    mod_subject_new: "Nouveau commentaire de {author} sur {thread}",
    mod_intro_pending: "Un nouveau commentaire attend votre modération sur « {thread} ».",
    mod_intro_new: "Un nouveau commentaire a été publié sur « {thread} ».",
    mod_from: "De",
    mod_thread: "Discussion",
    mod_post: "Article",
    mod_comment: "Commentaire",
    mod_approve: "Approuver",
    mod_spam: "Marquer comme spam",
    mod_delete: "Supprimer",
    mod_links_note: "Chaque lien ouvre une page qui vous demande de confirmer. Il ne sert qu’une fois, pendant {n} jours.",
    mod_page: "Page de modération",
    mod_why: "Envoyé par Afterword parce que vous modérez ce site.",
    act_invalid: "Ce lien n’est pas valide",
    act_invalid_text: "Le lien est incomplet ou a été modifié. Ouvrez-le à nouveau depuis le message, ou modérez depuis la page de modération.",
    act_expired: "Ce lien a expiré",
    act_expired_text: "Les liens des messages de modération sont valables {n} jours. Modérez plutôt ce commentaire depuis la page de modération.",
    act_used: "Ce lien a déjà servi",
    act_used_text: "Chaque lien d’un message de modération ne sert qu’une fois. Retrouvez le commentaire sur la page de modération.",
    act_gone: "Ce commentaire n’existe plus",
    act_gone_text: "Il a été supprimé définitivement.",
    act_not_moderator_text: "Ce lien a été envoyé à une adresse qui ne fait plus partie des modérateurs de ce site.",
    act_ask_approve: "Approuver le commentaire #{id} ?",
    act_ask_spam: "Marquer le commentaire #{id} comme spam ?",
    act_ask_delete: "Supprimer le commentaire #{id} ?",
    act_ask_text: "Rien ne change tant que vous n’avez pas confirmé.",
    act_state: "commentaire #{id} · actuellement {status}",
    status_pending: "en attente",
    status_approved: "approuvé",
    status_spam: "spam",
    status_deleted: "supprimé",
    act_done_approve: "Commentaire #{id} approuvé",
    act_done_spam: "Commentaire #{id} marqué comme spam",
    act_done_delete: "Commentaire #{id} supprimé",
    act_done_text: "C’est fait. La page de modération l’affiche, et le journal d’audit l’enregistre.",
    act_failed: "Impossible d’effectuer cette action",
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
    mod_subject_pending: "Comentario pendiente de {author} en {thread}",
    mod_subject_new: "Nuevo comentario de {author} en {thread}",
    mod_intro_pending: "Un nuevo comentario en «{thread}» espera moderación.",
    mod_intro_new: "Se publicó un nuevo comentario en «{thread}».",
    mod_from: "De",
    mod_thread: "Conversación",
    mod_post: "Entrada",
    mod_comment: "Comentario",
    mod_approve: "Aprobar",
    mod_spam: "Marcar como spam",
    mod_delete: "Eliminar",
    mod_links_note: "Cada enlace abre una página que te pide confirmación. Funciona una sola vez, durante {n} días.",
    mod_page: "Página de moderación",
    mod_why: "Enviado por Afterword porque moderas este sitio.",
    act_invalid: "Este enlace no es válido",
    act_invalid_text: "El enlace está incompleto o fue modificado. Vuelve a abrirlo desde el correo o modera en la página de moderación.",
    act_expired: "Este enlace ha caducado",
    act_expired_text: "Los enlaces de los correos de moderación valen {n} días. Modera este comentario en la página de moderación.",
    act_used: "Este enlace ya se usó",
    act_used_text: "Cada enlace de un correo de moderación funciona una sola vez. Consulta el comentario en la página de moderación.",
    act_gone: "Este comentario ya no existe",
    act_gone_text: "Se eliminó definitivamente.",
    act_not_moderator_text: "Este enlace se envió a una dirección que ya no está entre los moderadores de este sitio.",
    act_ask_approve: "¿Aprobar el comentario #{id}?",
    act_ask_spam: "¿Marcar el comentario #{id} como spam?",
    act_ask_delete: "¿Eliminar el comentario #{id}?",
    act_ask_text: "No cambia nada hasta que confirmes.",
    act_state: "comentario #{id} · ahora {status}",
    status_pending: "pendiente",
    status_approved: "aprobado",
    status_spam: "spam",
    status_deleted: "eliminado",
    act_done_approve: "Comentario #{id} aprobado",
    act_done_spam: "Comentario #{id} marcado como spam",
    act_done_delete: "Comentario #{id} eliminado",
    act_done_text: "Hecho. La página de moderación lo muestra y el registro de auditoría lo guarda.",
    act_failed: "No se pudo hacer",
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
    mod_subject_pending: "{author} 在 {thread} 的评论待审核",
    mod_subject_new: "{author} 在 {thread} 发表了新评论",
    mod_intro_pending: "“{thread}”有一条新评论等待审核。",
    mod_intro_new: "“{thread}”有一条新评论已发布。",
    mod_from: "评论者",
    mod_thread: "讨论",
    mod_post: "文章",
    mod_comment: "评论",
    mod_approve: "通过",
    mod_spam: "标记为垃圾评论",
    mod_delete: "删除",
    mod_links_note: "每个链接都会打开一个确认页面。链接只能使用一次，{n} 天内有效。",
    mod_page: "审核页面",
    mod_why: "由 Afterword 发送，因为你是此网站的审核员。",
    act_invalid: "此链接无效",
    act_invalid_text: "链接不完整或已被修改。请从邮件中重新打开，或在审核页面中审核。",
    act_expired: "此链接已过期",
    act_expired_text: "审核邮件中的链接有效期为 {n} 天。请改在审核页面中审核此评论。",
    act_used: "此链接已被使用",
    act_used_text: "审核邮件中的每个链接只能使用一次。请在审核页面中查看此评论。",
    act_gone: "此评论已不存在",
    act_gone_text: "它已被永久删除。",
    act_not_moderator_text: "此链接发送到的地址已不再是本站的版主。",
    act_ask_approve: "通过评论 #{id}？",
    act_ask_spam: "将评论 #{id} 标记为垃圾评论？",
    act_ask_delete: "删除评论 #{id}？",
    act_ask_text: "确认之前不会有任何更改。",
    act_state: "评论 #{id} · 当前状态：{status}",
    status_pending: "待审核",
    status_approved: "已通过",
    status_spam: "垃圾评论",
    status_deleted: "已删除",
    act_done_approve: "评论 #{id} 已通过",
    act_done_spam: "评论 #{id} 已标记为垃圾评论",
    act_done_delete: "评论 #{id} 已删除",
    act_done_text: "已完成。审核页面会显示结果，审计日志也已记录。",
    act_failed: "无法完成此操作",
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
    fn every_language_has_every_string() {
        for l in LANGS {
            let s = strings(l);
            for (i, text) in s.all().iter().enumerate() {
                assert!(!text.trim().is_empty(), "{l}: string {i} is empty");
                assert!(
                    !text.contains(['\r', '\n']),
                    "{l}: string {i} has a line break"
                );
            }
            // Placeholders are the English ones: a translation cannot lose the thread's name.
            let en = strings("en").all();
            for (i, text) in s.all().iter().enumerate() {
                for p in ["{thread}", "{author}", "{n}", "{email}", "{id}", "{status}"] {
                    assert_eq!(text.contains(p), en[i].contains(p), "{l}: string {i}, {p}");
                }
            }
        }
        assert_eq!(known("de"), Some("de"));
        assert_eq!(known("DE"), None);
        assert_eq!(known("ja"), None);
    }

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
