// The audit log API a page at a time: `next` is a keyset cursor, so pages neither repeat nor skip
// a record, also when more records share one millisecond than fit in a page (a burst of host
// calls is written with one timestamp), and filters hold across pages.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHost } from '../../helpers/test-host.ts';
import type { TestHost } from '../../helpers/test-host.ts';

let t: TestHost;
const SAME_MS = '2030-01-01T00:00:00.000Z';

beforeAll(async () => {
  t = await startTestHost();
  for (let i = 0; i < 250; i += 1) {
    t.host.hostApi.audit.record({ plugin: 'pager', actor: 'plugin:pager', callId: null, capability: 'test.page', decision: i % 5 === 0 ? 'denied' : 'allowed', rule: null, summary: `record ${i}`, durationMs: 0, at: SAME_MS });
  }
  for (let i = 0; i < 30; i += 1) {
    t.host.hostApi.audit.record({ plugin: 'pager', actor: 'plugin:pager', callId: null, capability: 'test.page', decision: 'allowed', rule: null, summary: `later ${i}`, durationMs: 0, at: `2030-01-01T00:00:0${1 + (i % 5)}.000Z` });
  }
  await t.host.hostApi.audit.flush();
});
afterAll(async () => { await t?.close(); });

async function allPages(query: string, limit: number): Promise<{ pages: number; ids: string[] }> {
  const ids: string[] = [];
  let before: string | null = null;
  let pages = 0;
  do {
    const url = `/api/admin/audit?plugin=pager${query}&limit=${limit}${before ? `&before=${encodeURIComponent(before)}` : ''}`;
    const r = await t.admin('GET', url);
    expect(r.status, r.text).toBe(200);
    ids.push(...r.json.records.map((x: { _id: string }) => x._id));
    before = r.json.next;
    pages += 1;
  } while (before && pages < 50);
  return { pages, ids };
}

describe('GET /api/admin/audit paging', () => {
  it('walks every record once, in order, across a millisecond larger than a page', async () => {
    const whole = (await t.admin('GET', '/api/admin/audit?plugin=pager&limit=1000')).json;
    expect(whole.records).toHaveLength(280);
    expect(whole.next).toBeNull();
    const { pages, ids } = await allPages('', 100);
    expect(pages).toBe(3);
    expect(ids).toEqual(whole.records.map((r: { _id: string }) => r._id));
    expect(new Set(ids).size).toBe(280);
  });

  it('keeps filters across pages', async () => {
    const { ids } = await allPages('&decision=denied', 20);
    expect(ids).toHaveLength(50);
    expect(new Set(ids).size).toBe(50);
  });

  it('refuses a cursor it did not make, in one line naming the field', async () => {
    const r = await t.admin('GET', '/api/admin/audit?before=not-a-cursor');
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ field: 'before', message: "before 'not-a-cursor' is not a cursor from an earlier answer's next" });
  });
});
