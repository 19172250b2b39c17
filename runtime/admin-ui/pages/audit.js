// The audit log: every host call a plugin made (allowed, denied with the rule, or error) and every
// administrator action, newest first, with filters kept in the URL so a view can be shared.
import { h, reactive, ref, defineComponent, onMounted, watch } from '/admin/vendor/vue.runtime.js';
import { api } from '../api.js';
import { href, navigate, route } from '../router.js';
import { ActionButton, badge, dataTable, fmtTime, requestView, statusBadge, useRequest, field, text } from '../ui.js';

const FILTERS = ['plugin', 'capability', 'decision', 'callId', 'since', 'until', 'limit'];

/** datetime-local ↔ ISO, so the filters read in local time but query in UTC. */
const toLocalInput = (iso) => {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};
const fromLocalInput = (v) => (v ? new Date(v).toISOString() : '');

export const AuditPage = defineComponent({
  setup() {
    const form = reactive(Object.fromEntries(FILTERS.map((k) => [k, route.query[k] || ''])));
    if (!form.limit) form.limit = '200';
    const currentQuery = () => {
      const query = Object.fromEntries(FILTERS.map((k) => [k, route.query[k] || '']));
      if (!query.limit) query.limit = '200';
      return query;
    };
    // Pages after the first are appended; `next` is the server's cursor for the page after them.
    const rows = ref([]);
    const next = ref(null);
    const req = useRequest(async () => {
      const data = await api('audit', { query: currentQuery() });
      rows.value = data.records;
      next.value = data.next;
      return data;
    });
    const older = async () => {
      const data = await api('audit', { query: { ...currentQuery(), before: next.value } });
      rows.value = rows.value.concat(data.records);
      next.value = data.next;
    };
    onMounted(req.run);
    // Filters live in the hash: applying them (or following a call-id link) reloads.
    watch(() => JSON.stringify(route.query), () => {
      for (const k of FILTERS) form[k] = route.query[k] || (k === 'limit' ? '200' : '');
      req.run();
    });
    const apply = (event) => {
      event.preventDefault();
      const query = Object.fromEntries(FILTERS.map((k) => [k, String(form[k]).trim()]));
      // Same filters: the hash does not change and nothing else would reload.
      if (location.hash === href('/audit', query)) req.run();
      else navigate('/audit', query);
    };
    const clear = () => {
      for (const k of FILTERS) form[k] = k === 'limit' ? '200' : '';
      navigate('/audit');
    };
    const input = (k, attrs = {}) => h('input', { value: form[k], onInput: (e) => { form[k] = e.target.value; }, ...attrs });
    return () => h('main', [
      h('div', { class: 'page-head' }, [h('h1', 'Audit log')]),
      h('form', { class: 'filters', onSubmit: apply }, [
        field('Plugin', input('plugin', { placeholder: 'plugin key', size: 14 })),
        field('Capability', input('capability', { placeholder: 'e.g. http.request', size: 16 })),
        field('Decision', h('select', { value: form.decision, onChange: (e) => { form.decision = e.target.value; } }, [
          h('option', { value: '' }, 'any'), h('option', { value: 'allowed' }, 'allowed'), h('option', { value: 'denied' }, 'denied'), h('option', { value: 'error' }, 'error'),
        ])),
        field('Call id', input('callId', { size: 14 })),
        field('Since', h('input', { type: 'datetime-local', value: toLocalInput(form.since), onInput: (e) => { form.since = fromLocalInput(e.target.value); } })),
        field('Until', h('input', { type: 'datetime-local', value: toLocalInput(form.until), onInput: (e) => { form.until = fromLocalInput(e.target.value); } })),
        field('Rows per page', h('select', { value: form.limit, onChange: (e) => { form.limit = e.target.value; } }, ['50', '200', '1000'].map((n) => h('option', { value: n }, n)))),
        h('button', { type: 'submit', class: 'primary', disabled: req.state.loading }, req.state.loading ? 'Loading…' : 'Apply filters'),
        ' ',
        h('button', { type: 'button', onClick: clear }, 'Clear'),
      ]),
      requestView(req, 'the audit log', () => h('div', [dataTable([
        { label: 'Time', render: (r) => fmtTime(r.at) },
        { label: 'Actor', key: 'actor' },
        { label: 'Plugin', render: (r) => (r.plugin ? h('a', { href: href('/audit', { plugin: r.plugin }) }, r.plugin) : '—') },
        { label: 'Capability', render: (r) => h('span', { class: 'mono nowrap' }, r.capability) },
        { label: 'Decision', render: (r) => [statusBadge(r.decision), r.rule ? badge(r.rule, 'neutral', 'The policy rule that decided') : null] },
        { label: 'Summary', class: 'wrap', render: (r) => text(r.summary) },
        { label: 'Call', render: (r) => (r.callId ? h('a', { class: 'mono', href: href('/audit', { callId: r.callId }) }, r.callId.slice(0, 12)) : '—') },
        { label: 'ms', render: (r) => (typeof r.durationMs === 'number' ? r.durationMs.toFixed(1) : '—') },
      ], rows.value, { empty: 'No audit records match these filters.', rowKey: (r) => r._id, tableClass: 'audit' }),
      rows.value.length ? h('p', { class: 'hint' }, [
        `${rows.value.length} record${rows.value.length === 1 ? '' : 's'} shown${next.value ? '' : ' — the oldest that match'}. `,
        next.value ? h(ActionButton, { label: 'Older records', action: older }) : null,
      ]) : null,
      ])),
    ]);
  },
});
