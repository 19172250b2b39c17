// Assembles the host API: every capability a plugin can call, behind one dispatcher that caps
// (host-call-caps.ts) and audits each call. Nothing reaches a plugin except through the
// capabilities listed here.
import type { Store } from '../runtime/store/store.ts';
import type { NewIpn, Order, OrderStatus } from '../runtime/store/types.ts';
import type { Scrubber } from '../runtime/secrets/scrubber.ts';
import type { SecretBox } from '../runtime/secrets/secret-box.ts';
import { AuditLog } from './audit.ts';
import { ConfigService, configCapability } from './config.ts';
import type { ManifestSource } from './config.ts';
import { ConfigSnapshots } from './config-snapshot.ts';
import { IdleCronAudit } from './idle-cron-audit.ts';
import { CapabilitySetGate } from './capability-set.ts';
import type { CapabilitySetSource } from './capability-set.ts';
import { createHostApi } from './dispatch.ts';
import { HostCallCaps } from './host-call-caps.ts';
import { hostCallLimitsOf } from './host-call-limits.ts';
import type { HostCallLimits } from './host-call-limits.ts';
import type { HostApi } from './dispatch.ts';
import { historyCapability } from './history.ts';
import type { HistoryDeps } from './history.ts';
import { createHttpCapability } from './http.ts';
import type { Grant, HttpCapabilityOptions } from './http.ts';
import { PluginLog } from './log.ts';
import { payoutTxCapabilities } from './payout-txs.ts';
import { createWebhookVerifyCapability } from './webhook-verify.ts';
import type { PluginLogLine } from '../runtime/store/types.ts';

export interface HostApiOptions {
  store: Store;
  scrubber: Scrubber;
  box: SecretBox;
  manifests: ManifestSource;
  /** The approved capability set of each loaded plugin (the plugin registry): nothing outside it is served. */
  capabilitySets: CapabilitySetSource;
  /** Approved network grants of a plugin. */
  grantsFor(plugin: string): Promise<Grant[]>;
  /** Egress guard options: caps, and injected resolve/connect in tests. */
  http?: Omit<HttpCapabilityOptions, 'grantsFor'>;
  /** Host-call caps (server options of the same names); defaults for what is left out. */
  hostCallLimits?: Partial<HostCallLimits>;
  /** Clock of the per-minute windows (tests). */
  now?: () => number;
  buildIpn(order: Order, status: OrderStatus): NewIpn | null;
  settleAttempt?: HistoryDeps['settleAttempt'];
  pluginLogMirror?: (line: Omit<PluginLogLine, '_id'>) => void;
  onInternalError?: (capability: string, err: unknown) => void;
}

export interface HostApiParts {
  api: HostApi;
  config: ConfigService;
  audit: AuditLog;
  pluginLog: PluginLog;
  caps: HostCallCaps;
}

export function buildHostApi(o: HostApiOptions): HostApiParts {
  const audit = new AuditLog(o.store, o.scrubber);
  const pluginLog = new PluginLog(o.store, o.scrubber, o.pluginLogMirror ?? null);
  const caps = new HostCallCaps(hostCallLimitsOf(o.hostCallLimits ?? {}), audit, o.now);
  audit.addPendingSource((final) => caps.settle(final));
  const capabilitySet = new CapabilitySetGate(o.capabilitySets, audit);
  audit.addPendingSource((final) => capabilitySet.settle(final));
  const config = new ConfigService({ store: o.store, box: o.box, scrubber: o.scrubber, manifests: o.manifests });
  const api = createHostApi({
    audit, pluginLog, caps, capabilitySet, scrubber: o.scrubber, onInternalError: o.onInternalError,
    idleCron: new IdleCronAudit(audit),
    configSnapshots: new ConfigSnapshots({ config, manifests: o.manifests, capabilitySets: o.capabilitySets, limits: caps.limits }),
    capabilities: [
      configCapability(config),
      createHttpCapability({
        readSecret: (plugin, key) => config.readForHost(plugin, key),
        networkOf: (plugin) => o.manifests.manifestOf(plugin)?.network,
        // SDK-format plugins never read their secrets, so none may come back in a response either.
        scrubForPlugin: (plugin, text) => (o.manifests.manifestOf(plugin)?.format === 'sdk' ? o.scrubber.scrubFor(plugin, text) : text),
        ...o.http,
        grantsFor: o.grantsFor,
      }),
      ...payoutTxCapabilities(o.store),
      historyCapability({ store: o.store, buildIpn: o.buildIpn, settleAttempt: o.settleAttempt }),
      createWebhookVerifyCapability({
        schemeOf: (plugin) => o.manifests.manifestOf(plugin)?.webhookSignature,
        readSecret: (plugin, key) => config.readForHost(plugin, key),
      }),
    ],
  });
  return { api, config, audit, pluginLog, caps };
}

/** Grants an administrator approved, from the store. */
export function storedGrants(store: Pick<Store, 'listGrants'>): (plugin: string) => Promise<Grant[]> {
  return async (plugin) => (await store.listGrants(plugin))
    .filter((g) => g.approved)
    .map((g) => ({ origin: g.origin, pathPrefix: g.pathPrefix, methods: g.methods }));
}
