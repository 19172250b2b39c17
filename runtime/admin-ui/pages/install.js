// Install plugin: the platform's form (package, folder name, deploy token, tag) → stage → the
// capability report, read BEFORE anything is installed → Confirm or Discard → the result.
// The report renderers are exported for the approval views of the plugins pages, which show the
// same report before an administrator approves a waiting update or a changed folder.
import { h, ref, reactive, defineComponent } from '/admin/vendor/vue.runtime.js';
import { api, session } from '../api.js';
import { href, route } from '../router.js';
import { ActionButton, badge, dataTable, details, field, fmtTime } from '../ui.js';

export const versionLabel = (v, key) => (v ? `${v.packageName ?? key ?? '?'}@${v.version ?? v.id ?? '?'}` : '—');
const mono = (s) => h('span', { class: 'mono' }, s);
const chips = (items, empty = 'none') => (items && items.length ? items.map((c) => h('span', { class: 'chip' }, c)) : h('span', { class: 'hint' }, empty));
const bullets = (items, cls) => h('ul', { class: cls }, items.map((i) => h('li', i)));

const ACTION = {
  install: ['new install', 'info', 'Confirm moves these files into the plugins folder and loads the plugin.'],
  update: ['update — asks for nothing new', 'ok', 'Confirm replaces the running version at once; the version it replaces is kept for rollback.'],
  'update-needs-approval': ['update that needs approval', 'warn',
    'It asks for more than the approved version. Confirm keeps it staged: the running version keeps serving until an administrator approves the update on the plugin page.'],
};

/** What an update asks for beyond the approved version (the server's own wording, grouped). */
export function wideningView(widened) {
  if (!widened) return h('p', { class: 'hint' }, 'Nothing widens: it asks for no network origin, config key or host capability the approved version did not have.');
  const groups = [['Network', widened.network], ['Config keys', widened.config], ['Host capabilities', widened.capabilities]].filter(([, l]) => l && l.length);
  return h('dl', { class: 'details widened' }, groups.flatMap(([label, items]) => [h('dt', label), h('dd', bullets(items, 'widened'))]));
}

/** The capability set a version asks for (what gets approved with it). */
export function capabilitiesView(caps) {
  if (!caps) return null;
  return details([
    ['Network origins', caps.network.length
      ? dataTable([
        { label: 'Origin', render: (n) => mono(n.origin) },
        { label: 'Methods', render: (n) => (n.methods ? n.methods.join(', ') : 'any') },
        { label: 'Path prefix', render: (n) => n.pathPrefix || 'any' },
      ], caps.network, { rowKey: (n) => n.origin })
      : 'none'],
    ['Config keys', caps.config.length ? caps.config.map((c) => h('span', { class: 'chip' }, [c.key, c.secret ? ' (secret)' : ''])) : 'none'],
    ['Host modules', chips(caps.hostModules)],
    ['Host capabilities', chips(caps.capabilities)],
  ]);
}

/** The reviewer's flags (`payout-sandbox audit`), most serious first as the server orders them. */
export function riskFlags(report) {
  const risks = report && Array.isArray(report.risks) ? report.risks : [];
  if (!risks.length) return h('p', { class: 'hint' }, 'No review flags.');
  const kind = { high: 'bad', review: 'warn', info: 'info' };
  return h('ul', { class: 'risks' }, risks.map((r) => h('li', [badge(r.severity, kind[r.severity] || 'neutral'), h('strong', r.flag), ': ', r.detail])));
}

