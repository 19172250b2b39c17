const id_key = __dirname.split('/').slice(-1)[0];
const config = require('../../../modules/config/payout.config.js')(id_key);
const crypto = require('node:crypto');
const db = require('../../../db/index.js');
const updateHistory = require('../../../modules/updateHistory.js');
// The signed API client and the settle logic live in index.js so the webhook and the cron
// decide exactly the same way.
const NimbusPay = require('./index.js');

const nimbus = new NimbusPay();
const PAYOUT_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

// The webhook is signed over its raw bytes: hex(HMAC-SHA256(webhookSecret, rawBody)).
// A replayed webhook is harmless: the status is always re-read from the provider and a settled
// tx is no longer active.
function hasValidSignature(rawBody, givenSignature, webhookSecret) {
  if (!/^[0-9a-f]{64}$/i.test(givenSignature)) return false;
  // Hex out, then bytes: works the same with node:crypto and with a host-backed crypto shim.
  const expected = Buffer.from(crypto.createHmac('sha256', webhookSecret).update(rawBody).digest('hex'), 'hex');
  const given = Buffer.from(givenSignature, 'hex');
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

// Read the id from the bytes whose signature was just checked, not from a separately parsed copy.
function readPayoutId(rawBody, parsedPost) {
  let body = null;
  try {
    body = JSON.parse(rawBody);
  } catch (err) {
    body = parsedPost || null;
  }
  return body && typeof body === 'object' && body.id != null ? String(body.id) : '';
}

module.exports = {
  /** @url /payout_call/nimbuspay/url_final/ */
  url_final: async (req, res, param) => {
    res.set('Content-Type', 'text/plain');
    const reply = (status, text) => {
      res.writeHead(status);
      res.end(text);
    };

    if (req.METHOD !== 'POST') return reply(405, 'error method req');

    const webhookSecret = await config.get('webhookSecret');
    if (!webhookSecret) {
      console.error('{Payout} -> NimbusPay -> callback final. webhookSecret is not configured');
      return reply(503, 'webhook secret not configured');
    }
    const rawBody = param && typeof param.rawBody === 'string' ? param.rawBody : '';
    const givenSignature = String((req.headers && req.headers['x-nimbus-signature']) || '');
    if (!rawBody || !hasValidSignature(rawBody, givenSignature, webhookSecret)) {
      console.error('{Payout} -> NimbusPay -> callback final. Bad signature from', req.IP_ADDRESS);
      return reply(401, 'bad signature');
    }

    const payoutId = readPayoutId(rawBody, param.post);
    if (!PAYOUT_ID_PATTERN.test(payoutId)) return reply(400, 'No Data');

    const payoutTx = await db.OrderPayoutTxs.findOne({
      transaction: payoutId,
      active: true,
      payoutModule: id_key,
    }).populate('order');
    if (!payoutTx) {
      // Not 200: the webhook can outrun the host recording the tx, and a non-2xx makes the
      // provider retry. The cron settles it otherwise.
      return reply(404, 'No active payout');
    }

    let payout;
    try {
      payout = await nimbus.fetchPayout(payoutId);
    } catch (err) {
      console.error('{Payout} -> NimbusPay -> callback final. Error get payout:', (err && err.message) || err);
      return reply(502, 'Error get payout');
    }

    const outcome = await nimbus.settlePayoutTx({ db, updateHistory, tx: payoutTx, payout });
    if (outcome === 'done') return reply(200, 'ok');
    if (outcome === 'historyFailed') return reply(500, 'retry later');
    if (outcome === 'referenceMismatch') return reply(409, 'reference mismatch');
    return reply(200, outcome);
  },
};
