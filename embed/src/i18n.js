// Interface strings. Each language is a list in the order of KEYS (lists
// weigh less than objects repeating every key five times; the English list
// names each key). A string has
// {placeholders}; an object holds Intl.PluralRules categories ("other" is
// the fallback), chosen by {n}. Every key can be overridden by name through
// render(el, {strings}) or the script tag's data-strings JSON.

export const KEYS = (
  'count empty loadError locked sort oldest newest top more ' +
  'comment name email website emailHint notify markdown post reply cancel edit delete save ' +
  'anonymous deleted pending inReplyTo edited editLeft ' +
  'posted updated errEmpty errNetwork errServer confirmDelete'
).split(' ');

const RAW = {
  en: [
    { one: '{n} comment', other: '{n} comments' }, // count
    'No comments yet.', // empty
    'Comments could not be loaded.', // loadError
    'Comments are closed.', // locked
    'Sort', // sort
    'Oldest', // oldest
    'Newest', // newest
    'Top', // top
    'Load more comments', // more
    'Comment', // comment
    'Name', // name
    'Email', // email
    'Website', // website
    'Optional, never shown', // emailHint
    'Notify me of replies', // notify
    'Markdown supported.', // markdown
    'Post comment', // post
    'Reply', // reply
    'Cancel', // cancel
    'Edit', // edit
    'Delete', // delete
    'Save', // save
    'Anonymous', // anonymous
    'Comment deleted.', // deleted
    'Awaiting moderation', // pending
    'in reply to {name}', // inReplyTo
    'edited', // edited
    '{time} left to edit', // editLeft
    'Comment published.', // posted
    'Comment updated.', // updated
    'Please write a comment.', // errEmpty
    'Network error. Your text is kept; please try again.', // errNetwork
    'Something went wrong. Please try again.', // errServer
    'Really delete?', // confirmDelete
  ],
  de: [
    { one: '{n} Kommentar', other: '{n} Kommentare' },
    'Noch keine Kommentare.',
    'Kommentare konnten nicht geladen werden.',
    'Kommentare sind geschlossen.',
    'Sortieren',
    'Älteste',
    'Neueste',
    'Beliebteste',
    'Weitere Kommentare laden',
    'Kommentar',
    'Name',
    'E-Mail',
    'Website',
    'Optional, wird nie angezeigt',
    'Bei Antworten benachrichtigen',
    'Markdown wird unterstützt.',
    'Kommentar senden',
    'Antworten',
    'Abbrechen',
    'Bearbeiten',
    'Löschen',
    'Speichern',
    'Anonym',
    'Kommentar gelöscht.',
    'Wartet auf Freigabe',
    'Antwort an {name}',
    'bearbeitet',
    'Noch {time} bearbeitbar',
    'Kommentar veröffentlicht.',
    'Kommentar aktualisiert.',
    'Bitte schreiben Sie einen Kommentar.',
    'Netzwerkfehler. Ihr Text bleibt erhalten.',
    'Ein Fehler ist aufgetreten.',
    'Wirklich löschen?',
  ],
  fr: [
    { one: '{n} commentaire', many: '{n} de commentaires', other: '{n} commentaires' },
    'Aucun commentaire pour l’instant.',
    'Impossible de charger les commentaires.',
    'Les commentaires sont fermés.',
    'Trier',
    'Plus anciens',
    'Plus récents',
    'Populaires',
    'Afficher plus de commentaires',
    'Commentaire',
    'Nom',
    'E-mail',
    'Site web',
    'Facultatif, jamais affiché',
    'M’avertir des réponses',
    'Markdown accepté.',
    'Publier le commentaire',
    'Répondre',
    'Annuler',
    'Modifier',
    'Supprimer',
    'Enregistrer',
    'Anonyme',
    'Commentaire supprimé.',
    'En attente de modération',
    'en réponse à {name}',
    'modifié',
    'Encore modifiable pendant {time}',
    'Commentaire publié.',
    'Commentaire modifié.',
    'Veuillez écrire un commentaire.',
    'Erreur réseau. Votre texte est conservé.',
    'Une erreur est survenue.',
    'Vraiment supprimer ?',
  ],
  es: [
    { one: '{n} comentario', many: '{n} de comentarios', other: '{n} comentarios' },
    'Aún no hay comentarios.',
    'No se pudieron cargar los comentarios.',
    'Los comentarios están cerrados.',
    'Ordenar',
    'Más antiguos',
    'Más recientes',
    'Destacados',
    'Cargar más comentarios',
    'Comentario',
    'Nombre',
    'Correo electrónico',
    'Sitio web',
    'Opcional, nunca se muestra',
    'Avisarme de las respuestas',
    'Se admite Markdown.',
    'Publicar comentario',
    'Responder',
    'Cancelar',
    'Editar',
    'Eliminar',
    'Guardar',
    'Anónimo',
    'Comentario eliminado.',
    'Pendiente de moderación',
    'en respuesta a {name}',
    'editado',
    'Editable durante {time}',
    'Comentario publicado.',
    'Comentario actualizado.',
    'Escribe un comentario.',
    'Error de red. Tu texto se conserva.',
    'Algo salió mal.',
    '¿Eliminar de verdad?',
  ],
  zh: [
    '{n} 条评论',
    '还没有评论。',
    '无法加载评论。',
    '评论已关闭。',
    '排序',
    '最早',
    '最新',
    '最热',
    '加载更多评论',
    '评论',
    '昵称',
    '邮箱',
    '网站',
    '选填，不会公开',
    '有回复时通知我',
    '支持 Markdown。',
    '发表评论',
    '回复',
    '取消',
    '编辑',
    '删除',
    '保存',
    '匿名',
    '评论已删除。',
    '等待审核',
    '回复 {name}',
    '已编辑',
    '还可编辑 {time}',
    '评论已发布。',
    '评论已更新。',
    '请先写下评论。',
    '网络错误，内容已保留。',
    '出错了，请重试。',
    '确定删除？',
  ],
};

export const LANGS = {};
for (const lang in RAW) LANGS[lang] = Object.fromEntries(KEYS.map((k, i) => [k, RAW[lang][i]]));

// First candidate whose primary subtag we speak ("de-AT" → "de"), else "en".
export function pickLang(candidates) {
  for (const c of candidates) {
    const primary = String(c || '')
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