/** The reviewer's report of the staged (or changed) files, as `payout-sandbox audit` prints it. */
export function reportView(report, heading = 'h3') {
  if (!report) return h('p', { class: 'hint' }, 'No report.');
  const net = report.network || {};
  const ungranted = new Set(net.ungrantedInSource || []);
  const secrets = (report.secrets && report.secrets.reads) || [];
  return h('div', { class: 'review-report' }, [
    report.summary ? h('p', { class: 'report-summary' }, report.summary) : null,
    h(heading, 'Risk flags'),
    riskFlags(report),
    h(heading, 'Host modules required'),
    dataTable([
      { label: 'Module', render: (m) => mono(m.module) },
      { label: 'require()', render: (m) => mono(m.request) },
      { label: 'Gives', key: 'provides' },
      { label: 'At', render: (m) => mono(m.at) },
    ], report.hostModules, { empty: 'No host module is required.' }),
    details([
      ['Capabilities reachable', chips(report.capabilities)],
      ['Origins requested', chips(net.requested)],
      ['Origins granted', chips(net.granted)],
      ['Origins in the source', net.inSource && net.inSource.length
        ? net.inSource.map((o) => h('span', { class: 'chip' }, [o, ungranted.has(o) ? ' (not granted)' : '']))
        : h('span', { class: 'hint' }, 'none')],
      ['Connects to what config holds', net.configOrigins && net.configOrigins.length
        ? net.configOrigins.map((o) => h('span', { class: 'chip' }, `whatever '${o.key}' holds`))
        : h('span', { class: 'hint' }, 'none')],
      ['Secrets read', secrets.length
        ? secrets.map((x) => h('div', { class: 'mono' }, `${x.key} at ${x.readAt.length ? x.readAt.join(', ') : '—'}`))
        : h('span', { class: 'hint' }, 'none')],
      ['Host bridge called directly', report.bridge && report.bridge.length
        ? report.bridge.map((b) => h('div', { class: 'mono' }, `${b.capability || '(name not spelled)'} at ${b.at}${b.granted ? '' : ' — outside the approved set, refused at run time'}`))
        : h('span', { class: 'hint' }, 'never')],
    ]),
    h(heading, 'URL literals in the source'),
    dataTable([{ label: 'URL', render: (u) => mono(u.url) }, { label: 'At', render: (u) => mono(u.at) }], net.urlLiterals, { empty: 'No URL literal in the source.' }),
    h(heading, 'Config keys'),
    dataTable([
      { label: 'Key', render: (c) => mono(c.key) },
      { label: 'Kind', render: (c) => (c.secret ? badge('secret (write-only)', 'info') : badge('shown')) },
      { label: 'Read at', render: (c) => (c.readAt.length ? mono(c.readAt.join(', ')) : '—') },
    ], report.config, { empty: 'The plugin declares no configuration.' }),
    report.configReadButUndeclared && report.configReadButUndeclared.length
      ? h('p', { class: 'faults' }, ['Read but not declared (the sandbox will refuse them): ', chips(report.configReadButUndeclared)]) : null,
    details([
      ['Payout tx operations', report.dbOperations.length ? report.dbOperations.map((d) => h('div', { class: 'mono' }, `${d.operation} at ${d.at}`)) : 'none'],
      ['Webhooks', report.callbacks.length ? report.callbacks.map((c) => h('div', { class: 'mono' }, `POST ${c.path}`)) : 'none'],
      ['Cron', report.cron ? mono(report.cron.schedule) : 'none'],
      ['Bundle', report.bundle ? [mono(report.bundle.sha256), ` — ${report.bundle.bytes} bytes from ${report.bundle.files.length} file${report.bundle.files.length === 1 ? '' : 's'}`] : '—'],
    ]),
  ]);
}

