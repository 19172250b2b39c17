// What the isolate reports, brought into the exact shapes the host reads. The prelude already
// builds these shapes, but plugin code runs in the same context: if it ever reached the bridge's
// Callbacks, or shaped a value the prelude missed, the host would still get a string where it
// reads a string. A number where the server scrubs a message made order creation answer 500 and
// left a payout attempt DISPATCHING; after this, it cannot.
import type { CallbackResponse, PluginDescription, ThrownByPlugin } from '../protocol.ts';

const MAX_MESSAGE = 4000;
const MAX_CALLBACKS = 1000;
const UNREADABLE = 'the plugin threw a value that could not be read';

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const capped = (s: string, limit: number) => (s.length > limit ? `${s.slice(0, limit)}…` : s);

export function normaliseThrown(value: unknown): ThrownByPlugin {
  if (!isRecord(value)) return { message: typeof value === 'string' ? capped(value, MAX_MESSAGE) : UNREADABLE };
  const out: ThrownByPlugin = { message: typeof value.message === 'string' ? capped(value.message, MAX_MESSAGE) : UNREADABLE };
  if (typeof value.code === 'string') out.code = capped(value.code, 200);
  else if (finite(value.code)) out.code = value.code;
  if (finite(value.statusCode)) out.statusCode = value.statusCode;
  if (typeof value.name === 'string') out.name = capped(value.name, 100);
  if (finite(value.responseStatus)) out.responseStatus = value.responseStatus;
  if (value.definite === true) out.definite = true;
  return out;
}

export function normaliseDescription(value: unknown): PluginDescription {
  const d = isRecord(value) ? value : {};
  const methods = isRecord(d.methods) ? d.methods : {};
  const callbacks = Array.isArray(d.callbacks) ? d.callbacks.filter((c): c is string => typeof c === 'string').slice(0, MAX_CALLBACKS) : [];
  const out: PluginDescription = {
    className: typeof d.className === 'string' ? capped(d.className, 200) : 'anonymous',
    methods: { getFields: methods.getFields === true, transfer: methods.transfer === true, initCron: methods.initCron === true },
    callbacks,
  };
  if (d.format === 'sdk') {
    out.format = 'sdk';
    out.methods.status = methods.status === true;
  }
  return out;
}

export function normaliseResponse(value: unknown): CallbackResponse {
  const r = isRecord(value) ? value : {};
  const headers: Record<string, string> = {};
  if (isRecord(r.headers)) {
    for (const [name, v] of Object.entries(r.headers)) if (typeof v === 'string' && name !== '__proto__') headers[name] = v;
  }
  return { status: finite(r.status) ? r.status : 500, headers, body: typeof r.body === 'string' ? r.body : '' };
}

export function normaliseLogLine(value: unknown): { level: string; text: string } | null {
  if (!isRecord(value) || typeof value.text !== 'string') return null;
  return { level: typeof value.level === 'string' ? value.level : 'info', text: value.text };
}
