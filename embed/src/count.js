// count.js: comment counts only, for index pages.
import { loadCounts } from './counts.js';
import { apiBase, ownScript, onReady } from './script.js';

const script = ownScript(document, 'count.js');
if (script) {
  const base = apiBase(script.src);
  const site = script.getAttribute('data-site') || 'default';
  const counts = () => loadCounts(base, document, site);
  (window.Afterword = window.Afterword || {}).counts = counts;
  onReady(document, counts);
}
