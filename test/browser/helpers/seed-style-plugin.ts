// A plugin written exactly in the platform's documented admin-template style (props declared as
// { type: "String" }, `this.config.apiSecret` as the secret's placeholder, alert('Success') after
// saving). Written into the test's plugin folder so the example stays next to the test using it.
import fs from 'node:fs';
import path from 'node:path';

const CONFIGURE = `module.exports.type = 'payout';
module.exports.title = 'SeedStyle';
module.exports.name = 'SeedStyle';
module.exports.required_npm = [];
module.exports.allow_XML = ['BTC'];
module.exports.default_config = { debug: '0', apiKey: '', apiSecret: '' };
module.exports.required_config = { debug: 1, apiKey: 1, apiSecret: 2 };
`;

const INDEX = `class SeedStyle {
  async getFields() { return []; }
  async transfer() { throw { message: 'test plugin: no payouts', code: 'test' }; }
}
module.exports = SeedStyle;
`;

const ADMIN_HTML = `<div>
  <p>SeedStyle Payout</p>
  <h3>Support currency:</h3>
  <ul><li>Crypto</li><li>BTC</li></ul>
  <hr>
  <h3>Config:</h3>
  <label>API Key:</label><br>
  <input id="seed-api-key" placeholder="apiKey" v-model="apiKey">
  <button id="seed-save-api-key" @click="saveConfig('apiKey', apiKey)">Save</button><br>
  <label>Secret Key:</label><br>
  <input id="seed-api-secret" :placeholder="this.config.apiSecret" v-model="apiSecret">
  <button id="seed-save-api-secret" @click="saveConfig('apiSecret', apiSecret)">Save</button><br>
  <label>Debug log?</label><br>
  <select v-model="debug"><option value="1">Yes</option><option value="0">No</option></select>
  <button @click="saveConfig('debug', debug)">Save</button>
  <hr>
  <h3>IP server:</h3><p>{{ this.publicIpV4 }}</p>
  <h3>Public IPv6:</h3><span>{{ this.publicIpV6 || "Not supported" }}</span>
  <h3>Webhook URL:</h3>
  <span id="seed-webhook">{{ this.schema }}://{{ this.domain }}{{ this.server_path }}payout_call/{{ this.payoutKey }}/url_final/</span>
</div>
`;

const ADMIN_JS = `const fs = require("fs");

module.exports = {
  template: fs.readFileSync(__dirname + '/admin.html', { encoding: 'utf8' }),
  props: {
    schema: { type: "String" },
    domain: { type: "String" },
    server_path: { type: "String" },
    publicIpV4: { type: "String" },
    publicIpV6: { type: "String" },
    payoutKey: { type: "String" },
    config: { type: "Object" }
  },
  data() {
    return { loadStatus: true, debug: '0', apiKey: '', apiSecret: '' };
  },
  created() {
    this.debug = this.config.debug;
    this.apiKey = this.config.apiKey;
  },
  methods: {
    saveConfig(key, value) {
      this.$rest.api('admin/merchant-and-payout/set-config-payout', { payoutKey: this.payoutKey, key, value })
        .then(res => {
          if (res.success) return alert('Success');
          alert('Error');
        })
        .catch(err => {
          console.error('admin/merchant-and-payout/set-config-payout', err);
          alert('Error');
        });
    },
  },
};
`;

export function writeSeedStylePlugin(pluginsDir: string, key = 'seedstyle'): string {
  const dir = path.join(pluginsDir, key);
  fs.mkdirSync(path.join(dir, 'templates'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'configure.js'), CONFIGURE);
  fs.writeFileSync(path.join(dir, 'index.js'), INDEX);
  fs.writeFileSync(path.join(dir, 'templates', 'admin.html'), ADMIN_HTML);
  fs.writeFileSync(path.join(dir, 'templates', 'admin.js'), ADMIN_JS);
  return dir;
}
