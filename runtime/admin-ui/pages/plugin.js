// One plugin: its own settings page (sandboxed frame), stored configuration (secrets masked),
// network access, review flags, cron, what waits for approval, its versions (rollback); and its log.
import { h, ref, reactive, defineComponent, onMounted } from '/admin/vendor/vue.runtime.js';
import { api } from '../api.js';
import { href } from '../router.js';
import { PluginSettingsFrame } from '../plugin-frame-host.js';
import { ActionButton, PluginIcon, badge, dataTable, details, errorState, fmtTime, requestView, useRequest, field, text } from '../ui.js';
import { ApprovalPanel, NetworkGrants, currencyChips, faultLines, pluginStatus } from './plugins.js';
import { riskFlags, versionLabel } from './install.js';
import { EngineCard } from './engine.js';

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

/** The approval record: what is approved now, what is kept for rollback, what waits. */
function versionsCard(key, record, running, rollback) {
  const source = (v) => (v.source ? `${v.source.kind}${v.source.spec ? ` ${v.source.spec}` : ''}` : '—');
  const prev = record && record.previous[0];
  return h('section', { class: 'card versions' }, [
    h('div', { class: 'section-head' }, [
      h('h2', 'Versions'),
      record && record.current.packageName && record.current.source && record.current.source.kind === 'npm'
        ? h('a', { class: 'button', href: href('/install', { package: record.current.packageName, key }) }, 'Install an update') : null,
    ]),
    !record ? h('p', { class: 'hint' }, 'No approval record yet (the plugin has not been installed, approved or loaded).') : [
      dataTable([
        { label: '', render: (v) => (v !== record.current ? badge('kept for rollback') : running ? badge('approved, running', 'ok') : badge('approved, not loaded', 'warn')) },
        { label: 'Version', render: (v) => h('span', { class: 'mono' }, versionLabel(v, key)) },
        { label: 'Approved', render: (v) => `${v.approvedBy ?? '—'}, ${fmtTime(v.approvedAt)}` },
        { label: 'Source', render: (v) => h('span', { class: 'mono' }, source(v)) },
        { label: 'Content hash', render: (v) => h('span', { class: 'mono' }, `${v.contentHash.slice(0, 19)}…`) },
        { label: 'Scripts not run', render: (v) => (v.scriptsNotRun.length ? v.scriptsNotRun.join(', ') : 'none') },
      ], [record.current, ...record.previous], { rowKey: (v) => v.id }),
      prev ? h(ActionButton, {
        label: `Roll back to ${versionLabel(prev, key)}`, kind: 'danger', action: rollback,
        confirm: `Restore ${versionLabel(prev, key)} for ${key}? The current version is deleted.`,
      }) : h('p', { class: 'hint' }, 'No previous version is kept, so there is nothing to roll back to.'),
    ],
  ]);
}

export const PluginPage = defineComponent({
  props: { pluginKey: String },
  setup(props) {
    const path = () => `plugins/${encodeURIComponent(props.pluginKey)}`;
    const req = useRequest(() => api(path()));
    // 404: no approval record yet, which is a state to show, not an error.
    const rec = useRequest(() => api(`${path()}/record`).catch((err) => { if (err.status === 404) return null; throw err; }));
    const refresh = () => Promise.all([req.run(), rec.run()]);
    onMounted(refresh);
    const reload = async () => {
      await api(`${path()}/reload`, { method: 'POST' });
      await refresh();
    };
    const rollback = async () => {
      await api(`${path()}/rollback`, { method: 'POST' });
      await refresh();
    };
    const runCron = () => api(`${path()}/cron/run`, { method: 'POST' });
    return () => h('main', [
      h('p', h('a', { href: href('/plugins') }, '← All plugins')),
      requestView(req, 'the plugin', (p) => h('div', [
        h('div', { class: 'page-head' }, [
          h('div', { class: 'plugin-head' }, [
            h(PluginIcon, { pluginKey: p.key, hasIcon: p.hasIcon, title: p.title, size: 56 }),
            h('div', [h('h1', [p.title, ' ', h('span', { class: 'hint mono' }, p.key)]), h('div', pluginStatus(p, rec.state.data))]),
          ]),
          h('div', [
            h('a', { class: 'button', href: href(`/plugins/${encodeURIComponent(p.key)}/log`) }, 'Plugin log'), ' ',
            h(ActionButton, { label: 'Reload plugin', action: reload, done: 'Reloaded' }),
            p.cron ? h(ActionButton, { label: 'Run cron now', action: runCron, done: 'Cron ran' }) : null,
          ]),
        ]),
        ...faultLines(p),
        h(ApprovalPanel, { plugin: p, record: rec.state.data, showRollback: false, onChanged: refresh }),
        p.status === 'active'
          ? h(PluginSettingsFrame, { pluginKey: p.key, onSaved: req.run })
          : h('p', { class: 'state error' }, 'The plugin is not loaded, so its settings page is not available. Fix the problem above and reload it.'),
        h('section', { class: 'card' }, [
          h('h2', 'Stored configuration'),
          h('p', { class: 'hint' }, p.hasTemplate
            ? 'As stored on the server. The settings page above is the usual place to change them; a key it has no field for can be set here. Secret values are never shown, only whether one is set.'
            : 'This plugin has no settings page of its own; change values here. Secret values are never shown, only whether one is set.'),
          (p.emptySettings || []).length ? h('p', { class: 'state error', role: 'alert' }, `Not configured: ${p.emptySettings.join(', ')} ${p.emptySettings.length === 1 ? 'is' : 'are'} empty.`) : null,
          h(ConfigTable, { plugin: p, editable: true, onChanged: req.run }),
        ]),
        h(EngineCard, { plugin: p, onChanged: refresh }),
        h('section', { class: 'card' }, [
          h('h2', 'Network access'),
          h('p', { class: 'hint' }, 'The plugin reaches only origins approved here. An origin the plugin requests (new, or widened by an update) waits for approval.'),
          h(NetworkGrants, { plugin: p, allowAdd: true, onChanged: req.run }),
        ]),
        rec.state.error ? errorState(`The approval record could not be read: ${rec.state.error}`, rec.run)
          : rec.state.loading && !rec.state.data ? null : versionsCard(p.key, rec.state.data, p.status === 'active', rollback),
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
          riskFlags(p.report),
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
