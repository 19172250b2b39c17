const id_key = __dirname.split('/').slice(-1)[0];
const config = require('../../../modules/config/payout.config.js')(id_key);
const BigNumber = require('bignumber.js');
const axios = require('axios');
const i18n = require('../../../modules/i18n');
const crypto = require('node:crypto');
const Promise = require('bluebird');

const DEFAULT_API_URL = 'https://api.nimbuspay.example';
const REQUEST_TIMEOUT_MS = 20000;
// Pause between status polls in the cron so a long backlog does not trip the provider's rate limit.
const POLL_SPACING_MS = 50;

// Numeric codes like the platform's own plugins use, so the admin can grep logs for them.
const ERROR_CODES = {
  CONFIG_MISSING: 7100001,
  EMPTY_RESPONSE: 7100002,
  BAD_RESPONSE: 7100003,
  PROVIDER_REFUSED: 7100400,
  PROVIDER_FAILED: 7100500,
  NO_ANSWER: 7100600,
};

const CARD_REGEXP = '^[0-9]{16,19}$';

// Matched exactly, not by prefix: a prefix test for 'BTC' would also accept codes such as
// BTCBEP20 and send coins to an address on the wrong network.
const CURRENCIES = {
  CARDUAH: { type: 'card', currency: 'UAH', network: 'CARD', decimals: 2, label: 'UAH' },
  USDTTRC20: {
    type: 'crypto', currency: 'USDT', network: 'TRC20', decimals: 6, label: 'USDT (TRC20)',
    addressRegexp: '^T[1-9A-HJ-NP-Za-km-z]{33}$',
  },
  USDTERC20: {
    type: 'crypto', currency: 'USDT', network: 'ERC20', decimals: 6, label: 'USDT (ERC20)',
    addressRegexp: '^0x[0-9a-fA-F]{40}$',
  },
  BTC: {
    type: 'crypto', currency: 'BTC', network: 'BTC', decimals: 8, label: 'BTC',
    addressRegexp: '^(bc1[02-9ac-hj-np-z]{11,71}|[13][1-9A-HJ-NP-Za-km-z]{25,34})$',
  },
};

const FINAL_FAILURE_STATUSES = ['FAILED', 'CANCELED'];

