// Writes small platform-format plugins into a temp folder, so each test reads as the plugin it
// runs. The folder name is the plugin key, as on the platform.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const DEFAULT_CONFIGURE = `
module.exports.type = 'payout';
module.exports.title = 'Fixture';
module.exports.name = 'fixture';
module.exports.required_npm = [];
module.exports.allow_XML = ['CARDUAH'];
module.exports.default_config = { apiKey: '', apiSecret: '' };
module.exports.required_config = { apiKey: 1, apiSecret: 2 };
`;

/** A configure.js with the shown keys `mode` and `shownKey`, and the secret `apiSecret`. */
export const probeConfigure = (shownKey: string) => `
module.exports.type = 'payout';
module.exports.title = 'Probe';
module.exports.name = 'probe';
module.exports.required_npm = [];
module.exports.allow_XML = ['CARDUAH'];
module.exports.default_config = { mode: 'live', ${shownKey}: '', apiSecret: '' };
module.exports.required_config = { mode: 1, ${shownKey}: 1, apiSecret: 2 };
`;

export const PLAIN_INDEX = `
class Plain {
  async getFields(lang, xml) { return [{ _id: 'card_number', name: 'Card', regexp: '^[0-9]{16}$', required: true }]; }
  async transfer(order) { return { ok: 1, transaction: 't-' + order._id, amount: order.outAmount, currency: 'UAH', to: 'x' }; }
}
module.exports = Plain;
`;

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'payout-sandbox-fixtures-'));

export function writePlugin(key: string, files: Record<string, string>): string {
  const dir = path.join(root, `${key}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const all: Record<string, string> = { 'configure.js': DEFAULT_CONFIGURE, 'index.js': PLAIN_INDEX, ...files };
  for (const [name, content] of Object.entries(all)) {
    if (content === undefined) continue; // a test can leave out a default file
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
  return dir;
}

export function fixtureRoot(): string {
  return root;
}
