// Styles go in once per document as a constructable stylesheet, which a CSP
// without 'unsafe-inline' for styles still allows; a <style> element only
// where adoptedStyleSheets is missing.
import css from './style.css';

const MARK = 'afterwordStyles';

export function injectStyles(doc) {
  if (doc[MARK]) return;
  doc[MARK] = true;
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
  } catch {
    const el = doc.createElement('style');
    el.textContent = css;
    doc.head.append(el);
  }
}
