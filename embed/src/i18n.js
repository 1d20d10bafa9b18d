// Interface strings. Each language is one text, a line per key in the order
// of KEYS: lines weigh less than quoted strings or objects repeating every key
// five times. A string has {placeholders}; a line with "|" is a plural:
// "one|other" or "one|many|other" (Intl.PluralRules categories, "other" the
// fallback), chosen by {n}. Every key can be overridden by name through
// render(el, {strings}) or the script tag's data-strings JSON, a plural as
// an object of categories.

export const KEYS = (
  'count empty loadError locked sort oldest newest top more ' +
  'comment name email website emailHint notify markdown post reply cancel edit delete save ' +
  'anonymous deleted pending inReplyTo edited editLeft ' +
  'posted updated errEmpty errNetwork errServer confirmDelete ' +
  'moderator inbox react'
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
Comment published.
Comment updated.
Please write a comment.
Network error; your text is kept.
Something went wrong.
Really delete?
Moderator
First time here? Check your inbox.
Add a reaction`,
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
Kommentar veröffentlicht.
Kommentar aktualisiert.
Bitte einen Kommentar schreiben.
Netzwerkfehler. Ihr Text bleibt erhalten.
Ein Fehler ist aufgetreten.
Wirklich löschen?
Moderator
Zum ersten Mal? Bitte Postfach prüfen.
Reaktion hinzufügen`,
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
Commentaire publié.
Commentaire modifié.
Écrivez un commentaire.
Erreur réseau. Votre texte est conservé.
Une erreur est survenue.
Vraiment supprimer ?
Modérateur
Première fois ? Consultez vos e-mails.
Ajouter une réaction`,
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
Comentario publicado.
Comentario actualizado.
Escribe un comentario.
Error de red. Tu texto se conserva.
Algo salió mal.
¿Eliminar de verdad?
Moderador
¿Primera vez? Revisa tu correo.
Añadir una reacción`,
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
评论已发布。
评论已更新。
请先写下评论。
网络错误，内容已保留。
出错了，请重试。
确定删除？
版主
首次留言？请查收邮件。
添加回应`,
};

export const LANGS = {};
for (const lang in RAW) {
  LANGS[lang] = Object.fromEntries(
    RAW[lang].split('\n').map((s, i) => {
      const [one, ...more] = s.split('|');
      return [KEYS[i], more[0] ? { one, many: more[1] && more[0], other: more.pop() } : s];
    }),
  );
}

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
export function makeT(lang, overrides) {
  const table = { ...LANGS.en, ...LANGS[lang], ...overrides };
  const rules = new Intl.PluralRules(lang);
  return (key, vars = {}) => {
    let s = table[key] ?? key;
    if (typeof s === 'object' && s) s = s[rules.select(vars.n ?? 0)] ?? s.other ?? '';
    return String(s).replace(/\{(\w+)\}/g, (m, k) => (k in vars ? vars[k] : m));
  };
}
