// require('../../../modules/i18n') → i18n(lang, fallbackLang)._t(key, vars). Unknown keys give ''
// so that plugins' `_t(key) || 'Fallback'` shows their own fallback.
'use strict';
const host = globalThis.__ps_host;

function interpolate(template, vars) {
  if (!vars || typeof vars !== 'object') return template;
  return template.replace(/\{\{\s*(\w+)\s*\}\}|\{(\w+)\}/g, (m, a, b) => {
    const k = a || b;
    return Object.prototype.hasOwnProperty.call(vars, k) ? String(vars[k]) : m;
  });
}

module.exports = function i18n(lang, fallbackLang) {
  return {
    _t(key, vars) {
      return interpolate(host.label(String(lang || ''), String(fallbackLang || 'en'), String(key)), vars);
    },
  };
};
