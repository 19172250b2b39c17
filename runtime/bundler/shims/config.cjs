// require('../../../modules/config/payout.config.js')(id_key) → { get(key) }.
// The server answers config.get for the calling plugin only; the id a plugin passes in is
// checked here too so that a plugin asking for another plugin's config fails loudly at load.
'use strict';
const host = globalThis.__ps_host;

module.exports = function payoutConfig(idKey) {
  if (idKey !== undefined && String(idKey) !== host.pluginKey) {
    throw new Error("payout.config.js: plugin '" + host.pluginKey + "' asked for the config of '" + String(idKey) +
      "'; a plugin can only read its own config");
  }
  return Object.freeze({
    get(key) {
      return host.call('config.get', { key: String(key) });
    },
  });
};
