// The parent side of a plugin's settings frame: creates <iframe sandbox="allow-scripts"> by URL,
// hands it a MessagePort after a handshake, and answers its requests itself — with the token,
// which never enters the frame — after bridge-policy.js has accepted them.
//
// Handshake: the frame posts {type:'ps-frame-ready'} to its parent once its scripts ran. The page
// accepts it only from this iframe's window, only from an opaque origin ("null": proof that the
// sandbox is in force), and only once. A second load event means the frame navigated to another
// document, which gets nothing: the frame is removed instead.
import { h, reactive, ref, defineComponent, onMounted, onBeforeUnmount, watch } from '/admin/vendor/vue.runtime.js';
import { api } from './api.js';
import { checkBridgeMessage, createRateLimiter, BRIDGE_LIMITS } from './bridge-policy.js';
import { errorState, loadingState, fmtTime } from './ui.js';

const MAX_ACTIVITY = 50;

export const PluginSettingsFrame = defineComponent({
  props: { pluginKey: { type: String, required: true } },
  emits: ['saved'],
  setup(props, { emit }) {
    const container = ref(null);
    const state = reactive({
      loading: true, error: '', info: null,
      phase: 'idle',       // idle → loading → connected | closed
      closedReason: '',
      height: 360,
      activity: [],        // what the frame asked for and what the page did
    });
    let frame = null;
    let port = null;
    let loads = 0;
    let refusals = 0;
    let inFlight = 0;
    let limiter = null;

    function log(kind, text) {
      state.activity.unshift({ at: new Date().toISOString(), kind, text });
      if (state.activity.length > MAX_ACTIVITY) state.activity.length = MAX_ACTIVITY;
    }

    function teardown(reason) {
      window.removeEventListener('message', onWindowMessage);
      if (port) {
        port.onmessage = null;
        port.close();
        port = null;
      }
      if (frame) {
        frame.removeEventListener('load', onFrameLoad);
        frame.remove();
        frame = null;
      }
      if (reason) {
        state.phase = 'closed';
        state.closedReason = reason;
        log('refused', reason);
      }
    }

    async function open() {
      teardown();
      state.loading = true;
      state.error = '';
      state.phase = 'idle';
      state.closedReason = '';
      refusals = 0;
      loads = 0;
      try {
        state.info = await api(`plugins/${encodeURIComponent(props.pluginKey)}/frame`);
      } catch (err) {
        state.error = err.message;
        return;
      } finally {
        state.loading = false;
      }
      if (!state.info.frameUrl) return;
      limiter = createRateLimiter({ max: BRIDGE_LIMITS.maxRequestsPerWindow, windowMs: BRIDGE_LIMITS.windowMs });
      state.phase = 'loading';
      window.addEventListener('message', onWindowMessage);
      // Built by hand so the sandbox attribute is certainly set before the first navigation starts.
      frame = document.createElement('iframe');
      frame.setAttribute('sandbox', 'allow-scripts');
      frame.setAttribute('referrerpolicy', 'no-referrer');
      frame.setAttribute('allow', '');
      frame.setAttribute('title', `${state.info.title} settings (runs in a sandbox)`);
      frame.className = 'plugin-frame';
      frame.style.height = `${state.height}px`;
      frame.addEventListener('load', onFrameLoad);
      frame.src = state.info.frameUrl;
      container.value.appendChild(frame);
    }

    function onFrameLoad() {
      loads += 1;
      if (loads > 1) teardown('The settings page tried to load another page inside its frame; the frame was closed. Reopen it to continue.');
    }

    function onWindowMessage(event) {
      if (!frame || event.source !== frame.contentWindow) return; // not our frame: not our business
      if (event.origin !== 'null') {
        teardown(`The settings frame is not sandboxed (origin ${event.origin}); the page will not talk to it.`);
        return;
      }
      const data = event.data;
      if (!data || typeof data !== 'object' || data.type !== 'ps-frame-ready') {
        log('refused', 'A message posted to the page outside the bridge was ignored.');
        return;
      }
      if (port) {
        // The bridge is handed out once per frame. (A new document in the frame is caught by its
        // load event; a repeated ready from the same document is just ignored.)
        log('refused', 'A repeated handshake from the settings frame was ignored.');
        return;
      }
      const channel = new MessageChannel();
      port = channel.port1;
      port.onmessage = onPortMessage;
      // '*' because an opaque origin cannot be named; what is sent is a port that only this page
      // listens on, and every message on it is checked against this plugin.
      frame.contentWindow.postMessage({ type: 'ps-bridge', v: 1 }, '*', [channel.port2]);
      // A plain copy: the reactive proxy Vue keeps would not survive structured cloning.
      port.postMessage({ type: 'init', props: JSON.parse(JSON.stringify(state.info.props)) });
      state.phase = 'connected';
    }

    function reply(id, message) {
      if (port) port.postMessage({ type: 'reply', id, ...message });
    }

    async function onPortMessage(event) {
      const verdict = checkBridgeMessage(event.data, { payoutKey: state.info.key, keys: state.info.keys, secretMask: state.info.secretMask });
      if (verdict.kind === 'resize') {
        state.height = verdict.height;
        if (frame) frame.style.height = `${verdict.height}px`;
        return;
      }
      if (verdict.kind === 'refused') return refuse(verdict.id, verdict.reason);
      if (!limiter.take()) return refuse(verdict.id, `too many requests: at most ${BRIDGE_LIMITS.maxRequestsPerWindow} in ${BRIDGE_LIMITS.windowMs / 1000} s`);
      if (inFlight >= BRIDGE_LIMITS.maxInFlight) return refuse(verdict.id, 'too many requests at once; wait for the previous one');
      const { id, body } = verdict;
      const secret = state.info.keys.find((k) => k.key === body.key)?.secret;
      inFlight += 1;
      try {
        const res = await api('merchant-and-payout/set-config-payout', { method: 'POST', body });
        // Only what the frame needs: never the request's headers, never a stored value.
        reply(id, { ok: true, result: { success: true, key: res.key, secret: Boolean(res.secret) } });
        log('saved', `Saved ${body.key}${secret ? ' (secret, value not shown)' : ` = ${JSON.stringify(body.value)}`}`);
        emit('saved', body.key);
      } catch (err) {
        reply(id, { ok: true, result: { success: false, error: { message: err.message } } });
        log('error', `The server refused ${body.key}: ${err.message}`);
      } finally {
        inFlight -= 1;
      }
    }

    function refuse(id, reason) {
      refusals += 1;
      reply(id, { ok: false, error: `refused by the admin page: ${reason}` });
      log('refused', `Refused: ${reason}`);
      if (refusals >= BRIDGE_LIMITS.maxRefusals) teardown(`The settings page sent ${refusals} requests the admin page refused; the frame was closed.`);
    }

    onMounted(open);
    onBeforeUnmount(() => teardown());
    watch(() => props.pluginKey, open);

    return () => h('section', { class: 'settings-frame', 'aria-labelledby': 'settings-heading' }, [
      h('div', { class: 'section-head' }, [
        h('h2', { id: 'settings-heading' }, 'Plugin settings'),
        h('button', { type: 'button', onClick: open, disabled: state.loading }, 'Reload settings page'),
      ]),
      h('p', { class: 'hint' }, "This form is the plugin's own code. It runs in a sandboxed frame with no network and no access to this page; it can only ask this page to save its own declared settings, and every request is listed below. Secrets are write-only: the frame learns only whether one is set."),
      state.loading ? loadingState('the settings page') : null,
      state.error ? errorState(state.error, open) : null,
      state.info && !state.info.frameUrl
        ? h('p', { class: 'state empty' }, state.info.template.error
          ? `The plugin's settings page was refused: ${state.info.template.error}`
          : 'This plugin has no settings page of its own (templates/admin.js); use the configuration table below.')
        : null,
      state.phase === 'closed' ? h('p', { class: 'state error', role: 'alert' }, state.closedReason) : null,
      // The iframe is added to this container by open(), not rendered by Vue.
      h('div', { ref: container, class: 'frame-box', 'data-phase': state.phase }),
      h('h3', 'Requests from the settings page'),
      state.activity.length
        ? h('ul', { class: 'activity', 'aria-live': 'polite' }, state.activity.map((a, i) => h('li', { key: `${a.at}-${i}`, class: a.kind }, [
          h('time', fmtTime(a.at)), ' ', a.text,
        ])))
        : h('p', { class: 'state empty' }, 'None yet.'),
    ]);
  },
});
