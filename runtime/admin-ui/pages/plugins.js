// Plugins: icon, title, currencies, status and faults, network requested vs granted (approve and
// revoke), and the way to each plugin's settings and log.
import { h, ref, defineComponent, onMounted } from '/admin/vendor/vue.runtime.js';
import { api } from '../api.js';
import { href } from '../router.js';
import { ActionButton, PluginIcon, badge, dataTable, emptyState, fmtTime, requestView, useRequest, field } from '../ui.js';

/** Running / paused / refused, and what went wrong last. */
export function pluginStatus(p) {
  const out = [];
  if (p.status === 'active') out.push(badge('active', 'ok'));
  else out.push(badge('refused', 'bad', p.error ? p.error.message : ''));
  const health = p.health;
  if (health) {
    if (health.state === 'open') out.push(badge('paused after faults', 'bad', 'The circuit breaker stops calls for a while after repeated faults'));
    else if (health.state === 'half-open') out.push(badge('trial call pending', 'warn'));
    if (health.recentFaults) out.push(badge(`${health.recentFaults} fault${health.recentFaults === 1 ? '' : 's'} in the last minute`, 'warn'));
  }
  if (p.network.waitingApproval.length) out.push(badge(`network: ${p.network.waitingApproval.length} waiting for approval`, 'warn'));
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
            label: 'Status', render: (r) => (r.approved
              ? badge(r.requestedByPlugin ? 'approved' : 'granted by an administrator', 'ok')
              : badge('waiting for approval', 'warn', 'Requested by the plugin (new, or widened by an update); not reachable until approved')),
          },
          {
            label: '', render: (r) => (r.approved
              ? h(ActionButton, { label: 'Revoke', kind: 'danger', action: () => revoke(r), confirm: `Revoke ${r.origin} for ${props.plugin.key}? Its requests there will be refused.` })
              : h(ActionButton, { label: 'Approve', kind: 'primary', action: () => approve(r) })),
          },
        ], rows, { empty: 'The plugin asks for no network access and has none.', rowKey: (r) => r.origin }),
        props.allowAdd ? h('form', { class: 'filters', onSubmit: add }, [
          field('Grant another origin', h('input', { value: origin.value, placeholder: 'https://api.provider.example', onInput: (e) => { origin.value = e.target.value; } })),
          h('button', { type: 'submit', disabled: !origin.value.trim() }, 'Grant'),
          addError.value ? h('span', { class: 'inline-error', role: 'alert' }, addError.value) : null,
        ]) : null,
      ]);
    };
  },
});

const PluginCard = defineComponent({
  props: { plugin: Object },
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
            h('div', pluginStatus(p)),
          ]),
          h('div', [
            p.status === 'active' ? h('a', { class: 'button primary', href: href(`/plugins/${encodeURIComponent(p.key)}`) }, 'Settings') : null,
            ' ',
            h('a', { class: 'button', href: href(`/plugins/${encodeURIComponent(p.key)}/log`) }, 'Log'),
          ]),
        ]),
        ...faultLines(p),
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
    const req = useRequest(() => api('plugins'));
    onMounted(req.run);
    return () => h('main', [
      h('div', { class: 'page-head' }, [
        h('h1', 'Plugins'),
        h('button', { type: 'button', onClick: req.run, disabled: req.state.loading }, req.state.loading ? 'Refreshing…' : 'Refresh'),
      ]),
      requestView(req, 'plugins', (data) => (data.plugins.length
        ? h('div', { class: 'plugin-grid' }, data.plugins.map((p) => h(PluginCard, { key: p.key, plugin: p, onChanged: req.run })))
        : emptyState('No plugins are installed. Put plugin folders in the plugins directory and restart the server.'))),
    ]);
  },
});
