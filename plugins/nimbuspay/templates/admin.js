const fs = require('fs');

const SECRET_KEYS = ['apiSecret', 'webhookSecret'];

module.exports = {
  template: fs.readFileSync(__dirname + '/admin.html', 'utf8'),
  props: {
    schema: { type: String },
    domain: { type: String },
    server_path: { type: String },
    publicIpV4: { type: String },
    publicIpV6: { type: String },
    payoutKey: { type: String },
    config: { type: Object },
  },
  data() {
    return {
      apiUrl: '',
      apiKey: '',
      debug: '0',
      // Secret inputs start empty and are cleared after saving: a stored secret is never read
      // back into the page, only whether one is set.
      apiSecret: '',
      webhookSecret: '',
      secretIsSet: { apiSecret: false, webhookSecret: false },
      message: '',
    };
  },
  computed: {
    webhookUrl() {
      return this.schema + '://' + this.domain + this.server_path + 'payout_call/' + this.payoutKey + '/url_final/';
    },
  },
  created() {
    const config = this.config || {};
    this.apiUrl = config.apiUrl || '';
    this.apiKey = config.apiKey || '';
    this.debug = config.debug === '1' ? '1' : '0';
    for (const key of SECRET_KEYS) this.secretIsSet[key] = Boolean(config[key]);
  },
  methods: {
    secretPlaceholder(key) {
      return this.secretIsSet[key] ? 'Set (type a new value to replace it)' : 'Not set';
    },
    saveSecret(key) {
      const value = this[key];
      return this.saveConfig(key, value).then((saved) => {
        if (!saved) return;
        this[key] = '';
        this.secretIsSet[key] = true;
      });
    },
    saveConfig(key, value) {
      this.message = '';
      return this.$rest.api('admin/merchant-and-payout/set-config-payout', {
        payoutKey: this.payoutKey,
        key,
        value,
      })
        .then((res) => {
          const saved = Boolean(res && res.success);
          this.message = saved ? 'Saved: ' + key : 'Could not save ' + key;
          return saved;
        })
        .catch((err) => {
          console.error('admin/merchant-and-payout/set-config-payout', err);
          this.message = 'Could not save ' + key;
          return false;
        });
    },
  },
};
