import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KEYS, LANGS, makeT, pickLang } from '../../src/i18n.js';

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
