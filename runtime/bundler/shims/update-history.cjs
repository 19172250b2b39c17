// require('../../../modules/updateHistory.js') → updateHistory({orderId, oldStatus, status,
// payoutStatus, orderNote, comment}). The server accepts it only for the plugin's own order in
// inProgressPayout and only towards done or errorPayout (host-api/history.ts).
'use strict';
const host = globalThis.__ps_host;
const text = (v) => (v === undefined || v === null ? null : String(v));

module.exports = function updateHistory(params) {
  const p = params && typeof params === 'object' ? params : {};
  return host.call('history.update', {
    orderId: text(p.orderId),
    oldStatus: text(p.oldStatus),
    status: text(p.status),
    payoutStatus: text(p.payoutStatus),
    orderNote: text(p.orderNote),
    comment: text(p.comment),
  });
};
