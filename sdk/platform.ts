// payout-sandbox/sdk/platform — types for the platform format (design.md §4.1): the modules a
// platform plugin requires, as the sandbox provides them. Platform plugins are CommonJS; use these
// from JSDoc, e.g.
//
//   /** @type {import('payout-sandbox/sdk/platform').PayoutConfigFactory} */
//   const payoutConfig = require('../../../modules/config/payout.config.js');
//
// Types only: nothing here runs. What each module does under the sandbox's policy is in the main
// README ("What a plugin can do").

export type ConfigValue = string | number | boolean | null;
export type OrderStatus =
  | 'new' | 'waitPayment' | 'errorPayment' | 'inProgress' | 'inProgressPayout'
  | 'errorPayout' | 'hold' | 'done' | 'returned' | 'deleted';

// ---- configure.js ------------------------------------------------------------------------------

/** module.exports of configure.js. Evaluated in a throwaway isolate; only plain data is read. */
export interface PlatformManifest {
  type: 'payout';
  title: string;
  name: string;
  /** Only packages the sandbox provides: axios, bluebird, bignumber.js. */
  required_npm?: string[];
  /** Currency codes the plugin pays out. */
  allow_XML?: string[];
  default_config?: Record<string, ConfigValue>;
  /** 1 = shown in the admin page, 2 = secret (write-only, shown as set / not set). */
  required_config?: Record<string, 1 | 2>;
  /** payout-sandbox extension: origins the plugin asks to reach (an administrator approves them). */
  network?: (string | { origin: string; methods?: string[]; pathPrefix?: string })[];
  /** payout-sandbox extension: process.env keys the plugin would like (whitelisted by the administrator). */
  env?: string[];
}

// ---- ../../../modules/config/payout.config.js --------------------------------------------------

export interface PayoutConfig {
  /** The plugin's own declared keys only; the stored value, else default_config, else null. */
  get(key: string): Promise<ConfigValue>;
}
/** require('../../../modules/config/payout.config.js')(id_key); another plugin's key throws. */
export type PayoutConfigFactory = (idKey: string) => PayoutConfig;

// ---- ../../../db ---------------------------------------------------------------------------------

/** What populate('order') gives: a read-only projection of the plugin's own order. */
export interface PopulatedOrder {
  _id: string;
  uid: number;
  status: OrderStatus;
  inAmount: string;
  outAmount: string;
  inXML: string;
  outXML: string;
  outSymbol: string;
  outValues: Record<string, string>;
  createdAt: Date;
}

