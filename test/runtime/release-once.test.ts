// releaseOnce: the first call releases, later calls do nothing (the control is the unwrapped
// release, which counts every call).
import { describe, expect, it } from 'vitest';
import { releaseOnce } from '../../runtime/release-once.ts';

describe('releaseOnce', () => {
  it('runs the release on the first call only', () => {
    let freed = 0;
    const release = releaseOnce(() => { freed++; });
    release();
    release();
    release();
    expect(freed).toBe(1);
  });

  it('control: without it, every call releases again', () => {
    let freed = 0;
    const release = () => { freed++; };
    release();
    release();
    expect(freed).toBe(2);
  });

  it('each admission has its own once', () => {
    let freed = 0;
    const a = releaseOnce(() => { freed++; });
    const b = releaseOnce(() => { freed++; });
    a(); a(); b();
    expect(freed).toBe(2);
  });
});
