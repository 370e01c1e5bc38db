// A trailing-edge debounce with explicit flush and cancel, used for every backend round trip
// that follows typing (draft updates, CVSS scores, Markdown previews).

export interface Debounced<A extends unknown[]> {
  (...args: A): void;
  /** Runs a pending call now, if any. */
  flush(): void;
  /** Drops a pending call. */
  cancel(): void;
  /** Whether a call is waiting for its delay to pass. */
  pending(): boolean;
}

export function debounce<A extends unknown[]>(fn: (...args: A) => void, delayMs: number): Debounced<A> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let lastArgs: A | null = null;

  const run = () => {
    timer = null;
    const args = lastArgs;
    lastArgs = null;
    if (args !== null) fn(...args);
  };

  const debounced = ((...args: A) => {
    lastArgs = args;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(run, delayMs);
  }) as Debounced<A>;

  debounced.flush = () => {
    if (timer !== null) {
      clearTimeout(timer);
      run();
    }
  };
  debounced.cancel = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    lastArgs = null;
  };
  debounced.pending = () => timer !== null;
  return debounced;
}
