// The engine a plugin runs on (README "Which engine to pick"): shown with where the choice comes
// from, and switched here. Only the engines the server reports are offered; switching reloads the
// plugin on the new engine, and a plugin that does not load there keeps running on its old one.
import { h, ref, defineComponent, watch } from '/admin/vendor/vue.runtime.js';
import { api } from '../api.js';
import { ActionButton, badge, field } from '../ui.js';

const SOURCE_TEXT = {
  admin: 'chosen on this page',
  pluginEngines: "set for this plugin by the server option pluginEngines",
  engine: "the server's default (option engine)",
};

/** A small badge naming the engine, for lists. */
export const engineBadge = (p) => (p.engine && p.engine.name ? badge(`engine: ${p.engine.name}`, 'neutral', SOURCE_TEXT[p.engine.source] || '') : null);

export const EngineCard = defineComponent({
  props: { plugin: { type: Object, required: true } },
  emits: ['changed'],
  setup(props, { emit }) {
    const chosen = ref(props.plugin.engine ? props.plugin.engine.name : '');
    watch(() => props.plugin.engine && props.plugin.engine.name, (name) => { chosen.value = name || ''; });
    const path = () => `plugins/${encodeURIComponent(props.plugin.key)}/engine`;
    const send = async (engine) => {
      try {
        await api(path(), { method: 'POST', body: { engine } });
      } finally {
        // Refused or not, what runs now is read again from the server.
        emit('changed');
      }
    };
    return () => {
      const e = props.plugin.engine || { name: null, source: null, available: [] };
      return h('section', { class: 'card engine', 'aria-label': 'Engine' }, [
        h('h2', 'Engine'),
        h('p', [
          'Runs on ', h('strong', { class: 'mono', 'data-engine': e.name || '' }, e.name || 'unknown'),
          e.source ? ` — ${SOURCE_TEXT[e.source] || e.source}.` : '.',
        ]),
        e.ignored ? h('p', { class: 'state error', role: 'alert' }, e.ignored) : null,
        h('p', { class: 'hint' }, 'Switching reloads the plugin on the engine chosen. If it does not load there it keeps running where it was, and the reason is shown here.'),
        h('div', { class: 'section-head', style: { justifyContent: 'flex-start' } }, [
          field('Engine', h('select', { value: chosen.value, 'aria-label': 'Engine', onChange: (ev) => { chosen.value = ev.target.value; } },
            e.available.map((name) => h('option', { value: name }, name)))),
          h(ActionButton, {
            label: 'Switch engine', kind: 'primary', disabled: !chosen.value || chosen.value === e.name, done: 'Switched',
            action: () => send(chosen.value),
            confirm: `Reload ${props.plugin.key} on ${chosen.value}? Calls running now finish on the old engine.`,
          }),
          e.source === 'admin' ? h(ActionButton, { label: "Use the server's setting", action: () => send(null), done: 'Done' }) : null,
        ]),
      ]);
    };
  },
});
