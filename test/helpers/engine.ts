// The engine the sandbox suites run on: the suites are a conformance matrix (vitest.config.ts runs
// the listed files once per engine), so the engine is a parameter, never a copy of a suite.
import { ENGINE_ENV, parseEngine } from '../../runtime/plugins/engine-choice.ts';
import type { EngineName } from '../../runtime/sandbox/protocol.ts';
import { SandboxHost } from '../../runtime/sandbox/sandbox-host.ts';

/** The same variable, read the same way, as the CLI and the SDK test kit; unset means isolated-vm. */
function readTestEngine(): EngineName {
  const given = process.env[ENGINE_ENV];
  return given ? parseEngine(given, ENGINE_ENV) : 'isolated-vm';
}

export const TEST_ENGINE: EngineName = readTestEngine();
export const ON_QUICKJS = TEST_ENGINE === 'quickjs';

/**
 * Makes TEST_ENGINE the engine of every plugin registered without an explicit one, whoever built
 * the SandboxHost (the test helpers, the server host, a suite of its own). An explicit engine, or one
 * the SandboxHost was built with (a test of the per-plugin choice), is kept.
 */
export function installTestEngine(): void {
  const register = SandboxHost.prototype.register;
  SandboxHost.prototype.register = function registerOnTestEngine(this: SandboxHost, bundle, setup, limits, engine) {
    const chosen = engine ?? this.configuredEngine ?? TEST_ENGINE;
    if (chosen !== TEST_ENGINE) loadedElsewhere.add(`${bundle.key} on ${chosen}`);
    return register.call(this, bundle, setup, limits, chosen);
  };
}

const loadedElsewhere = new Set<string>();

/**
 * The plugins this test file registered on another engine than TEST_ENGINE. The matrix's setup
 * file fails a file that has any: a suite that passes "on quickjs" must have run there (a server
 * host that names every plugin's engine itself needs TEST_ENGINE in its options).
 */
export function pluginsOffTestEngine(): string[] {
  return [...loadedElsewhere];
}
