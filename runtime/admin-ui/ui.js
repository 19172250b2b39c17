// Small building blocks for the pages. The admin page uses Vue's runtime-only build with render
// functions (h), not templates: compiling templates in the browser needs 'unsafe-eval', which the
// page holding the admin token must not allow.
import { h, ref, reactive, defineComponent, onBeforeUnmount, onMounted } from '/admin/vendor/vue.runtime.js';
import { apiBlobUrl } from './api.js';

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

export function text(value) {
  if (value === null || value === undefined || value === '') return '—';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

export const loadingState = (what) => h('p', { class: 'state loading', role: 'status' }, `Loading ${what}…`);
export const emptyState = (message) => h('p', { class: 'state empty' }, message);
export const errorState = (message, retry) => h('div', { class: 'state error', role: 'alert' }, [
  h('strong', 'Error: '), message, ' ',
  retry ? h('button', { type: 'button', class: 'link', onClick: retry }, 'Try again') : null,
]);

export const badge = (label, kind = 'neutral', title) => h('span', { class: `badge ${kind}`, title }, label);

const STATUS_KIND = {
  done: 'ok', SUCCEEDED: 'ok', allowed: 'ok', sent: 'ok', active: 'ok',
  errorPayout: 'bad', errorPayment: 'bad', FAILED: 'bad', denied: 'bad', error: 'bad', failed: 'bad', rejected: 'bad',
  hold: 'warn', NEEDS_REVIEW: 'warn', UNKNOWN: 'warn', ACCEPTED: 'info', DISPATCHING: 'info', inProgressPayout: 'info', pending: 'info',
};
export const statusBadge = (status) => badge(status || '—', STATUS_KIND[status] || 'neutral');

/**
 * A table from column specs ({label, key} or {label, render(row)}). Rows are clickable when
 * onRow is given (and reachable by keyboard).
 */
export function dataTable(columns, rows, { empty = 'Nothing to show.', rowKey, onRow, caption, tableClass } = {}) {
  if (!rows || !rows.length) return emptyState(empty);
  return h('div', { class: 'table-wrap' }, h('table', { class: tableClass ? `grid ${tableClass}` : 'grid' }, [
    caption ? h('caption', caption) : null,
    h('thead', h('tr', columns.map((c) => h('th', { scope: 'col' }, c.label)))),
    h('tbody', rows.map((row, i) => h('tr', {
      key: rowKey ? rowKey(row) : i,
      class: onRow ? 'clickable' : null,
      tabindex: onRow ? 0 : null,
      onClick: onRow ? () => onRow(row) : null,
      onKeydown: onRow ? (e) => { if (e.key === 'Enter') onRow(row); } : null,
    }, columns.map((c) => h('td', { class: c.class }, c.render ? c.render(row) : text(row[c.key])))))),
  ]));
}

/** Definition list of label → value pairs, for record details. */
export const details = (pairs) => h('dl', { class: 'details' }, pairs.flatMap(([label, value]) => [h('dt', label), h('dd', value ?? '—')]));

/** Loading / error / data for one request; `run` (re)loads. */
export function useRequest(fn) {
  const state = reactive({ loading: true, error: '', data: null });
  async function run() {
    state.loading = true;
    state.error = '';
    try {
      state.data = await fn();
    } catch (err) {
      state.error = err.message;
    } finally {
      state.loading = false;
    }
  }
  return { state, run };
}

/** Renders a useRequest state: a loading line, an error with retry, or render(data). */
export function requestView(req, what, render) {
  if (req.state.loading && !req.state.data) return loadingState(what);
  if (req.state.error) return errorState(req.state.error, req.run);
  return render(req.state.data);
}

/** A button that runs an async action, says so while it runs, and shows the API's error beside itself. */
export const ActionButton = defineComponent({
  props: { label: String, action: Function, kind: { type: String, default: '' }, disabled: Boolean, confirm: String, done: String },
  setup(props) {
    const busy = ref(false);
    const error = ref('');
    const ok = ref('');
    async function click() {
      if (props.confirm && !window.confirm(props.confirm)) return;
      busy.value = true;
      error.value = '';
      ok.value = '';
      try {
        await props.action();
        if (props.done) ok.value = props.done;
      } catch (err) {
        error.value = err.message;
      } finally {
        busy.value = false;
      }
    }
    return () => h('span', { class: 'action' }, [
      h('button', { type: 'button', class: props.kind, disabled: busy.value || props.disabled, 'aria-busy': busy.value ? 'true' : null, onClick: click },
        busy.value ? `${props.label}…` : props.label),
      error.value ? h('span', { class: 'inline-error', role: 'alert' }, error.value) : null,
      ok.value ? h('span', { class: 'inline-ok', role: 'status' }, ok.value) : null,
    ]);
  },
});

/** A plugin's icon, fetched with the token (an <img src> could not send it) and shown as a blob: URL. */
export const PluginIcon = defineComponent({
  props: { pluginKey: String, hasIcon: Boolean, title: String, size: { type: Number, default: 48 } },
  setup(props) {
    const src = ref('');
    onMounted(async () => {
      if (!props.hasIcon) return;
      try {
        src.value = await apiBlobUrl(`plugins/${encodeURIComponent(props.pluginKey)}/icon`);
      } catch {
        src.value = '';
      }
    });
    onBeforeUnmount(() => { if (src.value) URL.revokeObjectURL(src.value); });
    return () => {
      const style = { width: `${props.size}px`, height: `${props.size}px` };
      if (src.value) return h('img', { class: 'plugin-icon', src: src.value, alt: `${props.title} icon`, style });
      const initials = (props.title || props.pluginKey || '?').slice(0, 2).toUpperCase();
      return h('span', { class: 'plugin-icon placeholder', style, 'aria-hidden': 'true' }, initials);
    };
  },
});

/** A labelled form control. */
export const field = (label, control, hint) => h('label', { class: 'field' }, [h('span', { class: 'label' }, label), control, hint ? h('span', { class: 'hint' }, hint) : null]);
