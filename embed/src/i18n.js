// Interface strings. Each language is one text, a line per key in the order
// of KEYS: lines weigh less than quoted strings or objects repeating every key
// five times. A string has {placeholders}; a line with "|" is a plural:
// "one|other" or "one|many|other" (Intl.PluralRules categories, "other" the
// fallback), chosen by {n}. Every key can be overridden by name through
// render(el, {strings}) or the script tag's data-strings JSON, a plural as
// an object of categories. The server reads KEYS and RAW too (src/fragment.rs,
// for the thread's HTML): keep their shape.

export const KEYS = (
  'count empty loadError locked sort oldest newest top more ' +
  'comment name email website emailHint notify markdown post reply cancel edit delete save ' +
  'anonymous deleted pending inReplyTo edited editLeft errNetwork errServer ' +
  'moderator react follow'
).split(' ');

const RAW = {
  en: `{n} comment|{n} comments
No comments yet.
Comments could not be loaded.
Comments are closed.
Sort
Oldest
Newest
Top
Load more comments
Comment
Name
Email
Website
Optional, never shown
Notify me of replies
Markdown supported.
Post comment
Reply
Cancel
Edit
Delete
Save
Anonymous
Comment deleted.
Awaiting moderation
in reply to {name}
edited
{time} left to edit
Network error; your text is kept.
Something went wrong.
Moderator
Add a reaction
Follow this thread`,
  de: `{n} Kommentar|{n} Kommentare
Noch keine Kommentare.
Laden der Kommentare fehlgeschlagen.
Kommentare sind geschlossen.
Sortieren
Älteste
Neueste
Beliebteste
Weitere Kommentare
Kommentar
Name
E-Mail
Website
Optional, nie sichtbar
Bei Antworten benachrichtigen
Markdown wird unterstützt.
Kommentar senden
Antworten
Abbrechen
Bearbeiten
Löschen
Speichern
Anonym
Kommentar gelöscht.
Wartet auf Freigabe
Antwort an {name}
bearbeitet
Noch {time} bearbeitbar
Netzwerkfehler. Ihr Text bleibt erhalten.
Ein Fehler ist aufgetreten.
Moderator
Reaktion hinzufügen
Diesem Thread folgen`,
  fr: `{n} commentaire|{n} de commentaires|{n} commentaires
Aucun commentaire.
Impossible de charger les commentaires.
Les commentaires sont fermés.
Trier
Plus anciens
Plus récents
Populaires
Plus de commentaires
Commentaire
Nom
E-mail
Site web
Facultatif, jamais affiché
M’avertir des réponses
Markdown accepté.
Publier le commentaire
Répondre
Annuler
Modifier
Supprimer
Enregistrer
Anonyme
Commentaire supprimé.
En attente de modération
en réponse à {name}
modifié
Modifiable encore {time}
Erreur réseau. Votre texte est conservé.
Une erreur est survenue.
Modérateur
Ajouter une réaction
Suivre cette discussion`,
  es: `{n} comentario|{n} de comentarios|{n} comentarios
Aún no hay comentarios.
Error al cargar los comentarios.
Los comentarios están cerrados.
Ordenar
Más antiguos
Más recientes
Destacados
Más comentarios
Comentario
Nombre
Correo electrónico
Sitio web
Opcional, nunca visible
Avisarme de las respuestas
Se admite Markdown.
Publicar comentario
Responder
Cancelar
Editar
Eliminar
Guardar
Anónimo
Comentario eliminado.
Pendiente de moderación
en respuesta a {name}
editado
Editable durante {time}
Error de red. Tu texto se conserva.
Algo salió mal.
Moderador
Añadir una reacción
Seguir esta conversación`,
  zh: `{n} 条评论
还没有评论。
无法加载评论。
评论已关闭。
排序
最早
最新
最热
加载更多评论
评论
昵称
邮箱
网站
选填，不会公开
有回复时通知我
支持 Markdown。
发表评论
回复
取消
编辑
删除
保存
匿名
评论已删除。
等待审核
回复 {name}
已编辑
还可编辑 {time}
网络错误，内容已保留。
出错了，请重试。
版主
添加回应
关注此讨论`,
};

// {lang: text} → {lang: {key: string or plural object}}
export function parse(raw, keys) {
  const out = {};
  for (const lang in raw) {
    out[lang] = Object.fromEntries(
      raw[lang].split('\n').map((s, i) => {
        const [one, ...more] = s.split('|');
        return [keys[i], more[0] ? { one, many: more[1] && more[0], other: more.pop() } : s];
      }),
    );
  }
  return out;
}

export const LANGS = /* @__PURE__ */ parse(RAW, KEYS);

// First candidate whose primary subtag we speak ("de-AT" → "de"), else "en".
export function pickLang(candidates) {
  for (const c of candidates) {
    const primary = (c || '')
      .trim()
      .toLowerCase()
      .split(/[-_]/)[0];
    if (Object.hasOwn(LANGS, primary)) return primary;
  }
  return 'en';
}

