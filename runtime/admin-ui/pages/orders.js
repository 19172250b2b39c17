// Orders: the list with filters, and one order with its history, payout attempts, payout txs and
// IPNs; status moves (only those the server offers in nextStatuses), a manual payout run, and
// resolving a hold.
import { h, ref, reactive, defineComponent, onBeforeUnmount, onMounted } from '/admin/vendor/vue.runtime.js';
import { api } from '../api.js';
import { href, navigate, route } from '../router.js';
import { ActionButton, badge, dataTable, details, fmtTime, requestView, statusBadge, useRequest, field, text } from '../ui.js';

const STATUSES = ['new', 'waitPayment', 'errorPayment', 'inProgress', 'inProgressPayout', 'errorPayout', 'hold', 'done', 'returned', 'deleted'];
const PAGE = 50;

const amount = (o) => h('span', { class: 'mono' }, `${o.inAmount} ${o.fromXml} → ${o.outAmount} ${o.toXml}`);

export const OrdersPage = defineComponent({
  setup() {
    const filters = reactive({ status: route.query.status || '', plugin: route.query.plugin || '' });
    const rows = ref([]);
    const more = ref(false);
    const req = useRequest(async () => {
      const data = await api('orders', { query: { status: filters.status, plugin: filters.plugin, limit: PAGE } });
      rows.value = data.orders;
      more.value = data.orders.length === PAGE;
      return data;
    });
    const loadMore = async () => {
      const last = rows.value[rows.value.length - 1];
      const data = await api('orders', { query: { status: filters.status, plugin: filters.plugin, limit: PAGE, beforeUid: last.uid } });
      rows.value = rows.value.concat(data.orders);
      more.value = data.orders.length === PAGE;
    };
    const apply = (event) => {
      event.preventDefault();
      navigate('/orders', { status: filters.status, plugin: filters.plugin.trim() });
      req.run();
    };
    onMounted(req.run);
    return () => h('main', [
      h('div', { class: 'page-head' }, [h('h1', 'Orders')]),
      h('form', { class: 'filters', onSubmit: apply }, [
        field('Status', h('select', { value: filters.status, onChange: (e) => { filters.status = e.target.value; } }, [
          h('option', { value: '' }, 'any'), ...STATUSES.map((s) => h('option', { value: s }, s)),
        ])),
        field('Payout plugin', h('input', { value: filters.plugin, placeholder: 'plugin key', onInput: (e) => { filters.plugin = e.target.value; } })),
        h('button', { type: 'submit', class: 'primary', disabled: req.state.loading }, req.state.loading ? 'Loading…' : 'Show'),
      ]),
      requestView(req, 'orders', () => h('div', [
        dataTable([
          { label: 'Order', render: (o) => h('a', { href: href(`/orders/${o.uid}`), onClick: (e) => e.stopPropagation() }, `#${o.uid}`) },
          { label: 'Created', render: (o) => fmtTime(o.createdAt) },
          { label: 'Status', render: (o) => [statusBadge(o.status), o.holdReason ? badge('on hold', 'warn', o.holdReason) : null] },
          { label: 'Amount', render: amount },
          { label: 'Payout plugin', render: (o) => text(o.payoutModule) },
          { label: 'Payout status', render: (o) => text(o.payoutStatus) },
        ], rows.value, {
          empty: filters.status || filters.plugin ? 'No orders match these filters.' : 'No orders yet. Orders appear here when merchants create them through the API.',
          rowKey: (o) => o._id, onRow: (o) => navigate(`/orders/${o.uid}`),
        }),
        more.value ? h(ActionButton, { label: 'Load older orders', action: loadMore }) : null,
      ])),
    ]);
  },
});

/** The moves the server allows from this status (nextStatuses), each with an optional comment. */
const StatusMoves = defineComponent({
  props: { order: Object },
  emits: ['changed'],
  setup(props, { emit }) {
    const comment = ref('');
    const move = async (status) => {
      try {
        await api(`orders/${props.order._id}/status`, { method: 'POST', body: { status, ...(comment.value.trim() ? { comment: comment.value.trim() } : {}) } });
      } catch (err) {
        // The order changed under this page (a payout started, the sweep held it): reload, so the
        // moves and forms shown are the ones the server accepts now.
        if (err.status === 409) emit('changed');
        throw err;
      }
      comment.value = '';
      emit('changed');
    };
    return () => {
      const next = props.order.nextStatuses || [];
      const lock = props.order.statusLock;
      if (lock === 'resolve-hold') {
        return h('p', { class: 'hint status-lock' }, 'The payout of this order waits for review: its status changes only through "Resolve the hold" above (paid, not paid, or try again).');
      }
      const paused = lock === 'payout-in-progress'
        ? h('p', { class: 'hint status-lock' }, next.length
          ? 'A payout of this order is in progress: the only move is to pause it (hold); then resolve the hold once the provider has answered.'
          : 'A payout of this order is in progress: wait until it ends (this page updates itself), then decide.')
        : null;
      if (!next.length) return paused || h('p', { class: 'hint' }, `${props.order.status} is final: no further status moves.`);
      return h('div', [
        paused,
        field('Comment (optional, kept in the history)', h('input', { value: comment.value, maxlength: 2000, size: 50, onInput: (e) => { comment.value = e.target.value; } })),
        h('div', next.map((s) => h(ActionButton, { key: s, label: `Move to ${s}`, action: () => move(s), confirm: `Move order #${props.order.uid} from ${props.order.status} to ${s}?` }))),
      ]);
    };
  },
});

