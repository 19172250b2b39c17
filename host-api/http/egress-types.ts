// The types of the guarded request engine (egress.ts): what a caller hands it (the environment,
// the gate of its mode, the request) and what it answers, and the refusal it raises inside.
import type { buildConnector } from 'undici';
import type { PolicyRule } from '../../runtime/errors.ts';
import type { ConnectionPools } from './connection-pool.ts';
import type { AddressInfo, Target } from './address-policy.ts';

export type Resolver = (hostname: string) => Promise<Array<{ address: string; family: number }>>;
/** undici's connector signature: what `buildConnector()` returns. */
export type Connector = buildConnector.connector;

export interface EgressCaps {
  /** TCP (+TLS) connect, per address tried. */
  connectTimeoutMs: number;
  /** Whole request: DNS, connect, every redirect hop, reading the body. Also capped by the deadline. */
  totalTimeoutMs: number;
  maxRequestBodyBytes: number;
  /** Reading stops and the request fails once the body passes this. */
  maxResponseBytes: number;
  /** Requests (redirect hops included) one plugin call may start. */
  maxRequestsPerCall: number;
  /** Per plugin (plugin mode) or per destination origin (server mode), sliding 60 s window. */
  maxRequestsPerMinute: number;
  maxRedirects: number;
}

/** A refusal inside the engine; turned into PolicyDenied with the caller's label at the edge. */
export class Refusal extends Error {
  readonly rule: PolicyRule;
  readonly reason: string;
  constructor(rule: PolicyRule, reason: string) {
    super(reason);
    this.name = 'Refusal';
    this.rule = rule;
    this.reason = reason;
  }
}

/** The mode-specific part: who may go where. */
export interface Gate {
  /** 'http.request' or 'ipn': starts every error message. */
  label: string;
  /** The pinned address when `target` is an allowed loopback origin (exact scheme, host, port). */
  loopbackFor(target: Target): AddressInfo | null;
  /** Grant check; throws Refusal. */
  checkGrant(target: Target, method: string): void;
  /** Rate caps, once per hop before any network use; throws Refusal. */
  admit(target: Target): void;
  /**
   * Awaited once per hop after every check and before any socket is opened for it: a request
   * that passed the gate is about to leave (a payout records it durably, design.md §6). Throws
   * Refusal to stop it; nothing is sent then.
   */
  beforeSend?(): Promise<void>;
  /** A request was handed to a connected, checked socket. */
  onSent(): void;
  /** Loopback origins this gate allows, for refusal messages. */
  loopbackOrigins(): string[];
  /**
   * An operator-configured origin that may be on a private network (RFC 1918, CGNAT, IPv6 ULA:
   * an internal package mirror). Never loopback, link-local/metadata or any other range.
   * Absent (plugins, IPN): private addresses are refused like every non-public one.
   */
  privateNetworkAllowed?(target: Target): boolean;
  /** Whose keep-alive pool serves this request (the plugin); absent: one connection per hop. */
  poolOwner?: string;
}

export interface EgressEnv {
  resolve: Resolver;
  connect: Connector;
  caps: EgressCaps;
  userAgent: string;
  /** Keep-alive pools, for gates that name a pool owner. */
  pools?: ConnectionPools;
}

export interface EgressRequest {
  method: string;
  url: string;
  /** Already sanitised, lower-case names. */
  headers: Record<string, string>;
  body: Buffer | null;
  maxResponseBytes: number;
  /** Bound for this request (caps, plugin's own timeout); the deadline is applied on top. */
  timeoutMs: number;
  /** Epoch ms by which everything must be over. */
  deadline: number;
  maxRedirects: number;
}

export interface EgressResponse {
  status: number;
  statusText: string;
  headers: Record<string, string>;
  body: Buffer;
  url: string;
  redirected: boolean;
}
