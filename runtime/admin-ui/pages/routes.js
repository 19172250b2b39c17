// Routes (exchange directions): the list, a form to create one, the same form to edit one, and
// Disable / Enable. A merchant's order names a route; the route says which plugin pays it out, at
// what rate and within which limits, and whether the payout starts by itself.
import { h, reactive, ref, defineComponent, onMounted } from '/admin/vendor/vue.runtime.js';
import { api } from '../api.js';
import { ActionButton, badge, dataTable, requestView, useRequest, field, text } from '../ui.js';

const EMPTY = { fromXml: '', toXml: '', outSymbol: '', rate: '', minAmount: '', maxAmount: '', payoutPlugin: '', autoPayout: true, active: true };

/** The create / edit form. `route` null creates; otherwise only changed fields are sent. */
const RouteForm = defineComponent({
  props: { route: Object, plugins: Array },
  emits: ['saved', 'cancel'],
  setup(props, { emit }) {
    const form = reactive({ ...EMPTY, ...(props.route ? { ...props.route, payoutPlugin: props.route.payoutPlugin ?? '' } : {}) });
    const error = ref('');
    const errorField = ref('');
    const busy = ref(false);
    async function submit(event) {
      event.preventDefault();
      error.value = '';
      errorField.value = '';
      const body = {
        fromXml: form.fromXml.trim(), toXml: form.toXml.trim(), outSymbol: form.outSymbol.trim(),
        rate: String(form.rate).trim(), minAmount: String(form.minAmount).trim(), maxAmount: String(form.maxAmount).trim(),
        payoutPlugin: form.payoutPlugin || null, autoPayout: Boolean(form.autoPayout), active: Boolean(form.active),
      };
      const missing = Object.entries(body).find(([k, v]) => v === '' && k !== 'payoutPlugin');
      if (missing) {
        error.value = `Fill in ${missing[0]}.`;
        errorField.value = missing[0];
        return;
      }
      busy.value = true;
      try {
        const saved = props.route
          ? await api(`routes/${encodeURIComponent(props.route._id)}`, { method: 'PATCH', body: changedFields(props.route, body) })
          : await api('routes', { method: 'POST', body });
        emit('saved', saved.route);
      } catch (err) {
        error.value = err.message;
        errorField.value = err.field || '';
      } finally {
        busy.value = false;
      }
    }
    const input = (k, label, attrs = {}, hint) => field(label, h('input', {
      name: k, value: form[k], 'aria-invalid': errorField.value === k ? 'true' : null, onInput: (e) => { form[k] = e.target.value; }, ...attrs,
    }), hint);
    const check = (k, label) => h('label', { class: 'field checkbox' }, [
      h('span', { class: 'label' }, label),
      h('input', { type: 'checkbox', name: k, checked: form[k], onChange: (e) => { form[k] = e.target.checked; } }),
    ]);
    return () => h('form', { class: 'filters route-form', onSubmit: submit, 'aria-label': props.route ? 'Edit route' : 'New route' }, [
      input('fromXml', 'From (customer pays)', { placeholder: 'USDTTRC20', size: 12 }),
      input('toXml', 'To (paid out)', { placeholder: 'CARDUAH', size: 12 }),
      input('outSymbol', 'Payout currency', { placeholder: 'UAH', size: 6 }),
      input('rate', 'Rate (out = in × rate)', { placeholder: '41.5', size: 8, inputmode: 'decimal' }),
      input('minAmount', 'Min amount', { placeholder: '10', size: 8, inputmode: 'decimal' }),
      input('maxAmount', 'Max amount', { placeholder: '5000', size: 8, inputmode: 'decimal' }),
      field('Payout plugin', h('select', { name: 'payoutPlugin', value: form.payoutPlugin, onChange: (e) => { form.payoutPlugin = e.target.value; } }, [
        h('option', { value: '' }, 'none (paid out by hand)'),
        ...(props.plugins || []).map((p) => h('option', { value: p.key }, p.status === 'active' ? p.key : `${p.key} (refused)`)),
      ])),
      check('autoPayout', 'Pay out automatically'),
      check('active', 'Open for orders'),
      h('span', { class: 'form-actions' }, [
        h('button', { type: 'submit', class: 'primary', disabled: busy.value }, busy.value ? 'Saving…' : props.route ? 'Save route' : 'Create route'),
        props.route ? h('button', { type: 'button', onClick: () => emit('cancel') }, 'Cancel') : null,
      ]),
      error.value ? h('p', { class: 'inline-error', role: 'alert' }, error.value) : null,
    ]);
  },
});