const ResolveHold = defineComponent({
  props: { order: Object },
  emits: ['changed'],
  setup(props, { emit }) {
    const form = reactive({ resolution: 'paid', comment: '' });
    const error = ref('');
    const busy = ref(false);
    async function submit(event) {
      event.preventDefault();
      error.value = '';
      if (form.comment.trim().length < 3) {
        error.value = 'Say why (at least 3 characters): the comment is kept in the order history.';
        return;
      }
      busy.value = true;
      try {
        await api(`orders/${props.order._id}/resolve`, { method: 'POST', body: { resolution: form.resolution, comment: form.comment.trim() } });
        form.comment = '';
        emit('changed');
      } catch (err) {
        error.value = err.message;
      } finally {
        busy.value = false;
      }
    }
    return () => h('form', { class: 'filters', onSubmit: submit }, [
      field('Outcome', h('select', { value: form.resolution, onChange: (e) => { form.resolution = e.target.value; } }, [
        h('option', { value: 'paid' }, 'Paid — the provider did pay (→ done)'),
        h('option', { value: 'not_paid' }, 'Not paid (→ errorPayout)'),
        h('option', { value: 'retry' }, 'Not paid, try again (→ inProgressPayout, new attempt)'),
      ])),
      field('Why (checked with the provider?)', h('input', { value: form.comment, size: 40, onInput: (e) => { form.comment = e.target.value; } })),
      h('button', { type: 'submit', class: 'primary', disabled: busy.value }, busy.value ? 'Resolving…' : 'Resolve hold'),
      error.value ? h('span', { class: 'inline-error', role: 'alert' }, error.value) : null,
    ]);
  },
});

