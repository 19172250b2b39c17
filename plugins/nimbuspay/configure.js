// NimbusPay: an example payout plugin in the platform format (card payouts in UAH, USDT on
// TRON and Ethereum, BTC). The provider is fictional; runtime/demo/fake-provider.ts plays it.
module.exports.type = 'payout';
module.exports.title = 'NimbusPay';
module.exports.name = 'NimbusPay';
module.exports.required_npm = [];
module.exports.allow_XML = ['CARDUAH', 'USDTTRC20', 'USDTERC20', 'BTC'];

module.exports.default_config = {
  apiUrl: 'https://api.nimbuspay.example',
  apiKey: '',
  apiSecret: '',
  webhookSecret: '',
  debug: '0',
};

// 1 = shown in the admin page, 2 = secret (never shown back, only "set" / "not set").
module.exports.required_config = {
  apiUrl: 1,
  apiKey: 1,
  apiSecret: 2,
  webhookSecret: 2,
  debug: 1,
};