/** Everything stage returned, readable: nothing is installed while this is on screen. */
function stagedView(s) {
  const [label, kind, explain] = ACTION[s.action] || [s.action, 'neutral', ''];
  const src = s.package.source || {};
  return h('div', { class: 'install-report' }, [
    h('section', { class: 'card' }, [
      h('h2', ['Review ', mono(versionLabel({ packageName: s.package.name, version: s.package.version }, s.key)), ' ', badge(label, kind)]),
      h('p', { class: 'hint' }, ['Nothing is installed yet. ', explain, ' Confirm or Discard below the report.']),
      details([
        ['Package', s.package.name || '—'],
        ['Version', s.package.version || '—'],
        ['Folder name (key)', mono(s.key)],
        ['Source', [src.kind || '—', src.spec ? [' ', mono(src.spec)] : null, src.registry ? ` from ${src.registry}` : null]],
        ['Integrity', s.package.integrity ? mono(s.package.integrity) : '—'],
        ['Content hash', mono(s.contentHash)],
        ['Replaces', s.replaces ? [mono(versionLabel(s.replaces, s.key)), ` approved by ${s.replaces.approvedBy ?? '—'} at ${fmtTime(s.replaces.approvedAt)}`] : 'nothing (first install)'],
      ]),
    ]),
    s.replaces ? h('section', { class: `card${s.widened ? ' attention' : ''}` }, [h('h2', 'What widens compared with the approved version'), wideningView(s.widened)]) : null,
    h('section', { class: 'card' }, [h('h2', 'What it asks for'), capabilitiesView(s.capabilities)]),
    h('section', { class: 'card' }, [
      h('h2', 'Lifecycle scripts that were NOT run'),
      s.scripts.length
        ? [h('p', { class: 'hint' }, 'npm would run these on the server during npm install. payout-sandbox never runs npm: none of them ran, and none will.'),
          dataTable([{ label: 'Script', render: (x) => mono(x.name) }, { label: 'Command', render: (x) => mono(x.command) }], s.scripts, { rowKey: (x) => x.name })]
        : h('p', { class: 'hint' }, 'The package declares no lifecycle scripts.'),
      s.dependencies.length ? h('p', ['Dependencies never installed: ', chips(s.dependencies)]) : null,
    ]),
    s.warnings.length ? h('section', { class: 'card attention' }, [h('h2', 'Warnings'), bullets(s.warnings, 'warnings')]) : null,
    h('section', { class: 'card' }, [h('h2', "Reviewer's report"), reportView(s.report)]),
  ]);
}

const FIELD_LABEL = { package: 'Package name', key: 'Folder name', token: 'Deploy token', tag: 'Tag or version', source: 'Package name' };

const RESULT = {
  installed: ['installed', 'ok', 'is installed'],
  updated: ['updated', 'ok', 'replaced the previous version'],
  pending_approval: ['waiting for approval', 'warn', 'is staged and waits for approval; the running version keeps serving until then'],
};

function resultView(r, key) {
  const [label, kind, says] = RESULT[r.status] || [r.status, 'neutral', r.status];
  const refused = r.plugin && r.plugin.status !== 'active';
  return h('section', { class: 'card install-result', 'data-status': r.status }, [
    h('h2', [badge(label, kind), ' ', mono(versionLabel(r.version, key)), ` ${says}.`]),
    r.widened ? [h('p', 'It asks for:'), wideningView(r.widened)] : null,
    r.plugin && !refused ? h('p', { class: 'inline-ok' }, `Plugin ${r.key} is ${r.plugin.status}.`) : null,
    refused ? h('p', { class: 'state error', role: 'alert' }, `The server refused to load ${r.key}: ${r.plugin.error ? r.plugin.error.message : r.plugin.status}`) : null,
    r.status === 'pending_approval' ? h('p', { class: 'hint' }, 'Review and approve it on the plugin page (or the plugins list).') : null,
    h('p', [h('a', { class: 'button primary', href: href(`/plugins/${encodeURIComponent(r.key)}`) }, `Open ${r.key}`), ' ', h('a', { class: 'button', href: href('/plugins') }, 'All plugins')]),
  ]);
}