// A translator: t(key, vars). Unknown keys fall back to English, so a
// partial override never shows a raw key.
export const makeT = (lang, overrides) => translator(LANGS, lang, overrides);

// The same over another table (`langs`, as parse() gives): the chunks' strings below.
export function translator(langs, lang, overrides) {
  const table = { ...langs.en, ...langs[lang], ...overrides };
  const rules = new Intl.PluralRules(lang);
  return (key, vars = {}) => {
    let s = table[key] ?? key;
    if (typeof s === 'object' && s) s = s[rules.select(vars.n ?? 0)] ?? s.other ?? '';
    return String(s).replace(/\{(\w+)\}/g, (m, k) => (k in vars ? vars[k] : m));
  };
}

// ---- Strings only the chunks loaded on demand use: embed.js never includes them (the
// bundler drops what its modules do not import). Same format, same overrides by name.

// The write chunk (write.js): sending, editing, deleting, following the thread.
export const WRITE_KEYS = /* @__PURE__ */ 'posted updated errEmpty confirmDelete inbox preview write followSubmit followed'.split(' ');

export const WRITE_RAW = {
  en: `Comment published.
Comment updated.
Please write a comment.
Really delete?
First time here? Check your inbox.
Preview
Write
Follow
Check your mail to confirm.`,
  de: `Kommentar veröffentlicht.
Kommentar aktualisiert.
Bitte einen Kommentar schreiben.
Wirklich löschen?
Zum ersten Mal? Bitte Postfach prüfen.
Vorschau
Schreiben
Folgen
Bitte über den Link in Ihrem Postfach bestätigen.`,
  fr: `Commentaire publié.
Commentaire modifié.
Écrivez un commentaire.
Vraiment supprimer ?
Première fois ? Consultez vos e-mails.
Aperçu
Écrire
Suivre
Consultez vos e-mails pour confirmer.`,
  es: `Comentario publicado.
Comentario actualizado.
Escribe un comentario.
¿Eliminar de verdad?
¿Primera vez? Revisa tu correo.
Vista previa
Escribir
Seguir
Revisa tu correo para confirmar.`,
  zh: `评论已发布。
评论已更新。
请先写下评论。
确定删除？
首次留言？请查收邮件。
预览
编辑
关注
请查收邮件以确认。`,
};

