// One plugin: its own settings page (sandboxed frame), stored configuration (secrets masked),
// network access, review flags, cron; and its log.
import { h, ref, reactive, defineComponent, onMounted } from '/admin/vendor/vue.runtime.js';
import { api } from '../api.js';
import { href } from '../router.js';
import { PluginSettingsFrame } from '../plugin-frame-host.js';
import { ActionButton, PluginIcon, badge, dataTable, details, fmtTime, requestView, useRequest, field, text } from '../ui.js';
import { NetworkGrants, currencyChips, faultLines, pluginStatus } from './plugins.js';

/** Stored values as the API shows them: secrets only as set / not set. */
const ConfigTable = defineComponent({
  props: { plugin: Object, editable: Boolean },
  emits: ['changed'],
  setup(props, { emit }) {
    const drafts = reactive({});
    const save = async (entry) => {
      await api('merchant-and-payout/set-config-payout', { method: 'POST', body: { payoutKey: props.plugin.key, key: entry.key, value: drafts[entry.key] ?? '' } });
      drafts[entry.key] = '';
      emit('changed');
    };
    return () => dataTable([
      { label: 'Key', render: (e) => h('span', { class: 'mono' }, e.key) },
      { label: 'Kind', render: (e) => (e.secret ? badge('secret (write-only)', 'info') : badge('shown')) },
      { label: 'Stored value', render: (e) => (e.secret ? (e.set ? badge('set', 'ok') : badge('not set', 'warn')) : h('span', { class: 'mono' }, text(e.value))) },
      { label: 'Updated', render: (e) => fmtTime(e.updatedAt) },
      ...(props.editable ? [{
        label: 'New value', render: (e) => h('span', [
          h('input', {
            type: e.secret ? 'password' : 'text', autocomplete: 'new-password', 'aria-label': `New value for ${e.key}`,
            value: drafts[e.key] ?? '', placeholder: e.secret ? 'type to replace' : '', onInput: (ev) => { drafts[e.key] = ev.target.value; },
          }),
          h(ActionButton, { label: 'Save', action: () => save(e), done: 'Saved' }),
        ]),
      }] : []),
    ], props.plugin.config || [], { empty: 'The plugin declares no configuration.', rowKey: (e) => e.key });
  },
});

function reviewFlags(report) {
  const risks = report && Array.isArray(report.risks) ? report.risks : [];
  if (!risks.length) return h('p', { class: 'hint' }, 'No review flags.');
  const kind = { high: 'bad', review: 'warn', info: 'info' };
  return h('ul', risks.map((r) => h('li', [badge(r.severity, kind[r.severity] || 'neutral'), h('strong', r.flag), ': ', r.detail])));
}

