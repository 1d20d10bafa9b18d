import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KEYS, LANGS, makeT, pickLang, parse, translator, WRITE_KEYS, WRITE_RAW, FAR_KEYS, FAR_RAW, REFUSALS } from '../../src/i18n.js';

test('every language has every key, with the same placeholders as English', () => {
  const holes = (v) =>
    [...JSON.stringify(v).matchAll(/\{(\w+)\}/g)]
      .map((m) => m[1])
      .filter((x, i, a) => a.indexOf(x) === i)
      .sort();
  for (const [lang, table] of Object.entries(LANGS)) {
    assert.deepEqual(Object.keys(table), KEYS, lang);
    for (const k of KEYS) {
      assert.ok(table[k], `${lang}.${k} is empty`);
      assert.deepEqual(holes(table[k]), holes(LANGS.en[k]), `${lang}.${k} placeholders`);
    }
  }
  assert.deepEqual(Object.keys(LANGS).sort(), ['de', 'en', 'es', 'fr', 'zh']);
});

test('pickLang takes the first supported primary subtag', () => {
  assert.equal(pickLang(['zh-CN']), 'zh');
  assert.equal(pickLang(['de-AT']), 'de');
  assert.equal(pickLang(['FR_ca']), 'fr');
  assert.equal(pickLang([null, '', 'es-419']), 'es');
  assert.equal(pickLang(['it', 'pt-BR', 'de']), 'de');
  assert.equal(pickLang(['it']), 'en');
  assert.equal(pickLang([]), 'en');
  assert.equal(pickLang(['constructor', 'toString']), 'en');
});

test('plural forms follow Intl.PluralRules', () => {
  const en = makeT('en');
  assert.equal(en('count', { n: 0 }), '0 comments');
  assert.equal(en('count', { n: 1 }), '1 comment');
  assert.equal(en('count', { n: 2 }), '2 comments');
  const fr = makeT('fr');
  assert.equal(fr('count', { n: 0 }), '0 commentaire');
  assert.equal(fr('count', { n: 1 }), '1 commentaire');
  assert.equal(fr('count', { n: 5 }), '5 commentaires');
  assert.equal(fr('count', { n: 1000000 }), '1000000 de commentaires');
  assert.equal(makeT('de')('count', { n: 1 }), '1 Kommentar');
  assert.equal(makeT('de')('count', { n: 3 }), '3 Kommentare');
  assert.equal(makeT('es')('count', { n: 3 }), '3 comentarios');
  assert.equal(makeT('zh')('count', { n: 3 }), '3 条评论');
});

test('placeholders are filled; unknown ones are left alone', () => {
  const t = makeT('en');
  assert.equal(t('inReplyTo', { name: 'Ada' }), 'in reply to Ada');
  assert.equal(t('inReplyTo'), 'in reply to {name}');
  assert.equal(makeT('de')('reply'), 'Antworten');
});

test('overrides replace any string, plural or not; unknown keys fall back', () => {
  const t = makeT('de', {
    reply: 'Antwort schreiben',
    count: { one: 'Ein Beitrag', other: '{n} Beiträge' },
    post: 'Ab damit',
  });
  assert.equal(t('reply'), 'Antwort schreiben');
  assert.equal(t('count', { n: 1 }), 'Ein Beitrag');
  assert.equal(t('count', { n: 4 }), '4 Beiträge');
  assert.equal(t('edit'), 'Bearbeiten');
  assert.equal(t('no-such-key'), 'no-such-key');
  // An override that is a plain string serves every count.
  assert.equal(makeT('en', { count: 'Comments ({n})' })('count', { n: 3 }), 'Comments (3)');
  // A plural override missing a category uses "other".
  assert.equal(makeT('en', { count: { other: '{n} notes' } })('count', { n: 1 }), '1 notes');
});

test('the chunks\' strings: every language has every key, with the same placeholders as English', () => {
  const holes = (v) => [...new Set([...JSON.stringify(v).matchAll(/\{(\w+)\}/g)].map((m) => m[1]))].sort();
  for (const [keys, raw] of [[WRITE_KEYS, WRITE_RAW], [FAR_KEYS, FAR_RAW]]) {
    const langs = parse(raw, keys);
    assert.deepEqual(Object.keys(langs).sort(), ['de', 'en', 'es', 'fr', 'zh']);
    for (const [lang, table] of Object.entries(langs)) {
      assert.equal(raw[lang].split('\n').length, keys.length, `${lang}: a line per key`);
      for (const k of keys) {
        assert.ok(table[k], `${lang}.${k} is empty`);
        assert.deepEqual(holes(table[k]), holes(langs.en[k]), `${lang}.${k} placeholders`);
      }
    }
    // No key of a chunk shadows one of the section's (overrides are by name).
    assert.deepEqual(keys.filter((k) => KEYS.includes(k)), []);
  }
});

test('the chunks\' translators: plurals, placeholders, overrides by name', () => {
  const far = (lang, o) => translator(parse(FAR_RAW, FAR_KEYS), lang, o);
  assert.equal(far('en')('like', { n: 1 }), '1 like');
  assert.equal(far('en')('repost', { n: 2 }), '2 reposts');
  assert.equal(far('de')('replyOn', { label: 'Mastodon' }), 'Auf Mastodon antworten');
  assert.equal(far('fr')('via', { label: 'mastodon.social' }), 'via mastodon.social');
  assert.equal(far('en', { via: 'from {label}' })('via', { label: 'x.example' }), 'from x.example');
  const write = translator(parse(WRITE_RAW, WRITE_KEYS), 'es');
  assert.equal(write('followed'), 'Revisa tu correo para confirmar.');
  assert.equal(write('preview'), 'Vista previa');
});

test('the refusals: the same codes in every language but English (the server\'s own), {max} kept', () => {
  assert.deepEqual(Object.keys(REFUSALS).sort(), ['de', 'es', 'fr', 'zh']);
  const codes = Object.keys(REFUSALS.de).sort();
  for (const code of ['too_long', 'invalid_email', 'edit_window_closed', 'comment_not_found', 'notifications_off', 'origin_not_allowed', 'internal_error']) {
    assert.ok(codes.includes(code), code);
  }
  for (const [lang, table] of Object.entries(REFUSALS)) {
    assert.deepEqual(Object.keys(table).sort(), codes, lang);
    for (const [code, text] of Object.entries(table)) assert.ok(typeof text === 'string' && text.trim(), `${lang}.${code}`);
    assert.match(table.too_long, /\{max\}/, lang);
  }
});