export const InstallPage = defineComponent({
  setup() {
    // Prefill from the plugin page's "Install an update" link; the token is never in the URL.
    const form = reactive({ package: route.query.package || '', key: route.query.key || '', tag: route.query.tag || '' });
    // The deploy token lives only in this ref until the stage request leaves, then it is cleared:
    // never in sessionStorage / localStorage, the URL, or the DOM after submission.
    const token = ref('');
    const state = reactive({ busy: false, error: '', field: null, staged: null, result: null, notice: '' });

    async function stage(event) {
      event.preventDefault();
      const secret = token.value;
      token.value = '';
      state.error = '';
      state.field = null;
      state.notice = '';
      // A password manager may offer the saved admin token here: it must never go to a registry.
      if (secret && secret === session.token) {
        state.error = 'That is the admin token, not a registry deploy token; it was not sent.';
        state.field = 'token';
        return;
      }
      state.busy = true;
      try {
        state.staged = await api('plugins/install/stage', { method: 'POST', body: { package: form.package, key: form.key, tag: form.tag, token: secret } });
      } catch (err) {
        state.error = err.message;
        state.field = err.field;
      } finally {
        state.busy = false;
      }
    }
    const confirm = async () => {
      const key = state.staged.key;
      const result = await api('plugins/install/confirm', { method: 'POST', body: { stagingId: state.staged.stagingId } });
      state.result = { ...result, key: result.key || key };
      state.staged = null;
    };
    const discard = async () => {
      await api('plugins/install/discard', { method: 'POST', body: { stagingId: state.staged.stagingId } });
      state.staged = null;
      state.notice = 'Discarded: nothing was installed.';
    };
    const again = () => { state.result = null; state.notice = ''; };

    const input = (name, props) => h('input', {
      name, value: form[name], 'aria-invalid': state.field === name || (name === 'package' && state.field === 'source') ? 'true' : null, onInput: (e) => { form[name] = e.target.value; }, ...props,
    });
    const formView = () => h('section', { class: 'card' }, [
      h('form', { class: 'install-form', onSubmit: stage, novalidate: true }, [
        field('Package name', input('package', { placeholder: '@acme/payout-nimbus', autocomplete: 'off', spellcheck: 'false' }), 'npm package, as on the platform'),
        field('Folder name (key)', input('key', { placeholder: 'from the package name', autocomplete: 'off', spellcheck: 'false' }), 'plugins/<key>; the payout key'),
        field('Deploy token', h('input', {
          // new-password: the browser must not fill in a saved (admin) password here.
          type: 'password', name: 'deploy-token', autocomplete: 'new-password', value: token.value,
          'aria-invalid': state.field === 'token' ? 'true' : null, onInput: (e) => { token.value = e.target.value; },
        }), 'sent once to the registry; never stored'),
        field('Tag or version', input('tag', { placeholder: 'latest', autocomplete: 'off', spellcheck: 'false' }), 'dist-tag or exact version, no ranges'),
        h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary', disabled: state.busy || !form.package.trim(), 'aria-busy': state.busy ? 'true' : null },
          state.busy ? 'Fetching and checking…' : 'Check package')),
      ]),
      h('p', { class: 'hint' }, 'The package is fetched, verified against its registry integrity, unpacked and checked in a sandbox where every host call is refused. Its install scripts never run. You see the report before anything is installed.'),
      state.error ? h('p', { class: 'state error', role: 'alert' }, [state.field ? h('strong', `${FIELD_LABEL[state.field] || state.field}: `) : null, state.error]) : null,
      state.notice ? h('p', { class: 'state empty', role: 'status' }, state.notice) : null,
    ]);

    return () => h('main', [
      h('p', h('a', { href: href('/plugins') }, '← All plugins')),
      h('div', { class: 'page-head' }, h('h1', 'Install plugin')),
      state.result ? [resultView(state.result, state.result.key), h('button', { type: 'button', onClick: again }, 'Install another')]
        : state.staged ? [
          stagedView(state.staged),
          h('div', { class: 'section-head install-actions' }, [
            h(ActionButton, { label: 'Confirm', kind: 'primary', action: confirm }),
            h(ActionButton, { label: 'Discard', action: discard }),
          ]),
        ]
          : formView(),
    ]);
  },
});