function passesLuhn(digits) {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

// Orders carry their values either as a plain object or as the platform's [{key, value}] list.
function readOutValue(outValues, key) {
  if (!outValues) return '';
  if (Array.isArray(outValues)) {
    const entry = outValues.find((item) => item && item.key === key);
    return entry && entry.value != null ? String(entry.value) : '';
  }
  return outValues[key] != null ? String(outValues[key]) : '';
}

// The order history and the payout tx keep `to`; a full card number has no business there.
function maskCard(digits) {
  return digits.slice(0, 6) + '*'.repeat(digits.length - 10) + digits.slice(-4);
}

function providerError(message, code, statusCode) {
  const error = { message, code };
  if (statusCode) error.statusCode = statusCode;
  return error;
}

class NimbusPay {
  constructor(options) {
    this.allowIPs = [];
    this.id_key = id_key;
    this.conf = {};
    for (const key of ['apiUrl', 'apiKey', 'apiSecret', 'debug']) {
      if (options && options[key]) this.conf[key] = options[key];
    }
  }

  async setting(key) {
    return this.conf[key] || (await config.get(key)) || '';
  }

  getProviderByXML(xml) {
    if (!xml || !Object.prototype.hasOwnProperty.call(CURRENCIES, xml)) return null;
    return CURRENCIES[xml];
  }

  async getFields(lang, xml) {
    const provider = this.getProviderByXML(xml);
    if (!provider) return null;
    const t = i18n(lang, 'en');

    if (provider.type === 'card') {
      return [{
        _id: 'card_number',
        name: (t._t('payout/field/card_number') || 'Card number') + ' ' + provider.label,
        placeholder: '0000000000000000',
        regexp: CARD_REGEXP,
        regexp_error: (t._t('payout/field/error/card_number') || 'Card number incorrect') + ' ' + provider.label,
        required: true,
      }];
    }
    return [{
      _id: 'account_crypto',
      name: t._t('payout/field/crypto_address', { currency: provider.label }) || provider.label + ' address',
      placeholder: provider.network === 'ERC20' ? '0x…' : 'Address…',
      regexp: provider.addressRegexp,
      regexp_error: t._t('payout/field/error/crypto_address', { currency: provider.label }) ||
        'Address incorrect for ' + provider.label,
      required: true,
    }];
  }

  /**
   * Signed call to the NimbusPay API. `methodAndPath` is 'GET:/v1/balance' style.
   * Signature: hex(HMAC-SHA256(apiSecret, timestamp + METHOD + path + body)), where path is the
   * path and query exactly as sent and body the exact JSON text sent ('' for GET).
   */
  async api_query(methodAndPath, data) {
    const separator = methodAndPath.indexOf(':');
    const method = separator > 0 ? methodAndPath.slice(0, separator).toUpperCase() : 'POST';
    const path = separator > 0 ? methodAndPath.slice(separator + 1) : methodAndPath;

    const apiUrl = (await this.setting('apiUrl') || DEFAULT_API_URL).replace(/\/+$/, '');
    const apiKey = await this.setting('apiKey');
    const apiSecret = await this.setting('apiSecret');
    const isDebug = String(await this.setting('debug')) === '1';
    if (!apiKey || !apiSecret) {
      return Promise.reject(providerError('Config for NimbusPay is not installed (apiKey / apiSecret).', ERROR_CODES.CONFIG_MISSING));
    }

    // Sign the very string that goes on the wire, so no serialiser can change it after signing.
    const body = method === 'GET' ? '' : JSON.stringify(data || {});
    const url = apiUrl + path;
    const parsedUrl = new URL(url);
    const signedPath = parsedUrl.pathname + parsedUrl.search;
    const timestamp = String(Date.now());
    const signature = crypto.createHmac('sha256', apiSecret)
      .update(timestamp + method + signedPath + body)
      .digest('hex');

    const request = {
      url,
      method,
      timeout: REQUEST_TIMEOUT_MS,
      headers: {
        'Content-Type': 'application/json',
        'X-Nimbus-Key': apiKey,
        'X-Nimbus-Timestamp': timestamp,
        'X-Nimbus-Signature': signature,
      },
    };
    if (body) request.data = body;

    const startedAt = Date.now();
    try {
      const res = await axios(request);
      if (isDebug) console.log('{Payout} -> NimbusPay -> ' + method + ' ' + signedPath + ' took ' + (Date.now() - startedAt) + ' ms');
      if (!res.data) return Promise.reject(providerError('NimbusPay answered with an empty body.', ERROR_CODES.EMPTY_RESPONSE));
      if (typeof res.data !== 'object') {
        return Promise.reject(providerError('NimbusPay answered with something that is not JSON.', ERROR_CODES.BAD_RESPONSE));
      }
      return res.data;
    } catch (err) {
      const response = err && err.response;
      if (response) {
        const detail = response.data && (response.data.message || response.data.error);
        const status = Number(response.status);
        const message = 'NimbusPay ' + (status < 500 ? 'refused' : 'failed on') + ' ' + method + ' ' + path +
          ' (HTTP ' + status + ')' + (detail ? ': ' + detail : '');
        console.error('{Payout} -> NimbusPay -> ' + message);
        return Promise.reject(providerError(message, status < 500 ? ERROR_CODES.PROVIDER_REFUSED : ERROR_CODES.PROVIDER_FAILED, status));
      }
      const reason = (err && err.message) || String(err);
      console.error('{Payout} -> NimbusPay -> no answer to ' + method + ' ' + path + ': ' + reason);
      return Promise.reject(providerError('NimbusPay did not answer ' + method + ' ' + path + ': ' + reason, ERROR_CODES.NO_ANSWER));
    }
  }

  async fetchPayout(payoutId) {
    const payout = await this.api_query('GET:/v1/payouts/' + encodeURIComponent(payoutId));
    if (!payout || !payout.id || !payout.status) {
      return Promise.reject(providerError('NimbusPay returned no payout for ' + payoutId, ERROR_CODES.BAD_RESPONSE));
    }
    return payout;
  }

  /**
   * @param order {object} - order: _id, uid, outAmount (decimal string), outXML, outSymbol,
   *   outValues ({card_number} for cards, {account_crypto} for crypto)
   */
  transfer(order) {
    return (async () => {
      if (!order) return Promise.reject('Error order.');
      if (!order._id) return Promise.reject('Error id order.');
      if (!order.uid) return Promise.reject('Error uid order.');
      if (!order.outXML) return Promise.reject('Error xml order.');

      const provider = this.getProviderByXML(order.outXML);
      if (!provider) return Promise.reject('Error currency provider order: ' + order.outXML + ' is not served by NimbusPay.');

      const amount = new BigNumber(order.outAmount == null ? NaN : String(order.outAmount));
      if (!amount.isFinite() || amount.lte(0)) return Promise.reject('Error outAmount order.');
      // Refuse rather than round: a rounded payout is a different payout than the one ordered.
      if (amount.decimalPlaces() > provider.decimals) {
        return Promise.reject('Error outAmount order: ' + provider.currency + ' allows at most ' + provider.decimals + ' decimals.');
      }

      let destination;
      let shownDestination;
      if (provider.type === 'card') {
        destination = readOutValue(order.outValues, 'card_number').replace(/[\s-]/g, '');
        if (!new RegExp(CARD_REGEXP).test(destination)) return Promise.reject('Error card number order.');
        if (!passesLuhn(destination)) return Promise.reject('Error card number order: checksum does not match.');
        shownDestination = maskCard(destination);
      } else {
        destination = readOutValue(order.outValues, 'account_crypto').trim();
        if (!new RegExp(provider.addressRegexp).test(destination)) {
          return Promise.reject('Error crypto address order: not a ' + provider.label + ' address.');
        }
        shownDestination = destination;
      }

      const balanceAnswer = await this.api_query('GET:/v1/balance');
      const available = balanceAnswer.balances && balanceAnswer.balances[provider.currency];
      if (available == null || !new BigNumber(String(available)).isFinite()) {
        return Promise.reject(providerError('NimbusPay reports no ' + provider.currency + ' balance.', ERROR_CODES.BAD_RESPONSE));
      }
      if (amount.gt(String(available))) {
        return Promise.reject('Error available balance is low for transfer. ' + String(available) + ' < ' + amount.toFixed());
      }

      const payoutRequest = {
        amount: amount.toFixed(),
        currency: provider.currency,
        network: provider.network,
        destination,
        merchant_reference: String(order._id),
      };
      // Without a public base URL there is nowhere to call back; the cron still settles the payout.
      if (process.env.API_URL) payoutRequest.callback_url = process.env.API_URL + 'payout_call/' + id_key + '/url_final/';
      const payout = await this.api_query('POST:/v1/payouts', payoutRequest);
      if (!payout || !payout.id) {
        // The request was sent; the money may be on its way even though the answer is unusable.
        return Promise.reject(providerError('NimbusPay answered the payout request without an id; outcome unknown.', ERROR_CODES.BAD_RESPONSE));
      }
      if (FINAL_FAILURE_STATUSES.includes(payout.status)) {
        return Promise.reject(providerError('NimbusPay declined the payout ' + payout.id + ': ' + (payout.failure_reason || payout.status), ERROR_CODES.PROVIDER_REFUSED));
      }

      return {
        ok: payout.status === 'DONE' ? 1 : 2,
        transaction: String(payout.id),
        // What the provider says it pays, so the host sees any difference from outAmount.
        amount: String(payout.amount != null ? payout.amount : amount.toFixed()),
        currency: String(order.outSymbol || provider.currency).toUpperCase(),
        to: shownDestination,
      };
    })();
  }

  /**
   * Finalise one payout tx from the provider's own view of the payout. Shared by the url_final
   * callback and the cron so both reach the same decision. Returns what was done.
   */
  async settlePayoutTx({ db, updateHistory, tx, payout }) {
    const deactivate = () => db.OrderPayoutTxs.updateOne({ _id: tx._id }, { $set: { active: false } });
    const order = tx.order;
    if (!order) {
      await deactivate();
      return 'noOrder';
    }
    if (order.status !== 'inProgressPayout') {
      await deactivate();
      console.error('{Payout} -> NimbusPay -> order is not inProgressPayout any more. PAY_TX_ID:', tx._id);
      return 'alreadyProcessedTx';
    }
    // The provider's record must point back at this very order; anything else is not ours to settle.
    if (payout.merchant_reference != null && String(payout.merchant_reference) !== String(order._id)) {
      console.error('{Payout} -> NimbusPay -> payout ' + payout.id + ' belongs to another order. PAY_TX_ID:', tx._id);
      return 'referenceMismatch';
    }

    const expectedAmount = order.outAmount != null ? order.outAmount : tx.amount;
    const reportedAmount = payout.amount != null ? String(payout.amount) : '?';
    const amountDiffers = expectedAmount != null && !new BigNumber(String(expectedAmount)).eq(new BigNumber(reportedAmount));
    const amountNote = ' Amount: ' + reportedAmount + ' ' + (payout.currency || '') +
      (amountDiffers ? '. AMOUNT MISMATCH: order expects ' + expectedAmount + ', NimbusPay reports ' + reportedAmount : '');

    let status;
    let entry;
    if (payout.status === 'DONE') {
      status = 'done';
      entry = {
        orderId: order._id, oldStatus: order.status, status: 'done', payoutStatus: 'done',
        orderNote: String(payout.tx_hash || payout.id),
        comment: 'Success payout: (' + payout.id + ')' + amountNote + (payout.tx_hash ? ', TxId: ' + payout.tx_hash : ''),
      };
    } else if (FINAL_FAILURE_STATUSES.includes(payout.status)) {
      status = 'errorPayout';
      entry = {
        orderId: order._id, oldStatus: order.status, status: 'errorPayout', payoutStatus: 'error',
        comment: 'Error payout: (' + payout.id + ') ' + payout.status +
          (payout.failure_reason ? ' - ' + payout.failure_reason : '') + '.' + amountNote,
      };
    } else {
      return 'skip';
    }

    try {
      await updateHistory(entry);
    } catch (err) {
      // Keep the tx active: the next cron run (or a webhook retry) settles it again. Marking it
      // inactive here would leave the order in inProgressPayout with nothing watching it.
      console.error('{Payout} -> NimbusPay -> updateHistory failed for PAY_TX_ID ' + tx._id + ':', (err && err.message) || err);
      return 'historyFailed';
    }
    await deactivate();
    return status;
  }

  initCron({ db, updateHistory }) {
    return {
      callWhenInit: true,
      schedule: '*/30 * * * * *',
      fn: async () => {
        const filter = { active: true, payoutModule: id_key };
        const waiting = await db.OrderPayoutTxs.countDocuments(filter);
        if (waiting <= 0) return { checked: 0 };

        const payoutTxs = await db.OrderPayoutTxs.find(filter).populate('order').lean();
        const summary = { checked: 0, done: 0, errorPayout: 0, skipped: 0, errors: 0 };
        await Promise.mapSeries(payoutTxs, async (tx, index) => {
          if (index > 0) await Promise.delay(POLL_SPACING_MS);
          summary.checked++;
          try {
            const payout = await this.fetchPayout(tx.transaction);
            const outcome = await this.settlePayoutTx({ db, updateHistory, tx, payout });
            if (outcome === 'done') summary.done++;
            else if (outcome === 'errorPayout') summary.errorPayout++;
            else summary.skipped++;
          } catch (err) {
            // One unreachable payout must not stop the others from being settled.
            summary.errors++;
            console.error('{Payout} -> NimbusPay -> cron could not check PAY_TX_ID ' + tx._id + ':', (err && err.message) || err);
          }
        });
        return summary;
      },
    };
  }
}

module.exports = NimbusPay;
