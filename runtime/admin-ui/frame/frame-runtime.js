// Runs inside a plugin's sandboxed settings frame (opaque origin, no network), before the plugin's
// template bundle. It gives the template what the platform gives it — Vue, the props, and
// `this.$rest.api(path, body)` — and replaces alert() (a sandbox without allow-modals cannot show
// one) with a message inside the frame.
//
// This file is convenience, not security: the plugin's code runs in the same frame and can change
// anything here. What protects the admin is the sandbox, the CSP and the parent's checks.
(function () {
  'use strict';

  var port = null;
  var pending = {};
  var nextId = 1;
  var mounted = false;

  function notice(message, kind) {
    var box = document.getElementById('ps-notices');
    if (!box) return;
    var item = document.createElement('div');
    item.className = 'ps-notice ps-' + (kind || 'info');
    item.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    var text = document.createElement('span');
    text.textContent = message;
    var close = document.createElement('button');
    close.type = 'button';
    close.textContent = 'OK';
    close.addEventListener('click', function () { item.remove(); });
    item.appendChild(text);
    item.appendChild(close);
    box.appendChild(item);
    while (box.children.length > 5) box.firstChild.remove();
  }

  function status(message, kind) {
    var el = document.getElementById('ps-frame-status');
    if (!el) return;
    el.textContent = message || '';
    el.className = message ? 'ps-' + (kind || 'info') : 'ps-hidden';
  }

  window.alert = function alert(message) { notice(message === undefined ? '' : String(message), 'info'); };
  // No blocking dialogs here: confirm() answers yes (the admin pressed the button that asked) and
  // says so; prompt() cannot be answered.
  window.confirm = function confirm(message) { notice('Confirmed: ' + String(message === undefined ? '' : message), 'info'); return true; };
  window.prompt = function prompt() { notice('This settings page asked a question the admin page cannot show (prompt).', 'error'); return null; };

  /** The platform's this.$rest.api: resolves with the server's answer, rejects when the admin page refused. */
  function restApi(path, body) {
    return new Promise(function (resolve, reject) {
      if (!port) return reject(new Error('the admin page is not connected'));
      var id = nextId++;
      var plain;
      try {
        plain = body === undefined ? undefined : JSON.parse(JSON.stringify(body)); // Vue proxies do not clone
      } catch (err) {
        return reject(new Error('the request body is not plain data: ' + err.message));
      }
      pending[id] = { resolve: resolve, reject: reject };
      try {
        port.postMessage({ id: id, path: path, body: plain });
      } catch (err) {
        delete pending[id];
        reject(new Error('could not send the request: ' + err.message));
      }
    });
  }

  function onPortMessage(event) {
    var data = event.data || {};
    if (data.type === 'init') return mount(data.props || {});
    if (data.type !== 'reply') return;
    var waiting = data.id !== null && pending[data.id];
    if (!waiting) {
      if (data.error) notice(data.error, 'error');
      return;
    }
    delete pending[data.id];
    if (data.ok) waiting.resolve(data.result);
    else waiting.reject(new Error(data.error));
  }

  function reportHeight() {
    if (!port) return;
    var height = Math.ceil(document.documentElement.scrollHeight);
    port.postMessage({ type: 'resize', height: height });
  }

  function mount(props) {
    if (mounted) return;
    mounted = true;
    if (window.__psAdminTemplateError) {
      status("The plugin's settings page could not be built: " + window.__psAdminTemplateError, 'error');
      return reportHeight();
    }
    var exported = window.__psAdminTemplate;
    var component = exported && (exported.default || exported);
    if (!component || typeof component !== 'object') {
      status("The plugin's templates/admin.js did not export a Vue component (module.exports = { template, props, data, methods }).", 'error');
      return reportHeight();
    }
    try {
      var app = Vue.createApp({ render: function () { return Vue.h(component, props); } });
      app.config.globalProperties.$rest = { api: restApi };
      app.config.errorHandler = function (err) {
        notice("The plugin's settings page failed: " + (err && err.message ? err.message : String(err)), 'error');
        console.error(err);
      };
      app.mount('#app');
      status('');
    } catch (err) {
      status("The plugin's settings page failed to start: " + (err && err.message ? err.message : String(err)), 'error');
    }
    if (typeof ResizeObserver === 'function') {
      var scheduled = false;
      new ResizeObserver(function () {
        if (scheduled) return;
        scheduled = true;
        requestAnimationFrame(function () { scheduled = false; reportHeight(); });
      }).observe(document.documentElement);
    }
    reportHeight();
  }

  window.addEventListener('message', function (event) {
    if (port || event.source !== window.parent) return;
    var data = event.data;
    if (!data || data.type !== 'ps-bridge' || !event.ports || !event.ports[0]) return;
    port = event.ports[0];
    port.onmessage = onPortMessage;
  });

  // Scripts at the end of <body> have all run by DOMContentLoaded, the template bundle included.
  document.addEventListener('DOMContentLoaded', function () {
    if (window.parent === window) {
      status('This page is a plugin settings frame; open it from the admin page.', 'error');
      return;
    }
    window.parent.postMessage({ type: 'ps-frame-ready', v: 1 }, '*');
  });
})();
