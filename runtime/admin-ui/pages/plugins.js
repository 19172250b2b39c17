// Plugins: icon, title, currencies, status and faults, network requested vs granted (approve and
// revoke), plugins waiting for an approval (changed files, never approved, a widened update) with
// the review before Approve, and the way to each plugin's settings and log.
import { h, ref, defineComponent, onMounted } from '/admin/vendor/vue.runtime.js';
import { api } from '../api.js';
import { href } from '../router.js';
import { ActionButton, PluginIcon, badge, dataTable, details, emptyState, errorState, fmtTime, requestView, useRequest, field } from '../ui.js';
import { reportView, versionLabel, wideningView } from './install.js';
import { engineBadge } from './engine.js';

const refusedFor = (p) => (p.status !== 'active' && p.error && (p.error.code === 'tampered' || p.error.code === 'unapproved') ? p.error.code : null);

/** Running / paused / refused, what went wrong last, and what waits for an approval (record from install/records). */
export function pluginStatus(p, record) {
  const out = [];
  const empty = p.emptySettings || [];
  if (p.status === 'active' && empty.length) out.push(badge('not configured', 'warn', `Empty settings: ${empty.join(', ')}. Set them on the plugin's page before routing payouts to it.`));
  else if (p.status === 'active') out.push(badge('active', 'ok'));
  else out.push(badge('refused', 'bad', p.error ? p.error.message : ''));
  const refused = refusedFor(p);
  if (refused === 'tampered') out.push(badge('files changed since approval', 'bad'));
  if (refused === 'unapproved') out.push(badge('not approved', 'warn'));
  if (record && record.pending) out.push(badge(`update ${versionLabel(record.pending.version, p.key)} waiting for approval`, 'warn'));
  const health = p.health;
  if (health) {
    if (health.state === 'open') out.push(badge('paused after faults', 'bad', 'The circuit breaker stops calls for a while after repeated faults'));
    else if (health.state === 'half-open') out.push(badge('trial call pending', 'warn'));
    if (health.recentFaults) out.push(badge(`${health.recentFaults} fault${health.recentFaults === 1 ? '' : 's'} in the last minute`, 'warn'));
  }
  if (p.network.waitingApproval.length) out.push(badge(`network: ${p.network.waitingApproval.length} waiting for approval`, 'warn'));
  const engine = engineBadge(p);
  if (engine) out.push(engine);
  return out;
}

export function faultLines(p) {
  const lines = [];
  if (p.status !== 'active' && p.error) lines.push(h('p', { class: 'faults' }, [h('strong', `Refused (${p.error.code}): `), p.error.message]));
  const last = p.health && p.health.lastFault;
  if (last) lines.push(h('p', { class: 'faults' }, [h('strong', `Last fault (${last.kind}, ${fmtTime(last.at)}): `), last.message]));
  return lines;
}

export const currencyChips = (codes) => (codes.length ? codes.map((c) => h('span', { class: 'chip' }, c)) : h('span', { class: 'hint' }, 'none declared'));

/** With no origin requested or granted every request is refused: say so, and which origins its code names. */
function noGrantText(net) {
  const named = net.inSourceNotGranted || [];
  if (named.length) return `No origin is granted: every request it makes is refused. Its code names ${named.join(', ')}; grant the origin your provider account uses.`;
  return 'No origin is requested or granted: every request it makes is refused. If it takes its provider\'s URL from its settings, grant that origin.';
}

/**
 * Requested vs granted origins. A request the administrator has not approved — new, or widened
 * by an update (the registry withdraws the approval then) — shows as waiting for approval.
 */
