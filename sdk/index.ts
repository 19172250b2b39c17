// payout-sandbox/sdk — the typed SDK format (design.md §4.2).
//
//   import { definePayoutPlugin, ProviderRefused, OutcomeUnknown } from 'payout-sandbox/sdk';
//
// Inside the sandbox the bundler maps that import to runtime/bundler/shims/sdk.cjs; in an author's
// own tests and editor it resolves here. The values below ARE the shim's (loaded from it), so the
// two can never disagree about a name, a marker or an error class; this file adds the types.
import { createRequire } from 'node:module';

// ---- manifest ------------------------------------------------------------------------------------

export type ConfigValue = string | number | boolean | null;
export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

/** One config key. `secret: true` keys are write-only: the host applies them (http auth/sign), the plugin never reads them. */
export interface ConfigKeySpec {
  secret?: boolean;
  default?: ConfigValue;
  label?: string;
}

/** An origin the plugin asks to reach. Nothing is reachable until an administrator approves it. */
export interface NetworkRequestSpec {
  origin: string;
  methods?: readonly HttpMethod[];
  pathPrefix?: string;
  /** Config keys the host may send to this origin (auth, secretHeaders, sign); see http.secret-origin in sdk/README.md. */
  secrets?: readonly string[];
}

export interface PayoutManifest {
  title: string;
  /** Defaults to `title`. */
  name?: string;
  /** Currency codes (the platform's XML codes, e.g. CARDUAH) the plugin pays out. */
  currencies: readonly string[];
  config?: Readonly<Record<string, ConfigKeySpec>>;
  network?: readonly (string | NetworkRequestSpec)[];
  /** process.env keys the plugin would like; the administrator whitelists them. */
  env?: readonly string[];
  /** How the provider signs its webhooks; ctx.webhook.verify(req) checks deliveries host-side with it. */
  webhook?: { signature: WebhookSignatureSpec };
}

/** What the provider signs, joined with `separator` in this order. */
export type WebhookSignPart = 'timestamp' | 'body' | 'method' | 'path' | { literal: string } | { header: string };

/**
 * A provider's webhook signature: hex/base64(HMAC-<algorithm>(secret, parts joined)) in `header`.
 * E.g. a provider that signs `<timestamp>.<body>` with HMAC-SHA256:
 * { key: 'webhookSecret', header: 'x-signature', timestampHeader: 'x-timestamp', parts: ['timestamp', 'body'] }
 */
export interface WebhookSignatureSpec<K extends string = string> {
  /** A secret config key (config: { [key]: { secret: true } }) holding the signing secret. */
  key: K;
  /** The header carrying the signature. */
  header: string;
  parts: readonly WebhookSignPart[];
  /** Default 'sha256'. */
  algorithm?: 'sha1' | 'sha256' | 'sha512';
  /** Default 'hex'. */
  encoding?: 'hex' | 'base64';
  /** Text before the signature in the header, e.g. 'sha256='. */
  prefix?: string;
  /** Default '.'. */
  separator?: string;
  /** The header carrying the signed timestamp; required when parts include 'timestamp'. */
  timestampHeader?: string;
  /** Default 's'. */
  timestampUnit?: 's' | 'ms';
  /** Deliveries whose timestamp is further from the host's clock are refused (expired); also how long a delivery is remembered against replay. Default 300. */
  toleranceSec?: number;
  /** A header naming each delivery; a delivery id seen again within the tolerance is refused (replayed). Without it, the signature is the delivery's id. */
  deliveryIdHeader?: string;
}

/** Why ctx.webhook.verify said no. */
export type WebhookNotVerifiedReason = 'missing_signature' | 'malformed_signature' | 'missing_timestamp' | 'bad_timestamp' | 'expired' |
  'missing_delivery_id' | 'mismatch' | 'replayed' | 'secret_unset';

export type WebhookVerification =
  | { verified: true; /** epoch ms of the signed timestamp, or null */ timestamp: number | null; deliveryId: string | null }
  | { verified: false; reason: WebhookNotVerifiedReason; /** One line for your log and your response. */ message: string };

type ConfigOf<M extends PayoutManifest> = M['config'] extends Readonly<Record<string, ConfigKeySpec>> ? M['config'] : Record<never, ConfigKeySpec>;
/** Every key the manifest declares (falls back to string when the manifest is not a literal). */
export type ConfigKey<M extends PayoutManifest> = string extends keyof ConfigOf<M> ? string : Extract<keyof ConfigOf<M>, string>;
/** Keys the plugin may read with ctx.config.get: the declared ones that are not secret. */
export type PlainConfigKey<M extends PayoutManifest> = string extends keyof ConfigOf<M>
  ? string
  : { [K in keyof ConfigOf<M>]: ConfigOf<M>[K] extends { secret: true } ? never : K }[keyof ConfigOf<M>] & string;

