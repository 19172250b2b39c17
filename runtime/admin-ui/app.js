// The admin page: sign-in, navigation, and which page the hash selects.
import { createApp, h, ref, defineComponent } from '/admin/vendor/vue.runtime.js';
import { api, session, signIn, signOut } from './api.js';
import { route, href } from './router.js';
import { PluginsPage } from './pages/plugins.js';
import { PluginPage, PluginLogPage } from './pages/plugin.js';
import { OrdersPage, OrderPage } from './pages/orders.js';
import { RoutesPage } from './pages/routes.js';
import { AuditPage } from './pages/audit.js';
import { InstallPage } from './pages/install.js';

const SignIn = defineComponent({
  setup() {
    const token = ref('');
    const busy = ref(false);
    const error = ref('');
    async function submit(event) {
      event.preventDefault();
      const candidate = token.value.trim();
      if (!candidate) {
        error.value = 'Enter the admin token.';
        return;
      }
      busy.value = true;
      error.value = '';
      try {
        // Checked against the server before it is kept.
        await api('health', { token: candidate });
        signIn(candidate);
        token.value = '';
      } catch (err) {
        error.value = err.message;
      } finally {
        busy.value = false;
      }
    }
    return () => h('main', h('section', { class: 'card signin' }, [
      h('h1', 'Sign in to payout-sandbox'),
      session.notice ? h('p', { class: 'state error', role: 'alert' }, session.notice) : null,
      h('form', { onSubmit: submit, novalidate: true }, [
        h('label', { class: 'field', style: { display: 'flex' } }, [
          h('span', { class: 'label' }, 'Admin token'),
          h('input', {
            type: 'password', name: 'token', autocomplete: 'current-password', value: token.value, autofocus: true,
            'aria-invalid': error.value ? 'true' : null, onInput: (e) => { token.value = e.target.value; },
          }),
        ]),
        h('p', { class: 'hint' }, 'The token is printed when the server starts for the first time (or set with PAYOUT_SANDBOX_ADMIN_TOKEN). It is kept only in this tab and sent only to this server.'),
        error.value ? h('p', { class: 'state error', role: 'alert' }, error.value) : null,
        h('button', { type: 'submit', class: 'primary', disabled: busy.value }, busy.value ? 'Checking…' : 'Sign in'),
      ]),
    ]));
  },
});

const NAV = [
  ['/plugins', 'Plugins'],
  ['/install', 'Install plugin'],
  ['/routes', 'Routes'],
  ['/orders', 'Orders'],
  ['/audit', 'Audit log'],
];

function currentPage() {
  const [section, id, sub] = route.parts;
  if (section === 'plugins' && id && sub === 'log') return h(PluginLogPage, { key: `log-${id}`, pluginKey: id });
  if (section === 'plugins' && id) return h(PluginPage, { key: `plugin-${id}`, pluginKey: id });
  if (section === 'orders' && id) return h(OrderPage, { key: `order-${id}`, orderId: id });
  if (section === 'orders') return h(OrdersPage, { key: 'orders' });
  if (section === 'routes') return h(RoutesPage, { key: 'routes' });
  if (section === 'audit') return h(AuditPage, { key: 'audit' });
  if (section === 'install') return h(InstallPage, { key: 'install' });
  if (!section || section === 'plugins') return h(PluginsPage, { key: 'plugins' });
  return h('main', h('p', { class: 'state error' }, [`There is no page '${route.path}'. `, h('a', { href: href('/plugins') }, 'Go to plugins')]));
}

const App = defineComponent({
  setup() {
    return () => {
      if (!session.token) return h(SignIn);
      const section = `/${route.parts[0] || 'plugins'}`;
      return h('div', [
        h('header', { class: 'top' }, [
          h('span', { class: 'brand' }, 'payout-sandbox'),
          h('nav', { 'aria-label': 'Main' }, NAV.map(([path, label]) => h('a', {
            href: href(path), class: section === path ? 'current' : null, 'aria-current': section === path ? 'page' : null,
          }, label))),
          h('button', { type: 'button', onClick: () => signOut('Signed out.') }, 'Sign out'),
        ]),
        currentPage(),
      ]);
    };
  },
});

createApp(App).mount('#app');
