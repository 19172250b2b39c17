// Types for bridge-policy.js (plain JS, served to the browser as is), for the TypeScript tests.
export declare const SET_CONFIG_PATH: string;
export declare const BRIDGE_LIMITS: Readonly<{
  maxPathLength: number; maxKeyLength: number; maxValueLength: number; maxRequestsPerWindow: number;
  windowMs: number; maxInFlight: number; maxRefusals: number; minHeight: number; maxHeight: number;
}>;
export interface BridgeContext { payoutKey: string; keys: { key: string; secret: boolean }[]; secretMask?: string }
export type BridgeVerdict =
  | { kind: 'resize'; height: number }
  | { kind: 'request'; id: number; body: { payoutKey: string; key: string; value: string | number | boolean } }
  | { kind: 'refused'; id: number | null; reason: string };
export declare function quote(v: unknown): string;
export declare function checkBridgeMessage(data: unknown, ctx: BridgeContext): BridgeVerdict;
export declare function createRateLimiter(o: { max: number; windowMs: number; now?: () => number }): { take(): boolean };