function changedFields(before, after) {
  const out = {};
  for (const [k, v] of Object.entries(after)) if (String(before[k] ?? '') !== String(v ?? '')) out[k] = v;
  return out;
}

export const RoutesPage = defineComponent({
  setup() {
    const editing = ref(null);
    const saved = ref('');
    const created = ref(0); // a new key empties the create form after a save
    const req = useRequest(async () => {
      const [routes, plugins] = await Promise.all([api('routes'), api('plugins')]);
      return { routes: routes.routes, plugins: plugins.plugins };
    });
    onMounted(req.run);
    const onSaved = async (route) => {
      saved.value = `Saved route ${route.fromXml} → ${route.toXml} (id ${route._id}).`;
      editing.value = null;
      created.value += 1;
      await req.run();
    };
    const toggle = async (r) => {
      await api(`routes/${encodeURIComponent(r._id)}`, { method: 'PATCH', body: { active: !r.active } });
      saved.value = `${r.active ? 'Disabled' : 'Enabled'} route ${r.fromXml} → ${r.toXml}.`;
      await req.run();
    };
    return () => h('main', [
      h('div', { class: 'page-head' }, [h('h1', 'Routes')]),
      h('p', { class: 'hint' }, 'A route is an exchange direction: merchants create orders on it by its id, and its payout plugin pays them out. A disabled route refuses new orders; orders already on it go on.'),
      saved.value ? h('p', { class: 'inline-ok', role: 'status' }, saved.value) : null,
      requestView(req, 'routes', (d) => h('div', [
        h('section', { class: 'card' }, [
          h('h2', 'Routes'),
          dataTable([
            { label: 'Id', render: (r) => h('span', { class: 'mono' }, r._id) },
            { label: 'Direction', render: (r) => h('span', { class: 'mono nowrap' }, `${r.fromXml} → ${r.toXml}`) },
            { label: 'Rate', render: (r) => `${r.rate} ${r.outSymbol}` },
            { label: 'Limits', render: (r) => `${r.minAmount} – ${r.maxAmount}` },
            { label: 'Payout plugin', render: (r) => text(r.payoutPlugin) },
            { label: 'Payout', render: (r) => (r.payoutPlugin ? (r.autoPayout ? badge('automatic', 'info') : badge('by hand')) : badge('by hand')) },
            { label: 'State', render: (r) => (r.active ? badge('open', 'ok') : badge('disabled', 'warn')) },
            {
              label: 'Actions', render: (r) => [
                h('button', { type: 'button', onClick: () => { editing.value = r._id; saved.value = ''; } }, 'Edit'),
                ' ',
                h(ActionButton, { key: `${r._id}-${r.active}`, label: r.active ? 'Disable' : 'Enable', kind: r.active ? 'danger' : '', action: () => toggle(r) }),
              ],
            },
          ], d.routes, { empty: 'No routes yet. Create one below: merchants need its id to create orders.', rowKey: (r) => r._id }),
          editing.value ? h('div', { class: 'approval' }, [
            h('h3', 'Edit route'),
            h(RouteForm, { key: `edit-${editing.value}`, route: d.routes.find((r) => r._id === editing.value), plugins: d.plugins, onSaved, onCancel: () => { editing.value = null; } }),
          ]) : null,
        ]),
        h('section', { class: 'card' }, [
          h('h2', 'New route'),
          h(RouteForm, { key: `new-${created.value}`, route: null, plugins: d.plugins, onSaved }),
        ]),
      ])),
    ]);
  },
});
