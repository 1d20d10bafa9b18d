// Not a test: takes screenshots of a realistic thread in light and dark, at 1024 and 320 px,
// for a person to look at.   node embed/test/browser/screenshots.mjs [OUT_DIR]
// (default /tmp/afterword-shots). Uses the same harness as the tests.

import { mkdirSync } from 'node:fs';
import { setup, freshSlug, open, threadShown, mainForm, submit, comment, waitText } from './harness.mjs';

const out = process.argv[2] || '/tmp/afterword-shots';
mkdirSync(out, { recursive: true });
const world = await setup();
try {
  const slug = freshSlug('shots');
  const post = (c) => world.api.post('blog', slug, c);
  const a = await post({ author: 'Ada Lovelace', website: 'https://ada.example/', email: 'ada@example.com', body: 'What a lovely write-up. The part about **analytical engines** made me think of `loops` again.\n\n> Quoting the post: the machine weaves patterns\n\nMore like this, please!' });
  const b = await post({ author: 'Bob', parent_id: a.comment.id, body: 'Agreed — see https://example.com/a/fairly/long/link/that/should/wrap/nicely for more.' });
  const c = await post({ author: 'Ada Lovelace', email: 'ada@example.com', parent_id: b.comment.id, body: 'Thanks Bob.' });
  const d = await post({ parent_id: c.comment.id, body: 'An anonymous reply, one level deeper.' });
  await post({ author: 'Eve', parent_id: d.comment.id, body: 'Deeper still: shown flat, "in reply to".' });
  await post({ author: 'Zhang Wei', body: '写得很好！ A mixed-language comment with a list:\n\n- one\n- two\n- three' });

  for (const theme of ['light', 'dark']) {
    for (const width of [1024, 320]) {
      const p = await open(world, `${slug}?theme=${theme}`, { viewport: { width, height: 900 }, colorScheme: theme });
      await threadShown(p.page, 6);
      if (theme === 'light' && width === 1024) {
        // Once: an own comment (Edit/Delete, time left) lives in this context's storage.
        const r = await submit(p.page, mainForm(p.page), { body: 'My own comment, editable for a while.', author: 'Me' });
        await waitText(comment(p.page, r.json.comment.id).locator('.aw-edit-left'), /\d/);
      }
      await comment(p.page, a.comment.id).getByRole('button', { name: 'Reply', exact: true }).first().click();
      const file = `${out}/thread-${theme}-${width}.png`;
      await p.page.locator('.aw-root').screenshot({ path: file });
      console.log(file);
      await p.check();
      await p.close();
    }
  }
} finally {
  await world.close();
}