export const NetworkGrants = defineComponent({
  props: { plugin: { type: Object, required: true }, allowAdd: Boolean },
  emits: ['changed'],
  setup(props, { emit }) {
    const origin = ref('');
    const addError = ref('');
    const base = () => `plugins/${encodeURIComponent(props.plugin.key)}/grants`;
    const approve = async (g) => {
      await api(base(), { method: 'POST', body: { origin: g.origin, pathPrefix: g.pathPrefix ?? null, methods: g.methods ?? null } });
      emit('changed');
    };
    const revoke = async (g) => {
      await api(`${base()}/revoke`, { method: 'POST', body: { origin: g.origin } });
      emit('changed');
    };
    async function add(event) {
      event.preventDefault();
      addError.value = '';
      try {
        await api(base(), { method: 'POST', body: { origin: origin.value.trim() } });
        origin.value = '';
        emit('changed');
      } catch (err) {
        addError.value = err.message;
      }
    }
    return () => {
      const net = props.plugin.network;
      const rows = net.requested.map((r) => ({ ...r, requestedByPlugin: true }));
      for (const g of net.granted) if (!rows.some((r) => r.origin === g.origin)) rows.push({ ...g, approved: true, requestedByPlugin: false });
      return h('div', { class: 'network' }, [
        dataTable([
          { label: 'Origin', render: (r) => h('span', { class: 'mono' }, r.origin) },
          { label: 'Methods', render: (r) => (r.methods ? r.methods.join(', ') : 'any') },
          { label: 'Path prefix', render: (r) => r.pathPrefix || 'any' },
          {
            label: 'Status', render: (r) => (r.refusedByHost
              ? badge('refused by this host', 'bad', `Requests there fail: ${r.refusedByHost}. Revoke it, or start the host with loopback grants for a test double.`)
              : r.approved
              ? badge(r.requestedByPlugin ? 'approved' : 'granted by an administrator', 'ok')
              : badge('waiting for approval', 'warn', 'Requested by the plugin (new, or widened by an update); not reachable until approved')),
          },
          {
            label: '', render: (r) => (r.approved
              ? h(ActionButton, { label: 'Revoke', kind: 'danger', action: () => revoke(r), confirm: `Revoke ${r.origin} for ${props.plugin.key}? Its requests there will be refused.` })
              : h(ActionButton, { label: 'Approve', kind: 'primary', action: () => approve(r) })),
          },
        ], rows, { empty: noGrantText(net), rowKey: (r) => r.origin }),
        props.allowAdd ? h('form', { class: 'filters', onSubmit: add }, [
          field('Grant another origin', h('input', { value: origin.value, placeholder: 'https://api.provider.example', onInput: (e) => { origin.value = e.target.value; } })),
          h('button', { type: 'submit', disabled: !origin.value.trim() }, 'Grant'),
          addError.value ? h('span', { class: 'inline-error', role: 'alert' }, addError.value) : null,
        ]) : null,
      ]);
    };
  },
});


const KIND = {
  pending_update: 'a staged update that asks for more than the approved version',
  changed_folder: 'the plugin folder as it is now: its files differ from the approved ones',
  unrecorded_folder: 'the plugin folder as it is now: it was never approved',
  unchanged: 'nothing: the folder is approved as it is and no update waits',
};

/**
 * What waits for an administrator: a folder refused as tampered / unapproved, or an update staged
 * because it widens what was approved. Approve is offered only once the approval report (GET
 * …/approval) is on screen, and sends the content hash that was shown, so files that change in
 * between are refused instead of approved unseen. Rollback where a previous version is kept.
 */