export const OrderPage = defineComponent({
  props: { orderId: String },
  setup(props) {
    const req = useRequest(() => api(`orders/${encodeURIComponent(props.orderId)}`));
    const payoutResult = ref('');
    onMounted(req.run);
    // While a payout runs the page follows it (attempt states, txs, IPNs) without a reload; it
    // stops polling once nothing is in flight, and when the page is left.
    const inFlight = () => {
      const o = req.state.data && req.state.data.order;
      return Boolean(o && (o.status === 'inProgressPayout' || o.statusLock === 'payout-in-progress'));
    };
    const poll = setInterval(() => { if (inFlight() && !req.state.loading && document.visibilityState === 'visible') req.run(); }, 2000);
    onBeforeUnmount(() => clearInterval(poll));
    const runPayout = async () => {
      const res = await api(`orders/${encodeURIComponent(props.orderId)}/payout`, { method: 'POST' });
      payoutResult.value = `Payout ${res.outcome.kind}${res.outcome.reason ? `: ${res.outcome.reason}` : ''}`;
      await req.run();
    };
    return () => h('main', [
      h('p', h('a', { href: href('/orders') }, '← All orders')),
      requestView(req, 'the order', (d) => {
        const o = d.order;
        return h('div', [
          h('div', { class: 'page-head' }, [
            h('h1', [`Order #${o.uid} `, statusBadge(o.status)]),
            inFlight() ? h('span', { class: 'hint live', role: 'status' }, 'Payout in progress: this page updates itself') : null,
          ]),
          o.status === 'hold' ? h('p', { class: 'state error', role: 'alert' }, `On hold: ${o.holdReason || 'no reason recorded'}. Check with the provider, then resolve below.`) : null,
          h('section', { class: 'card' }, [
            details([
              ['Id', h('span', { class: 'mono' }, o._id)],
              ['Amount', amount(o)],
              ['Payout plugin', text(o.payoutModule)],
              ['Payout status', text(o.payoutStatus)],
              ['Note', text(o.orderNote)],
              ['Recipient', (o.toValues || []).length ? o.toValues.map((v) => h('div', { class: 'mono' }, `${v.key}: ${v.value}`)) : '—'],
              ['Merchant IPN', o.ipnUrl ? [h('span', { class: 'mono' }, o.ipnUrl), ' ', o.ipnSecretSet ? badge('signed', 'ok') : badge('no secret', 'warn')] : 'none'],
              ['Created', fmtTime(o.createdAt)],
              ['Updated', fmtTime(o.updatedAt)],
            ]),
          ]),
          h('section', { class: 'card' }, [
            h('h2', 'Actions'),
            o.status === 'inProgressPayout' ? h('div', [
              h('h3', 'Payout'),
              h('p', { class: 'hint' }, 'Runs the payout plugin now. Refused while another payout attempt of this order is in progress.'),
              h(ActionButton, { label: 'Run payout now', kind: 'primary', action: runPayout, confirm: `Send the payout of order #${o.uid} now?` }),
            ]) : null,
            // Outside the block above: the payout may already have moved the order on.
            payoutResult.value ? h('p', { class: 'inline-ok', role: 'status' }, payoutResult.value) : null,
            o.status === 'hold' ? h('div', [h('h3', 'Resolve the hold'), h(ResolveHold, { order: o, onChanged: req.run })]) : null,
            h('h3', 'Status'),
            h(StatusMoves, { order: o, onChanged: req.run }),
          ]),
          h('section', { class: 'card' }, [
            h('h2', 'History'),
            dataTable([
              { label: 'Time', render: (e) => fmtTime(e.at) },
              { label: 'Move', render: (e) => [e.fromStatus ? statusBadge(e.fromStatus) : badge('created'), '→ ', statusBadge(e.toStatus)] },
              { label: 'By', key: 'actor' },
              { label: 'Payout status', render: (e) => text(e.payoutStatus) },
              { label: 'Comment', render: (e) => text(e.comment) },
            ], d.history, { empty: 'No history entries.', rowKey: (e) => e._id }),
          ]),
          h('section', { class: 'card' }, [
            h('h2', 'Payout attempts'),
            dataTable([
              { label: 'Started', render: (a) => fmtTime(a.createdAt) },
              { label: 'Plugin', key: 'plugin' },
              { label: 'State', render: (a) => statusBadge(a.state) },
              { label: 'Transaction', render: (a) => h('span', { class: 'mono' }, text(a.transaction)) },
              { label: 'Reported', render: (a) => (a.reportedAmount ? `${a.reportedAmount} ${a.reportedCurrency || ''}` : '—') },
              { label: 'Requests sent', key: 'requestsSent' },
              // Whether a request of transfer() left (recorded before it reached a socket), and
              // what the provider answered: what a held payout is judged by.
              { label: 'Request left', render: (a) => (a.requestLeftAt ? fmtTime(a.requestLeftAt) : a.requestLeftAt === null ? 'no' : 'not recorded') },
              { label: 'Provider answers', render: (a) => ((a.requests || []).length
                ? h('ul', { class: 'answers' }, a.requests.map((r) => h('li', { class: 'mono' }, `${r.decision === 'allowed' ? '' : `${r.decision}: `}${r.summary}`)))
                : '—') },
              { label: 'Reason', render: (a) => text(a.reason) },
              { label: 'Review by', render: (a) => fmtTime(a.reviewDeadline) },
            ], d.attempts, { empty: 'No payout attempts yet.', rowKey: (a) => a._id }),
          ]),
          h('section', { class: 'card' }, [
            h('h2', 'Payout transactions'),
            dataTable([
              { label: 'Transaction', render: (t) => h('span', { class: 'mono' }, t.transaction) },
              { label: 'Active', render: (t) => (t.active ? badge('active', 'info') : badge('closed')) },
              { label: 'Amount', render: (t) => `${t.amount} ${t.currency}` },
              { label: 'To', render: (t) => text(t.to) },
              { label: 'Note', render: (t) => text(t.note) },
              { label: 'Updated', render: (t) => fmtTime(t.updatedAt) },
            ], d.payoutTxs, { empty: 'No payout transactions.', rowKey: (t) => t._id }),
          ]),
          h('section', { class: 'card' }, [
            h('h2', 'Merchant notifications (IPN)'),
            dataTable([
              { label: 'Created', render: (i) => fmtTime(i.createdAt) },
              { label: 'Status sent', render: (i) => statusBadge(i.status) },
              { label: 'Delivery', render: (i) => statusBadge(i.state) },
              { label: 'Attempts', render: (i) => `${i.attempts} / ${i.maxAttempts}` },
              { label: 'URL', render: (i) => h('span', { class: 'mono' }, i.url) },
              { label: 'Last error', render: (i) => text(i.lastError) },
            ], d.ipns, { empty: 'No IPNs for this order.', rowKey: (i) => i._id }),
          ]),
        ]);
      }),
    ]);
  },
});
