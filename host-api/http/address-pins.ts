// Where a request may connect: the addresses egress.ts pins a hop to (an allowed loopback origin,
// a public IP literal, or every DNS answer of a name, each checked) and the check of the address a
// socket actually reached. Every refusal here happens before anything is sent.
import { CapabilityError } from '../capability.ts';
import { classifyAddress, normaliseAddress, isLocalhostName, isPrivateNetwork, type AddressInfo, type AddressVerdict, type Target } from './address-policy.ts';
import { Refusal, type EgressEnv, type Gate } from './egress-types.ts';

/** The pinned address for a loopback origin or an IP literal (refusing blocked ones); null for names. */
export function literalPins(gate: Gate, t: Target): AddressInfo[] | null {
  const loop = gate.loopbackFor(t);
  if (loop) return [loop];

  const loopbackHint = () => {
    const granted = gate.loopbackOrigins();
    return granted.length
      ? ` (loopback origins allowed here: ${granted.join(', ')})`
      : ' (no loopback origin is allowed here)';
  };

  if (t.hostKind !== 'name') {
    const v = classifyAddress(t.host);
    if (v.ok || allowedPrivate(gate, t, v)) return [{ address: v.address, family: v.family }];
    if (v.loopback) {
      throw new Refusal(
        'http.loopback',
        `${t.origin}: ${v.address === t.host ? t.host : `${t.host} (${v.address})`} is a loopback address; loopback is reachable only at an origin allowed by that exact address and port${loopbackHint()}`,
      );
    }
    const same = v.address === t.host ? t.host : `${t.host} (${v.address})`;
    throw new Refusal('http.address', `${t.origin}: ${same} is ${v.detail}; only public addresses may be contacted`);
  }

  if (isLocalhostName(t.host)) {
    throw new Refusal(
      'http.localhost',
      `${t.origin}: the name ${t.host} is not looked up (the hosts file decides what it means); it is reachable only when that exact origin is allowed by name${loopbackHint()}`,
    );
  }
  return null;
}

/** A private-network address at an origin the gate allows them for; loopback never counts. */
function allowedPrivate(gate: Gate, t: Target, v: AddressVerdict): boolean {
  return isPrivateNetwork(v) && gate.privateNetworkAllowed?.(t) === true;
}

/** Every DNS answer for a name, each one checked. */
export async function resolvePins(env: EgressEnv, gate: Gate, t: Target, signal: AbortSignal): Promise<AddressInfo[]> {
  const label = gate.label;
  let answers: Array<{ address: string; family: number }>;
  try {
    answers = await abortable(env.resolve(t.host), signal);
  } catch (e) {
    if (signal.aborted) throw e;
    const code = (e as { code?: unknown })?.code;
    throw new CapabilityError('dns', `${label}: ${t.host} could not be resolved${typeof code === 'string' ? ` (${code})` : ''}`);
  }
  if (!Array.isArray(answers) || answers.length === 0) throw new CapabilityError('dns', `${label}: ${t.host} has no addresses`);

  const pins: AddressInfo[] = [];
  const listed = answers.map((a) => String(a?.address)).join(', ');
  // Every answer must pass: the OS or a retry could use any of them, and "one good answer" is how
  // DNS-based SSRF gets in.
  for (const a of answers) {
    const v = classifyAddress(String(a?.address));
    if (!v.ok && !allowedPrivate(gate, t, v)) {
      throw new Refusal('http.address', `${t.host} resolves to ${v.address}, which is ${v.detail} (answers: ${listed}); only public addresses may be contacted`);
    }
    if (!pins.some((p) => p.address === v.address)) pins.push({ address: v.address, family: v.family });
  }
  // IPv4 first: many hosts have no working IPv6 route, and we try the pins one by one.
  return pins.sort((a, b) => a.family - b.family);
}

export function checkRemote(gate: Gate, t: Target, pin: AddressInfo, remote: string | undefined): Refusal | null {
  const n = remote ? normaliseAddress(remote) : null;
  if (!n || n.address !== pin.address) {
    return new Refusal(
      'http.remote-address',
      `${t.origin}: the connection reached ${remote ?? 'an unknown address'} but ${pin.address} was the address checked (did DNS change between check and connect?); nothing was sent`,
    );
  }
  if (gate.loopbackFor(t)) return null;
  const v = classifyAddress(n.address);
  return v.ok || allowedPrivate(gate, t, v) ? null : new Refusal('http.remote-address', `${t.origin}: the connection reached ${n.address}, which is ${v.detail}; nothing was sent`);
}

export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