export const PluginPage = defineComponent({
  props: { pluginKey: String },
  setup(props) {
    const path = () => `plugins/${encodeURIComponent(props.pluginKey)}`;
    const req = useRequest(() => api(path()));
    onMounted(req.run);
    const reload = async () => {
      await api(`${path()}/reload`, { method: 'POST' });
      await req.run();
    };
    const runCron = () => api(`${path()}/cron/run`, { method: 'POST' });
    return () => h('main', [
      h('p', h('a', { href: href('/plugins') }, '← All plugins')),
      requestView(req, 'the plugin', (p) => h('div', [
        h('div', { class: 'page-head' }, [
          h('div', { class: 'plugin-head' }, [
            h(PluginIcon, { pluginKey: p.key, hasIcon: p.hasIcon, title: p.title, size: 56 }),
            h('div', [h('h1', [p.title, ' ', h('span', { class: 'hint mono' }, p.key)]), h('div', pluginStatus(p))]),
          ]),
          h('div', [
            h('a', { class: 'button', href: href(`/plugins/${encodeURIComponent(p.key)}/log`) }, 'Plugin log'), ' ',
            h(ActionButton, { label: 'Reload plugin', action: reload, done: 'Reloaded' }),
            p.cron ? h(ActionButton, { label: 'Run cron now', action: runCron, done: 'Cron ran' }) : null,
          ]),
        ]),
        ...faultLines(p),
        p.status === 'active'
          ? h(PluginSettingsFrame, { pluginKey: p.key, onSaved: req.run })
          : h('p', { class: 'state error' }, 'The plugin is not loaded, so its settings page is not available. Fix the problem above and reload it.'),
        h('section', { class: 'card' }, [
          h('h2', 'Stored configuration'),
          h('p', { class: 'hint' }, p.hasTemplate
            ? 'As stored on the server. Change values through the settings page above.'
            : 'This plugin has no settings page of its own; change values here. Secret values are never shown, only whether one is set.'),
          h(ConfigTable, { plugin: p, editable: !p.hasTemplate, onChanged: req.run }),
        ]),
        h('section', { class: 'card' }, [
          h('h2', 'Network access'),
          h('p', { class: 'hint' }, 'The plugin reaches only origins approved here. An origin the plugin requests (new, or widened by an update) waits for approval.'),
          h(NetworkGrants, { plugin: p, allowAdd: true, onChanged: req.run }),
        ]),
        h('section', { class: 'card' }, [
          h('h2', 'About'),
          details([
            ['Currencies', currencyChips(p.currencies)],
            ['Webhooks', p.callbacks.length ? p.callbacks.map((c) => h('div', { class: 'mono' }, `/payout_call/${p.key}/${c}/`)) : 'none'],
            ['Cron', p.cron ? `${p.cron.schedule}${p.cronStatus && p.cronStatus.lastRun ? ` — last run ${fmtTime(p.cronStatus.lastRun)}${p.cronStatus.lastError ? `, last error: ${p.cronStatus.lastError}` : ''}` : ''}` : 'none'],
            ['Loaded', fmtTime(p.loadedAt)],
            ['Code (sha256)', p.report && p.report.bundle ? h('span', { class: 'mono' }, p.report.bundle.sha256) : '—'],
          ]),
          h('h3', 'Review flags'),
          reviewFlags(p.report),
        ]),
      ])),
    ]);
  },
});

export const PluginLogPage = defineComponent({
  props: { pluginKey: String },
  setup(props) {
    const limit = ref('200');
    const req = useRequest(() => api(`plugins/${encodeURIComponent(props.pluginKey)}/log`, { query: { limit: limit.value } }));
    onMounted(req.run);
    const levelKind = { error: 'bad', warn: 'warn', info: 'info', debug: 'neutral' };
    return () => h('main', [
      h('p', h('a', { href: href(`/plugins/${encodeURIComponent(props.pluginKey)}`) }, `← ${props.pluginKey}`)),
      h('div', { class: 'page-head' }, [
        h('h1', `Plugin log: ${props.pluginKey}`),
        h('div', { class: 'filters' }, [
          field('Lines', h('select', { value: limit.value, onChange: (e) => { limit.value = e.target.value; req.run(); } },
            ['50', '200', '1000'].map((n) => h('option', { value: n }, n)))),
          h('button', { type: 'button', onClick: req.run, disabled: req.state.loading }, req.state.loading ? 'Refreshing…' : 'Refresh'),
        ]),
      ]),
      h('p', { class: 'hint' }, "What the plugin wrote with console.* (newest first), with secrets removed. The plugin cannot write anywhere else."),
      requestView(req, 'the log', (data) => dataTable([
        { label: 'Time', render: (l) => fmtTime(l.at) },
        { label: 'Level', render: (l) => badge(l.level, levelKind[l.level]) },
        { label: 'Call', render: (l) => (l.callId ? h('a', { class: 'mono', href: href('/audit', { callId: l.callId }) }, l.callId) : '—') },
        { label: 'Message', render: (l) => h('pre', { class: 'log' }, l.text) },
      ], data.lines, { empty: 'The plugin has not logged anything yet.', rowKey: (l) => l._id })),
    ]);
  },
});
