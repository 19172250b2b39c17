// The administrator's bearer token: PAYOUT_SANDBOX_ADMIN_TOKEN, or a random token generated on the
// first start, kept in <data>/admin-token (mode 0600) and printed that one time.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export function resolveAdminToken(dataDir: string, env: NodeJS.ProcessEnv = process.env): { token: string; generated: boolean; source: string } {
  const fromEnv = env.PAYOUT_SANDBOX_ADMIN_TOKEN;
  if (fromEnv) {
    if (fromEnv.length < 16) throw new Error('PAYOUT_SANDBOX_ADMIN_TOKEN is shorter than 16 characters; use a long random value (e.g. `openssl rand -hex 24`)');
    return { token: fromEnv, generated: false, source: 'PAYOUT_SANDBOX_ADMIN_TOKEN' };
  }
  const file = path.join(dataDir, 'admin-token');
  if (fs.existsSync(file)) return { token: fs.readFileSync(file, 'utf8').trim(), generated: false, source: file };
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const token = crypto.randomBytes(24).toString('base64url');
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return { token, generated: true, source: file };
}
