// The fake NimbusPay provider in its own process, so that its work (accepting connections,
// signing checks, answering) is not counted as the host's: a real provider is elsewhere.
// `node provider-process.ts '<FakeProviderOptions json>'` prints {"url": …} once listening and
// runs until its stdin closes.
import { startFakeProvider } from '../../runtime/demo/fake-provider.ts';
import type { FakeProviderOptions } from '../../runtime/demo/fake-provider.ts';

const provider = await startFakeProvider(JSON.parse(process.argv[2] ?? '{}') as FakeProviderOptions);
process.stdout.write(`${JSON.stringify({ url: provider.url, credentials: provider.credentials, pid: process.pid })}\n`);
process.stdin.resume();
process.stdin.on('end', () => void provider.close().then(() => process.exit(0)));