// ---- ctx.http --------------------------------------------------------------------------------------

/** What the host signs: joined with `separator` in this order. */
export type SignPart = 'timestamp' | 'method' | 'path' | 'pathWithQuery' | 'query' | 'body' | { literal: string } | { header: string };

/** HMAC computed by the host with a config key's value: hex/base64(HMAC-<algorithm>(secret, parts joined)). */
export interface SignOptions<K extends string = string> {
  key: K;
  header: string;
  parts: readonly SignPart[];
  algorithm?: 'sha1' | 'sha256' | 'sha512';
  encoding?: 'hex' | 'base64';
  separator?: string;
  /** The host also sends the timestamp it signed in this header. */
  timestampHeader?: string;
  timestampUnit?: 'ms' | 's';
}

export interface HttpRequestOptions<K extends string = string> {
  url: string;
  method?: HttpMethod | Lowercase<HttpMethod>;
  headers?: Record<string, string>;
  /** Query parameters appended to the URL. */
  query?: Record<string, string>;
  /** Sent as JSON (content-type application/json unless you set one). */
  json?: unknown;
  /** Sent as application/x-www-form-urlencoded. */
  form?: Record<string, string>;
  /** Sent as is. */
  body?: string;
  timeoutMs?: number;
  /** Authorization header made by the host from a config key: Bearer <value>, or Basic user:<value>. */
  auth?: { bearer: K } | { basic: { username: string; passwordKey: K } };
  /** Header name → config key; the host puts the key's value in the header. */
  secretHeaders?: Record<string, K>;
  sign?: SignOptions<K>;
}

export interface HttpResponse {
  status: number;
  /** status 200-299 */
  ok: boolean;
  headers: Record<string, string>;
  text: string;
  /** Parses the body; a body that is not JSON throws OutcomeUnknown. */
  json<T = any>(): T;
}

export interface PayoutHttp<K extends string = string> {
  request(options: HttpRequestOptions<K>): Promise<HttpResponse>;
  get(url: string, options?: Omit<HttpRequestOptions<K>, 'url' | 'method'>): Promise<HttpResponse>;
  post(url: string, json?: unknown, options?: Omit<HttpRequestOptions<K>, 'url' | 'method' | 'json'>): Promise<HttpResponse>;
}

// ---- ctx -----------------------------------------------------------------------------------------

export interface PayoutLog {
  info(...parts: unknown[]): void;
  warn(...parts: unknown[]): void;
  error(...parts: unknown[]): void;
  debug(...parts: unknown[]): void;
}

export interface PayoutContext<M extends PayoutManifest = PayoutManifest> {
  /** The plugin's key (its folder name). */
  readonly pluginKey: string;
  /** Where the host receives this plugin's webhook (give it to the provider as the callback URL); null if the host has no public URL. */
  readonly webhookUrl: string | null;
  readonly config: { get(key: PlainConfigKey<M>): Promise<ConfigValue> };
  readonly http: PayoutHttp<ConfigKey<M>>;
  /** Host-side checks of webhook deliveries (the manifest's webhook.signature). */
  readonly webhook: { verify(req: WebhookRequest): Promise<WebhookVerification> };
  readonly log: PayoutLog;
}

// ---- handlers ------------------------------------------------------------------------------------

/** A field the customer fills in for a currency (the platform's getFields entries). */
export interface PayoutField {
  _id: string;
  name?: string;
  placeholder?: string;
  /** Checked inside the sandbox when an order is created. */
  regexp?: string;
  regexp_error?: string;
  required?: boolean;
}

export interface FieldsQuery {
  lang: string;
  /** The currency code (XML) of the route. */
  currency: string;
}

/** The order as transfer() sees it: a read-only projection, never the merchant's secrets. */
export interface PayoutOrder {
  _id: string;
  uid: number;
  status: string;
  inAmount: string;
  /** Decimal string in major units, e.g. "400.5". */
  outAmount: string;
  inXML: string;
  outXML: string;
  outSymbol: string;
  /** The customer's answers to your fields, by field _id. */
  outValues: Record<string, string>;
  createdAt: string;
}

/**
 * paid: the provider says the money is sent (order done now).
 * accepted: the provider took the payout; `status` polling or the webhook finishes it.
 */
export interface TransferResult {
  status: 'paid' | 'accepted';
  /** The provider's id for the payout; status() and webhook updates name it. */
  reference: string;
  /** What the provider says it pays, in the order's units; a different amount holds the order for review. */
  amount?: string | number;
  currency?: string;
  /** Shown in the order history (mask card numbers). */
  to?: string;
}

