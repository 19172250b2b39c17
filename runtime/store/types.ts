// The records payout-sandbox keeps. Every adapter stores exactly these shapes; ids are 24-hex
// strings (ObjectId-compatible) so that platform plugins that print or compare `_id` keep working.

export const ORDER_STATUSES = [
  'new', 'waitPayment', 'errorPayment', 'inProgress', 'inProgressPayout',
  'errorPayout', 'hold', 'done', 'returned', 'deleted',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export interface FieldValue { key: string; value: string; name?: string }

export interface Order {
  _id: string;
  uid: number;                  // sequential, human-facing number
  secret: string;               // the order page secret (/{lang}/order/{uid}/{secret})
  status: OrderStatus;
  routeId: string;
  inAmount: string;             // decimal strings, computed with bignumber.js
  outAmount: string;
  fromXml: string;              // currency codes (the seed's xml_from / xml_to)
  toXml: string;
  outSymbol: string;
  fromValues: FieldValue[];
  toValues: FieldValue[];
  routeValues: FieldValue[];
  lang: string;
  agreement: boolean;
  hideOutData: boolean;
  clientCallbackUrl: string | null;
  ipnUrl: string | null;
  ipnSecret: string | null;     // merchant-chosen; never leaves the server except as a hash input
  partner: string | null;
  payoutModule: string | null;  // plugin key chosen from the route
  payoutStatus: string | null;
  orderNote: string | null;
  holdReason: string | null;
  version: number;              // bumped on every write; compare-and-set guard
  createdAt: string;            // ISO-8601
  updatedAt: string;
}

export type NewOrder = Omit<Order, '_id' | 'uid' | 'version' | 'createdAt' | 'updatedAt'>;

export interface OrderHistoryEntry {
  _id: string;
  orderId: string;
  at: string;
  fromStatus: OrderStatus | null;
  toStatus: OrderStatus;
  actor: string;                // 'plugin:<key>', 'admin', 'system', 'merchant'
  payoutStatus: string | null;
  comment: string | null;
}

export const ATTEMPT_STATES = [
  'PREPARED', 'DISPATCHING', 'SUCCEEDED', 'ACCEPTED', 'FAILED', 'UNKNOWN', 'NEEDS_REVIEW',
] as const;
export type AttemptState = (typeof ATTEMPT_STATES)[number];
/** An attempt in one of these states blocks any new attempt for the same order. */
export const LIVE_ATTEMPT_STATES: readonly AttemptState[] = ['PREPARED', 'DISPATCHING', 'ACCEPTED', 'UNKNOWN'];

export interface PayoutAttempt {
  _id: string;
  orderId: string;
  plugin: string;
  state: AttemptState;
  live: boolean;                // true while state is in LIVE_ATTEMPT_STATES
  fence: number;                // increases on every lease takeover; a write with a lower fence is refused
  leaseOwner: string | null;
  leaseUntil: string | null;
  requestsSent: number;         // outbound requests seen while transfer() ran
  /**
   * Durable "a request of transfer() may have left": written (markAttemptRequestLeft) before the
   * first request of the call is handed to a socket. null: nothing was ever sent, so a DISPATCHING
   * attempt found after a crash may be retried. Absent (undefined) on records written before it
   * existed: read as "may have left".
   */
  requestLeftAt: string | null;
  /** The plugin call (audit callId) whose request left; with requestLeftAt. */
  callId: string | null;
  transaction: string | null;   // provider transaction id reported by the plugin
  reportedAmount: string | null;
  reportedCurrency: string | null;
  reason: string | null;        // why FAILED / UNKNOWN / NEEDS_REVIEW
  reviewDeadline: string | null;// UNKNOWN/ACCEPTED must be settled by then or go to NEEDS_REVIEW
  createdAt: string;
  updatedAt: string;
}

/** The platform's OrderPayoutTxs shape, plus a plugin-owned note. */
export interface PayoutTx {
  _id: string;
  order: string;                // order _id
  transaction: string;
  payoutModule: string;
  active: boolean;
  amount: string;
  currency: string;
  to: string | null;
  note: string | null;
  attemptId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface PluginConfigEntry {
  plugin: string;
  key: string;
  /** Plain text for shown keys; an encryption envelope (see host-api/config.ts) for secret keys. */
  value: string;
  secret: boolean;
  updatedAt: string;
}

export interface NetworkGrant {
  plugin: string;
  origin: string;               // scheme://host:port
  pathPrefix: string | null;
  methods: string[] | null;     // null = any method
  requested: boolean;           // the plugin's manifest asks for it
  approved: boolean;            // an administrator approved it
  approvedBy: string | null;
  approvedAt: string | null;
  updatedAt: string;
}

export type AuditDecision = 'allowed' | 'denied' | 'error';
export interface AuditRecord {
  _id: string;
  at: string;
  plugin: string | null;        // null for admin and system actions
  actor: string;                // 'plugin:<key>', 'admin', 'system'
  callId: string | null;
  capability: string;           // e.g. 'http.request', 'config.get', 'admin.order.status'
  decision: AuditDecision;
  rule: string | null;          // which policy rule decided
  summary: string;              // scrubbed argument summary
  durationMs: number;
}
export type NewAuditRecord = Omit<AuditRecord, '_id'>;
export interface AuditQuery {
  plugin?: string;
  capability?: string;
  decision?: AuditDecision;
  callId?: string;
  since?: string;
  until?: string;
  limit?: number;               // newest first
}

export type IpnState = 'pending' | 'sending' | 'sent' | 'failed';
export interface IpnMessage {
  _id: string;
  orderId: string;
  status: OrderStatus;
  url: string;
  fields: Record<string, string>;   // the form body, hash included
  state: IpnState;
  attempts: number;
  maxAttempts: number;
  nextAttemptAt: string;
  leaseUntil: string | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}
export type NewIpn = Pick<IpnMessage, 'orderId' | 'status' | 'url' | 'fields' | 'maxAttempts'>;

export type InboxState = 'received' | 'processed' | 'failed';
export interface WebhookDelivery {
  _id: string;
  plugin: string;
  callback: string;
  receivedAt: string;
  method: string;
  ip: string;
  headers: Record<string, string>;
  query: Record<string, string>;
  body: string;                 // raw body as received (utf8; base64 when not text)
  bodyEncoding: 'utf8' | 'base64';
  state: InboxState;
  responseStatus: number | null;
  responseBody: string | null;
  error: string | null;
}
export type NewWebhookDelivery = Omit<WebhookDelivery, '_id' | 'state' | 'responseStatus' | 'responseBody' | 'error'>;

export interface Route {
  _id: string;
  fromXml: string;
  toXml: string;
  outSymbol: string;
  rate: string;                 // out = in * rate
  minAmount: string;
  maxAmount: string;
  payoutPlugin: string | null;
  autoPayout: boolean;
  active: boolean;
  createdAt: string;
  updatedAt: string;
}
export type NewRoute = Omit<Route, '_id' | 'createdAt' | 'updatedAt'>;

export interface PluginLogLine {
  _id: string;
  plugin: string;
  at: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  callId: string | null;
  text: string;                 // already scrubbed
}

// ---- plugin records: what an administrator approved for each plugin folder ----------------------

/** What a plugin version may reach, as approved: compared on every update to decide whether it widens. */
export interface PluginCapabilitySet {
  /** Origins the manifest requests (configure.js `network`), sorted by origin. */
  network: { origin: string; methods: string[] | null; pathPrefix: string | null }[];
  /** Config keys the plugin may read, sorted by key; `secret` = required_config 2 (write-only). */
  config: { key: string; secret: boolean }[];
  /** Host modules the code requires (host-modules.ts ids), sorted. */
  hostModules: string[];
  /** Host capabilities those modules reach (e.g. http.request, history.update), sorted: the only ones the server serves it. */
  capabilities: string[];
  // The fields below were added later: a record written before them lacks them, and an update
  // compared with such a record counts every one of its entries as new (install/capabilities.ts).
  /** Capability names the source spells next to a direct use of the host bridge, sorted (refused at run time unless a module grants them). */
  bridgeRequests?: string[];
  /** Config keys whose value is where the plugin connects to ("whatever `apiUrl` holds"), sorted. */
  configOrigins?: string[];
  /** Callback names (POST /payout_call/<key>/<name>/), sorted. */
  callbacks?: string[];
  /** The cron schedule initCron returns, or null: no cron. */
  cron?: string | null;
}

export const PLUGIN_SOURCE_KINDS = ['npm', 'tarball', 'url', 'folder', 'first-use', 'approved-folder'] as const;
export type PluginSourceKind = (typeof PLUGIN_SOURCE_KINDS)[number];

export interface PluginSource {
  kind: PluginSourceKind;
  /** What the administrator gave: npm spec, tarball file name, URL (origin + path only), folder path. */
  spec: string | null;
  registry: string | null;
  tarballUrl: string | null;
}

export interface PluginVersion {
  /** 24-hex id of this approved version; a kept copy lives in <plugins>/.versions/<key>/<id>. */
  id: string;
  packageName: string | null;
  version: string | null;
  /** SRI (sha512-…) of the tarball: the registry's, verified, or computed for a local file / URL. */
  integrity: string | null;
  /** sha256:<hex> over the sorted relative paths and contents of the plugin folder's files. */
  contentHash: string;
  capabilities: PluginCapabilitySet;
  /** Lifecycle scripts package.json declares; they were never run. */
  scriptsNotRun: string[];
  source: PluginSource;
  /** null while the version only waits for approval (PendingPluginUpdate.version). */
  approvedBy: string | null;
  approvedAt: string | null;
  /** For a previous version: its kept folder, relative to the plugins folder. null for the current one. */
  keptAt: string | null;
}

/** A checked update whose capabilities widen the approved ones: staged, waiting for an administrator. */
export interface PendingPluginUpdate {
  stagingId: string;
  version: PluginVersion;
  /** Human-readable differences, e.g. "new origin https://api.x:443", "new config key token (secret)". */
  widened: { network: string[]; config: string[]; capabilities: string[] };
  stagedBy: string;
  stagedAt: string;
}

export interface PluginRecord {
  key: string;
  /** Bumped by every write; putPluginRecord is a compare-and-set on it (0 = the record must not exist yet). */
  revision: number;
  current: PluginVersion;
  /** Newest first; the installer keeps a few (their folders under <plugins>/.versions/<key>/). */
  previous: PluginVersion[];
  pending: PendingPluginUpdate | null;
  updatedAt: string;
}

/**
 * The engine an administrator chose for one plugin on the admin page (design.md §5). It outranks the
 * server options (pluginEngines, engine); with no choice stored, the options decide. The store keeps
 * the name as given: which names exist is the sandbox's business, and a name this build does not
 * know is reported and ignored when the plugin loads.
 */
export interface PluginEngineChoice {
  plugin: string;
  engine: string;
  chosenBy: string;
  chosenAt: string;
}