export const ApprovalPanel = defineComponent({
  props: { plugin: { type: Object, required: true }, record: Object, showRollback: { type: Boolean, default: true } },
  emits: ['changed'],
  setup(props, { emit }) {
    const preview = ref(null);
    const loading = ref(false);
    const error = ref('');
    const done = ref('');
    const base = () => `plugins/${encodeURIComponent(props.plugin.key)}`;
    async function review() {
      loading.value = true;
      error.value = '';
      done.value = '';
      try {
        preview.value = await api(`${base()}/approval`);
      } catch (err) {
        error.value = err.message;
      } finally {
        loading.value = false;
      }
    }
    const finish = (message) => { preview.value = null; done.value = message; emit('changed'); };
    const approve = async () => {
      const r = await api(`${base()}/approve`, { method: 'POST', body: { contentHash: preview.value.contentHash } });
      if (r.plugin && r.plugin.status !== 'active') throw new Error(`approved ${versionLabel(r.version, r.key)}, but the server refused to load it: ${r.plugin.error ? r.plugin.error.message : r.plugin.status}`);
      finish(`Approved ${versionLabel(r.version, r.key)}; the plugin is ${r.plugin ? r.plugin.status : 'recorded'}.`);
    };
    const rollback = async () => {
      const r = await api(`${base()}/rollback`, { method: 'POST' });
      finish(`Rolled back to ${versionLabel(r.restored, r.key)}; the plugin is ${r.plugin ? r.plugin.status : 'restored'}.`);
    };
    const discardUpdate = async () => {
      await api('plugins/install/discard', { method: 'POST', body: { stagingId: props.record.pending.stagingId } });
      finish('The waiting update was discarded; the approved version keeps serving.');
    };
    return () => {
      const p = props.plugin;
      const rec = props.record;
      const refused = refusedFor(p);
      const pending = rec && rec.pending;
      const prev = rec && rec.previous && rec.previous[0];
      if (!refused && !pending && !done.value && !error.value && !preview.value) return null;
      const pv = preview.value;
      return h('div', { class: 'approval', 'data-kind': pending ? 'pending_update' : refused || 'done', role: 'region', 'aria-label': `Approval for ${p.key}` }, [
        refused === 'tampered' ? [h('h3', 'Files changed since approval'),
          h('p', 'The server does not load this plugin: the files in its folder are not the ones that were approved. Review what the folder holds now, then approve it if the change is intended — or roll back.')] : null,
        refused === 'unapproved' ? [h('h3', 'Not approved'),
          h('p', 'The server requires an approval for every plugin folder, and this one has none. Review it, then approve it.')] : null,
        pending ? [h('h3', ['Update waiting for approval: ', h('span', { class: 'mono' }, versionLabel(pending.version, p.key))]),
          h('p', { class: 'hint' }, `Staged by ${pending.stagedBy} at ${fmtTime(pending.stagedAt)}. ${rec.current ? `${versionLabel(rec.current, p.key)} keeps serving until it is approved.` : ''}`),
          // Once the review is open it shows the same list, read again from the server.
          pv ? null : [h('p', 'It asks for:'), wideningView(pending.widened)]] : null,
        !pv && (refused || pending) ? h('div', { class: 'section-head', style: { justifyContent: 'flex-start' } }, [
          h('button', { type: 'button', class: 'primary', disabled: loading.value, onClick: review }, loading.value ? 'Loading the review…' : 'Review for approval'),
          pending ? h(ActionButton, { label: 'Discard update', action: discardUpdate, confirm: `Discard the waiting update of ${p.key}?` }) : null,
          props.showRollback && prev ? h(ActionButton, {
            label: `Roll back to ${versionLabel(prev, p.key)}`, kind: 'danger', action: rollback,
            confirm: `Restore ${versionLabel(prev, p.key)} for ${p.key}? The current version is deleted.`,
          }) : null,
        ]) : null,
        pv ? h('div', { class: 'approval-review' }, [
          h('h3', `Review: ${KIND[pv.kind] || pv.kind}`),
          details([
            ['Content hash', h('span', { class: 'mono' }, pv.contentHash)],
            ['Approved now', pv.current ? `${versionLabel(pv.current, p.key)} by ${pv.current.approvedBy ?? '—'} at ${fmtTime(pv.current.approvedAt)}` : 'nothing'],
          ]),
          pv.kind === 'unchanged' ? null : [h('h4', 'What widens'), wideningView(pv.widened), h('h4', "Reviewer's report"), reportView(pv.report, 'h5')],
          h('div', { class: 'section-head', style: { justifyContent: 'flex-start' } }, [
            pv.kind === 'unchanged' ? null : h(ActionButton, { label: 'Approve', kind: 'primary', action: approve }),
            h('button', { type: 'button', onClick: () => { preview.value = null; } }, 'Cancel'),
          ]),
        ]) : null,
        error.value ? errorState(error.value, review) : null,
        done.value ? h('p', { class: 'inline-ok', role: 'status' }, done.value) : null,
      ]);
    };
  },
});

