import { describe, expect, it } from 'vitest';
import { configKeys, validateManifest } from '../../../runtime/manifest/manifest.ts';

const valid = {
  type: 'payout', title: 'Nimbus', name: 'nimbus', required_npm: ['axios'], allow_XML: ['CARDUAH', 'USDTTRC20'],
  default_config: { debug: '0', apiKey: '', retries: 3 }, required_config: { debug: 1, apiKey: 1, apiSecret: 2 },
};

describe('manifest validation', () => {
  it('accepts the platform fields and lists config keys with their visibility', () => {
    const m = validateManifest(valid);
    expect(m).toMatchObject({ type: 'payout', title: 'Nimbus', required_npm: ['axios'], network: [], env: [], extra: [] });
    expect(configKeys(m)).toEqual([
      { key: 'debug', secret: false }, { key: 'apiKey', secret: false }, { key: 'retries', secret: false }, { key: 'apiSecret', secret: true },
    ]);
  });

  it.each([
    [{ ...valid, type: 'merchant' }, /configure\.js: type must be 'payout'.*got 'merchant'/],
    [{ ...valid, title: '' }, /title must be a non-empty string/],
    [{ ...valid, name: undefined }, /name must be a non-empty string.*missing/],
    [{ ...valid, required_npm: ['ethers'] }, /required_npm\[0\] lists 'ethers', which the sandbox does not provide\. Available packages: axios, bluebird, bignumber\.js/],
    [{ ...valid, required_npm: 'axios' }, /required_npm must be an array/],
    [{ ...valid, allow_XML: ['CARD UAH'] }, /allow_XML\[0\] 'CARD UAH' is not a currency code/],
    [{ ...valid, required_config: { apiSecret: 3 } }, /required_config\.apiSecret must be 1 \(shown in the admin page\) or 2 \(secret, write-only\); got number 3/],
    [{ ...valid, default_config: { nested: { a: 1 } } }, /default_config\.nested must be a string, number, boolean or null/],
    [{ ...valid, default_config: [] }, /default_config must be an object/],
    [{ ...valid, network: [{ origin: 'ftp://x.example' }] }, /network\[0\]\.origin 'ftp:\/\/x\.example' must use http or https/],
    [{ ...valid, network: [{ origin: 'https://u:p@x.example' }] }, /must not contain credentials/],
    [null, /configure\.js: exports must be an object/],
  ])('rejects a bad manifest with the field and the reason (%#)', (raw, message) => {
    expect(() => validateManifest(raw)).toThrow(message);
  });

  it('normalises requested network origins', () => {
    const m = validateManifest({ ...valid, network: ['https://api.nimbus.example', { origin: 'http://127.0.0.1:8080/x', methods: ['get', 'post'], pathPrefix: '/v1/' }] });
    expect(m.network).toEqual([
      { origin: 'https://api.nimbus.example:443', methods: null, pathPrefix: null },
      { origin: 'http://127.0.0.1:8080', methods: ['GET', 'POST'], pathPrefix: '/v1/' },
    ]);
  });
});