// The server's refusals a reader meets while writing, in their language, by error code
// (api.md's error table). English is the server's own sentence, kept as it is, as it is
// for any code not here. `{max}` is the site's longest comment.
const BUSY = {
  de: 'Der Server hat ein Problem; bitte gleich noch einmal versuchen.',
  fr: 'Le serveur a un problème ; réessayez dans un instant.',
  es: 'El servidor tiene un problema; inténtalo de nuevo en un momento.',
  zh: '服务器出现问题，请稍后再试。',
};
const NOT_HERE = {
  de: 'Diese Seite gehört nicht zu dieser Website.',
  fr: 'Cette page n’appartient pas à ce site.',
  es: 'Esta página no pertenece a este sitio.',
  zh: '此页面不属于本站。',
};
const refusals = (lang, words) => ({
  ...words,
  url_not_on_site: NOT_HERE[lang],
  slug_not_on_site: NOT_HERE[lang],
  origin_not_allowed: NOT_HERE[lang],
  internal_error: BUSY[lang],
  database_unavailable: BUSY[lang],
});
export const REFUSALS = {
  de: /* @__PURE__ */ refusals('de', {
    empty: 'Bitte schreiben Sie einen Kommentar.',
    too_long: 'Höchstens {max} Zeichen.',
    invalid_email: 'Diese E-Mail-Adresse ist ungültig.',
    invalid_url: 'Die Website muss mit http:// oder https:// beginnen.',
    email_required: 'Für Benachrichtigungen wird eine E-Mail-Adresse benötigt.',
    reserved_name: 'Dieser Name ist den Moderatoren vorbehalten.',
    thread_locked: 'Kommentare sind geschlossen.',
    banned: 'Kommentare von Ihnen werden hier nicht angenommen.',
    rate_limited: 'Zu viele Anfragen; bitte gleich noch einmal versuchen.',
    edit_window_closed: 'Die Zeit zum Bearbeiten ist abgelaufen.',
    invalid_token: 'Dieser Kommentar kann von hier aus nicht geändert werden.',
    missing_token: 'Dieser Kommentar kann von hier aus nicht geändert werden.',
    comment_not_found: 'Dieser Kommentar existiert nicht mehr.',
    invalid_parent: 'Der Kommentar, auf den Sie antworten, ist nicht mehr da.',
    payload_too_large: 'Der Text ist zu lang.',
    invalid_characters: 'Der Text enthält unzulässige Steuerzeichen.',
    notifications_off: 'Diese Website verschickt keine E-Mails.',
    write_outcome_unknown: 'Unklar, ob es gespeichert wurde: bitte die Seite neu laden.',
  }),
  fr: /* @__PURE__ */ refusals('fr', {
    empty: 'Veuillez écrire un commentaire.',
    too_long: '{max} caractères au plus.',
    invalid_email: 'Cette adresse e-mail n’est pas valide.',
    invalid_url: 'Le site doit commencer par http:// ou https://.',
    email_required: 'Les notifications demandent une adresse e-mail.',
    reserved_name: 'Ce nom est réservé aux modérateurs.',
    thread_locked: 'Les commentaires sont fermés.',
    banned: 'Vos commentaires ne sont pas acceptés sur ce site.',
    rate_limited: 'Trop de requêtes ; réessayez dans un instant.',
    edit_window_closed: 'Le délai de modification est passé.',
    invalid_token: 'Ce commentaire ne peut pas être modifié d’ici.',
    missing_token: 'Ce commentaire ne peut pas être modifié d’ici.',
    comment_not_found: 'Ce commentaire n’existe plus.',
    invalid_parent: 'Le commentaire auquel vous répondez n’est plus là.',
    payload_too_large: 'Le texte est trop long.',
    invalid_characters: 'Le texte contient des caractères de contrôle interdits.',
    notifications_off: 'Ce site n’envoie pas d’e-mails.',
    write_outcome_unknown: 'Impossible de savoir si c’est enregistré : rechargez la page.',
  }),
  es: /* @__PURE__ */ refusals('es', {
    empty: 'Escribe un comentario.',
    too_long: 'Como máximo {max} caracteres.',
    invalid_email: 'Esta dirección de correo no es válida.',
    invalid_url: 'El sitio web debe empezar por http:// o https://.',
    email_required: 'Las notificaciones necesitan una dirección de correo.',
    reserved_name: 'Este nombre está reservado a los moderadores.',
    thread_locked: 'Los comentarios están cerrados.',
    banned: 'No se aceptan tus comentarios en este sitio.',
    rate_limited: 'Demasiadas solicitudes; inténtalo de nuevo en un momento.',
    edit_window_closed: 'El plazo para editar ha terminado.',
    invalid_token: 'Este comentario no se puede cambiar desde aquí.',
    missing_token: 'Este comentario no se puede cambiar desde aquí.',
    comment_not_found: 'Este comentario ya no existe.',
    invalid_parent: 'El comentario al que respondes ya no está.',
    payload_too_large: 'El texto es demasiado largo.',
    invalid_characters: 'El texto contiene caracteres de control no permitidos.',
    notifications_off: 'Este sitio no envía correos.',
    write_outcome_unknown: 'No se sabe si se guardó: recarga la página.',
  }),
  zh: /* @__PURE__ */ refusals('zh', {
    empty: '请先写下评论。',
    too_long: '最多 {max} 个字符。',
    invalid_email: '邮箱地址无效。',
    invalid_url: '网址须以 http:// 或 https:// 开头。',
    email_required: '接收通知需要填写邮箱。',
    reserved_name: '此名称为版主保留。',
    thread_locked: '评论已关闭。',
    banned: '本站不接受你的评论。',
    rate_limited: '请求过多，请稍后再试。',
    edit_window_closed: '已超过可编辑的时间。',
    invalid_token: '无法在此处修改这条评论。',
    missing_token: '无法在此处修改这条评论。',
    comment_not_found: '这条评论已不存在。',
    invalid_parent: '你回复的评论已不存在。',
    payload_too_large: '内容过长。',
    invalid_characters: '内容包含不允许的控制字符。',
    notifications_off: '本站不发送邮件。',
    write_outcome_unknown: '无法确定是否已保存，请刷新页面。',
  }),
};

// The chunk for comments from elsewhere (elsewhere.js): origin marks, "Reply on
// Mastodon", the counts of likes and reposts there and of webmentions.
export const FAR_KEYS = /* @__PURE__ */ 'via replyOn like repost bookmark mention webmentions'.split(' ');

export const FAR_RAW = {
  en: `via {label}
Reply on {label}
{n} like|{n} likes
{n} repost|{n} reposts
{n} bookmark|{n} bookmarks
{n} mention|{n} mentions
Webmentions`,
  de: `über {label}
Auf {label} antworten
{n} Like|{n} Likes
{n} Repost|{n} Reposts
{n} Lesezeichen|{n} Lesezeichen
{n} Erwähnung|{n} Erwähnungen
Webmentions`,
  fr: `via {label}
Répondre sur {label}
{n} j’aime|{n} j’aime
{n} partage|{n} partages
{n} favori|{n} favoris
{n} mention|{n} mentions
Webmentions`,
  es: `vía {label}
Responder en {label}
{n} me gusta|{n} me gusta
{n} republicación|{n} republicaciones
{n} marcador|{n} marcadores
{n} mención|{n} menciones
Webmentions`,
  zh: `来自 {label}
在 {label} 上回复
{n} 个赞
{n} 次转发
{n} 次收藏
{n} 次提及
Webmention`,
};
