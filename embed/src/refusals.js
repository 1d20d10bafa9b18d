// refusals.js: the chunk embed-refusals.js, the server's refusals in the reader's language
// (REFUSALS in i18n.js), loaded by the write chunk the first time the server refuses
// something to a reader who does not read English (the server's own language).
import { REFUSALS } from './i18n.js';

(window.Afterword ||= {}).refusals = REFUSALS;