/** What status() is asked about. `reference` is null when transfer() never returned one (outcome unknown). */
export interface PayoutRef {
  reference: string | null;
  orderId: string;
  orderUid: number;
  /** The order's outAmount. */
  amount: string;
  currency: string;
}

export interface StatusResult {
  status: 'paid' | 'failed' | 'pending';
  /** In the order's units; a paid amount that differs from the order's holds it for review. */
  amount?: string | number;
  reason?: string;
}

export interface WebhookRequest {
  method: string;
  ip: string;
  /** Lower-case names. */
  headers: Readonly<Record<string, string>>;
  query: Readonly<Record<string, string | string[]>>;
  /** Parsed JSON or form body, or the text. */
  body: unknown;
  /** The exact body as received (utf8). */
  rawBody: string;
}

export interface PayoutUpdate {
  reference: string;
  status: 'paid' | 'failed' | 'pending';
  amount?: string | number;
}

export interface WebhookResult {
  /** Default: 200 "ok". An object body is sent as JSON. */
  response?: { status?: number; headers?: Record<string, string>; body?: string | object };
  /** Applied by the host to this plugin's own payouts, with the amount check. */
  updates?: PayoutUpdate[];
}

type MaybePromise<T> = T | Promise<T>;

export interface PayoutPluginDefinition<M extends PayoutManifest = PayoutManifest> {
  manifest: M;
  /** Fields for a currency, or null when the plugin does not pay it out. */
  fields(ctx: PayoutContext<M>, query: FieldsQuery): MaybePromise<PayoutField[] | null>;
  /**
   * Sends the payout. Throw ProviderRefused when the provider definitely did not pay (FAILED,
   * order errorPayout); any other failure after a request left is UNKNOWN and never retried.
   */
  transfer(ctx: PayoutContext<M>, order: PayoutOrder): Promise<TransferResult>;
  /** Asked by the host about ACCEPTED and UNKNOWN payouts until they settle. */
  status?(ctx: PayoutContext<M>, payout: PayoutRef): Promise<StatusResult>;
  /** Served at POST /payout_call/<key>/webhook/. */
  webhook?(ctx: PayoutContext<M>, req: WebhookRequest): Promise<WebhookResult>;
}

export type PayoutPlugin<M extends PayoutManifest = PayoutManifest> = Readonly<PayoutPluginDefinition<M>> & { readonly __psSdkPlugin: true };

// ---- errors ----------------------------------------------------------------------------------------

/**
 * How a refused or failed host call arrives in plugin code (ctx.http, ctx.config): `code` is
 * HOST_DENIED when a policy rule refused it (`rule` names the rule, e.g. http.grant), or what
 * failed (timeout, connect_timeout, dns, tls, network, deadline, …). See sdk/README.md.
 */
export interface HostCallError extends Error {
  code?: string;
  rule?: string;
}

/** The provider definitely did not pay (it said no). The order goes to errorPayout; a new attempt is allowed. */
export interface ProviderRefused extends Error {
  readonly name: 'ProviderRefused';
  readonly definite: true;
  readonly details?: unknown;
}
export interface ProviderRefusedConstructor {
  new (message: string, details?: unknown): ProviderRefused;
  readonly prototype: ProviderRefused;
}

/** Nobody knows whether the provider paid. The payout is UNKNOWN: reconciled through status(), never retried blindly. */
export interface OutcomeUnknown extends Error {
  readonly name: 'OutcomeUnknown';
}
export interface OutcomeUnknownConstructor {
  new (message: string): OutcomeUnknown;
  readonly prototype: OutcomeUnknown;
}

interface ShimExports {
  definePayoutPlugin<M extends PayoutManifest>(definition: PayoutPluginDefinition<M>): PayoutPlugin<M>;
  ProviderRefused: ProviderRefusedConstructor;
  OutcomeUnknown: OutcomeUnknownConstructor;
  MARK: '__psSdkPlugin';
}

const shim = createRequire(import.meta.url)('../runtime/bundler/shims/sdk.cjs') as ShimExports;

/** Declares a plugin; `export default definePayoutPlugin({...})` from plugin.ts. */
export function definePayoutPlugin<const M extends PayoutManifest>(definition: PayoutPluginDefinition<M>): PayoutPlugin<M> {
  return shim.definePayoutPlugin(definition);
}
export const ProviderRefused: ProviderRefusedConstructor = shim.ProviderRefused;
export const OutcomeUnknown: OutcomeUnknownConstructor = shim.OutcomeUnknown;
/** The property definePayoutPlugin marks its result with; the sandbox refuses a default export without it. */
export const SDK_PLUGIN_MARK: '__psSdkPlugin' = shim.MARK;
