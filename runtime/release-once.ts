// A release that takes effect once. Admissions (the webhook inbox quota, the plugin gate) hand
// out a release() that more than one path may call — the caller's finally and an error path, a
// timeout and a late answer — and a second call must not give the room back twice.

/** `release` wrapped so that only its first call runs. */
export function releaseOnce(release: () => void): () => void {
  let released = false;
  return () => {
    if (released) return;
    released = true;
    release();
  };
}
