// embed.js: the comment section under #afterword, counts on the same page,
// and window.Afterword.render(element, options) for single-page sites.
import { parseConfig } from './config.js';
import { loadCounts } from './counts.js';
import { apiBase, ownScript, onReady } from './script.js';
import { createStore, safeStorage } from './storage.js';
import { injectStyles } from './style.js';
import { mount } from './thread.js';

const script = ownScript(document, 'embed.js');
if (script) {
  const base = apiBase(script.src);
  const data = { ...script.dataset };
  const store = createStore(safeStorage(window));

  const render = (target, options) => {
    const el = typeof target === 'string' ? document.querySelector(target) : target;
    if (!el) return;
    // The instance lives on the element, so a second copy of this script
    // (pasted twice) sees it too.
    el.afterword?.destroy();
    const cfg = parseConfig(data, options, {
      pathname: location.pathname,
      href: location.href,
      title: document.title,
      htmlLang: document.documentElement.lang,
      navLangs: navigator.languages,
    });
    injectStyles(document);
    el.afterword = mount(el, cfg, base, store);
  };
  const counts = () => loadCounts(base, document, data.site);

  Object.assign((window.Afterword ||= {}), { render, counts });
  onReady(document, () => {
    const el = document.getElementById('afterword');
    if (el && !el.afterword) render(el);
    counts();
  });
}