const PluginCard = defineComponent({
  props: { plugin: Object, record: Object },
  emits: ['changed'],
  setup(props, { emit }) {
    const reload = async () => {
      await api(`plugins/${encodeURIComponent(props.plugin.key)}/reload`, { method: 'POST' });
      emit('changed');
    };
    const runCron = () => api(`plugins/${encodeURIComponent(props.plugin.key)}/cron/run`, { method: 'POST' });
    return () => {
      const p = props.plugin;
      return h('section', { class: 'card plugin-card', 'data-plugin': p.key }, [
        h('div', { class: 'plugin-head' }, [
          h(PluginIcon, { pluginKey: p.key, hasIcon: p.hasIcon, title: p.title }),
          h('div', { style: { flex: '1' } }, [
            h('h2', [h('a', { href: href(`/plugins/${encodeURIComponent(p.key)}`) }, p.title), ' ', h('span', { class: 'hint mono' }, p.key)]),
            h('div', pluginStatus(p, props.record)),
          ]),
          h('div', [
            p.status === 'active' ? h('a', { class: 'button primary', href: href(`/plugins/${encodeURIComponent(p.key)}`) }, 'Settings') : null,
            ' ',
            h('a', { class: 'button', href: href(`/plugins/${encodeURIComponent(p.key)}/log`) }, 'Log'),
          ]),
        ]),
        ...faultLines(p),
        h(ApprovalPanel, { plugin: p, record: props.record, onChanged: () => emit('changed') }),
        h('h3', 'Currencies'),
        h('div', currencyChips(p.currencies)),
        h('h3', 'Network access'),
        h(NetworkGrants, { plugin: p, onChanged: () => emit('changed') }),
        h('div', { class: 'section-head', style: { justifyContent: 'flex-start', marginTop: '.6rem' } }, [
          h(ActionButton, { label: 'Reload plugin', action: reload, done: 'Reloaded' }),
          p.cron ? h(ActionButton, { label: `Run cron now (${p.cron.schedule})`, action: runCron, done: 'Cron ran' }) : null,
        ]),
      ]);
    };
  },
});

export const PluginsPage = defineComponent({
  setup() {
    // The approval records come with the list: a failure there is shown, but does not hide the plugins.
    const req = useRequest(async () => {
      const [list, records] = await Promise.all([api('plugins'), api('plugins/install/records').catch((err) => ({ records: [], error: err.message }))]);
      return { plugins: list.plugins, records: Object.fromEntries(records.records.map((r) => [r.key, r])), recordsError: records.error || '' };
    });
    onMounted(req.run);
    return () => h('main', [
      h('div', { class: 'page-head' }, [
        h('h1', 'Plugins'),
        h('div', [
          h('a', { class: 'button primary', href: href('/install') }, 'Install plugin'), ' ',
          h('button', { type: 'button', onClick: req.run, disabled: req.state.loading }, req.state.loading ? 'Refreshing…' : 'Refresh'),
        ]),
      ]),
      requestView(req, 'plugins', (data) => [
        data.recordsError ? errorState(`Approval records could not be read, so waiting updates are not shown: ${data.recordsError}`, req.run) : null,
        data.plugins.length
          ? h('div', { class: 'plugin-grid' }, data.plugins.map((p) => h(PluginCard, { key: p.key, plugin: p, record: data.records[p.key] || null, onChanged: req.run })))
          : emptyState('No plugins are installed. Install one with "Install plugin", or put plugin folders in the plugins directory and restart the server.'),
      ]),
    ]);
  },
});