export interface PayoutTxDoc<O = string> {
  _id: string;
  /** The order's _id, or the order itself after populate('order'). */
  order: O;
  transaction: string;
  payoutModule: string;
  active: boolean;
  amount: string;
  currency: string;
  to: string | null;
  note: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Mongo-style filter over tx fields; operators $eq $ne $lt $lte $gt $gte $in $nin $and only; values cast as mongoose casts them (Date or epoch ms for dates). */
export type TxFilter = Record<string, unknown>;
/** The only fields a plugin may change on its own txs. */
export interface TxPatch { active?: boolean; note?: string | null }

export interface TxQuery<T> extends PromiseLike<T> {
  populate(path: 'order' | { path: 'order'; select?: string | Record<string, 0 | 1> }): TxQuery<T extends (infer E)[] ? (E extends PayoutTxDoc ? PayoutTxDoc<PopulatedOrder> : E)[] : T extends PayoutTxDoc | null ? PayoutTxDoc<PopulatedOrder> | null : T>;
  select(projection: string | Record<string, 0 | 1>): TxQuery<T>;
  sort(spec: string | Record<string, 1 | -1 | 'asc' | 'desc' | 'ascending' | 'descending'> | [string, 1 | -1 | 'asc' | 'desc'][]): TxQuery<T>;
  limit(n: number): TxQuery<T>;
  skip(n: number): TxQuery<T>;
  lean(): TxQuery<T>;
  exec(): Promise<T>;
  catch<R = never>(onRejected?: (reason: unknown) => R | PromiseLike<R>): Promise<T | R>;
  finally(onFinally?: () => void): Promise<T>;
}

/** require('../../../db').OrderPayoutTxs: scoped to the plugin's own txs (payoutModule is forced). */
export interface OrderPayoutTxsFacade {
  find(filter?: TxFilter, projection?: string | Record<string, 0 | 1>): TxQuery<PayoutTxDoc[]>;
  findOne(filter?: TxFilter, projection?: string | Record<string, 0 | 1>): TxQuery<PayoutTxDoc | null>;
  findById(id: string, projection?: string | Record<string, 0 | 1>): TxQuery<PayoutTxDoc | null>;
  countDocuments(filter?: TxFilter): Promise<number>;
  /** Only {$set: {active?, note?}} (a bare object is read as $set, as mongoose does). */
  updateOne(filter: TxFilter, update: { $set: TxPatch } | TxPatch): Promise<{ acknowledged: true; matchedCount: number; modifiedCount: number }>;
  /** Refused: the host records payout txs from transfer() results. */
  create(...args: unknown[]): Promise<never>;
  insertMany(...args: unknown[]): Promise<never>;
  updateMany(...args: unknown[]): Promise<never>;
  deleteOne(...args: unknown[]): Promise<never>;
  deleteMany(...args: unknown[]): Promise<never>;
  aggregate(...args: unknown[]): Promise<never>;
}
export interface DbModule { OrderPayoutTxs: OrderPayoutTxsFacade }

// ---- ../../../modules/updateHistory.js ---------------------------------------------------------

export interface HistoryEntry {
  orderId: string;
  /** When given, must equal the stored status (compare-and-set). */
  oldStatus?: OrderStatus;
  /** A plugin may only settle: inProgressPayout → done | errorPayout. */
  status: 'done' | 'errorPayout';
  payoutStatus?: string;
  orderNote?: string;
  comment?: string;
}
export type UpdateHistory = (entry: HistoryEntry) => Promise<{ ok: true; orderId: string; status: 'done' | 'errorPayout' }>;

// ---- ../../../modules/i18n -------------------------------------------------------------------------

/** i18n(lang, fallback)._t(key, vars): '' for an unknown key, so write `_t(key) || 'Fallback'`. */
export type I18n = (lang: string, fallbackLang?: string) => { _t(key: string, vars?: Record<string, unknown>): string };

// ---- axios (the subset the sandbox provides, over the egress guard) --------------------------------

export interface AxiosRequestConfig {
  url?: string;
  baseURL?: string;
  method?: string;
  headers?: Record<string, string | number | boolean | undefined>;
  params?: Record<string, unknown>;
  data?: unknown;
  timeout?: number;
  auth?: { username: string; password: string };
  responseType?: 'json' | 'text' | 'arraybuffer' | 'document';
  maxContentLength?: number;
  validateStatus?: ((status: number) => boolean) | null;
}

export interface AxiosResponse<T = any> {
  data: T;
  status: number;
  statusText: string;
  headers: Record<string, string>;
  config: AxiosRequestConfig;
  request: { url: string; redirected: boolean };
}

export interface AxiosError<T = any> extends Error {
  name: 'AxiosError';
  /** ERR_BAD_REQUEST (4xx), ERR_BAD_RESPONSE (5xx), or the host's code (HOST_DENIED, timeout, network, …). */
  code: string;
  config: AxiosRequestConfig;
  /** Present when the provider answered. */
  response?: AxiosResponse<T>;
  isAxiosError: true;
}

export interface AxiosInstance {
  <T = any>(config: AxiosRequestConfig): Promise<AxiosResponse<T>>;
  <T = any>(url: string, config?: AxiosRequestConfig): Promise<AxiosResponse<T>>;
  defaults: AxiosRequestConfig & { headers: Record<string, string> };
  interceptors: {
    request: { use(onFulfilled?: (c: AxiosRequestConfig) => AxiosRequestConfig | Promise<AxiosRequestConfig>, onRejected?: (e: unknown) => unknown): number; eject(id: number): void; clear(): void };
    response: { use(onFulfilled?: (r: AxiosResponse) => AxiosResponse | Promise<AxiosResponse>, onRejected?: (e: unknown) => unknown): number; eject(id: number): void; clear(): void };
  };
  request<T = any>(config: AxiosRequestConfig): Promise<AxiosResponse<T>>;
  get<T = any>(url: string, config?: AxiosRequestConfig): Promise<AxiosResponse<T>>;
  delete<T = any>(url: string, config?: AxiosRequestConfig): Promise<AxiosResponse<T>>;
  head<T = any>(url: string, config?: AxiosRequestConfig): Promise<AxiosResponse<T>>;
  options<T = any>(url: string, config?: AxiosRequestConfig): Promise<AxiosResponse<T>>;
  post<T = any>(url: string, data?: unknown, config?: AxiosRequestConfig): Promise<AxiosResponse<T>>;
  put<T = any>(url: string, data?: unknown, config?: AxiosRequestConfig): Promise<AxiosResponse<T>>;
  patch<T = any>(url: string, data?: unknown, config?: AxiosRequestConfig): Promise<AxiosResponse<T>>;
  create(config?: AxiosRequestConfig): AxiosInstance;
  isAxiosError(e: unknown): e is AxiosError;
  all<T>(values: T[]): Promise<Awaited<T>[]>;
  spread<T, R>(fn: (...args: T[]) => R): (array: T[]) => R;
  isCancel(e: unknown): false;
}

// ---- index.js: the plugin class ---------------------------------------------------------------------

/** The order transfer() receives. */
export interface PlatformOrder {
  _id: string;
  uid: number;
  status: OrderStatus;
  inAmount: string;
  outAmount: string;
  inXML: string;
  outXML: string;
  outSymbol: string;
  outValues: Record<string, string>;
  createdAt: string;
}

export interface PlatformField {
  _id: string;
  name?: string;
  placeholder?: string;
  regexp?: string;
  regexp_error?: string;
  required?: boolean | 'true';
}

/** ok 1: paid now (order done). ok 2: accepted; the plugin's callback or cron settles it through updateHistory. */
export interface TransferAnswer {
  ok: 1 | 2;
  transaction: string | number;
  amount?: string | number;
  currency?: string;
  to?: string;
}

export interface CronDescriptor {
  /** 5 fields, or 6 with seconds first. */
  schedule: string;
  callWhenInit?: boolean;
  fn(): unknown;
}

export interface PlatformPlugin {
  getFields(lang: string, xml: string): Promise<PlatformField[] | null> | PlatformField[] | null;
  /** Reject with a string or {message, code}. A rejection after a request left the sandbox is UNKNOWN, never a definite failure. */
  transfer(order: PlatformOrder): Promise<TransferAnswer>;
  initCron?(deps: { db: DbModule; updateHistory: UpdateHistory }): CronDescriptor | null | undefined;
}

/** module.exports of index.js: the host does `new Plugin()`. */
export type PlatformPluginClass = new (options?: Record<string, unknown>) => PlatformPlugin;

// ---- callbacks.js ------------------------------------------------------------------------------------

export interface CallbackRequest {
  METHOD: string;
  method: string;
  IP_ADDRESS: string;
  ip: string;
  /** Lower-case names; no Cookie. */
  headers: Readonly<Record<string, string>>;
  url: string;
  path: string;
  query: Readonly<Record<string, string | string[]>>;
  body: unknown;
}

export interface CallbackResponse {
  set(name: string | Record<string, string>, value?: string): CallbackResponse;
  setHeader(name: string, value: string): CallbackResponse;
  header(name: string, value: string): CallbackResponse;
  status(code: number): CallbackResponse;
  writeHead(code: number, headers?: Record<string, string>): CallbackResponse;
  write(chunk: string): boolean;
  /** Sends the response; only content-type, content-language, cache-control, retry-after, etag and x-request-id headers pass. */
  end(chunk?: string): CallbackResponse;
  send(body?: string | object): CallbackResponse;
  json(body: unknown): CallbackResponse;
}

export interface CallbackParam {
  /** Parsed JSON or form body, the text for other types, {} when empty. */
  post: any;
  get: Readonly<Record<string, string | string[]>>;
  /** The exact body (utf8), for signature checks. */
  rawBody: string;
}

/** Served at /payout_call/<key>/<name>/. */
export type PayoutCallback = (req: CallbackRequest, res: CallbackResponse, param: CallbackParam) => unknown;
export type CallbacksModule = Record<string, PayoutCallback>;
