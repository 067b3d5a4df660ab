/**
 * Bounded concurrency without a dependency: a limiter that lets at most `n`
 * tasks run at once (shared by everything that holds it), and mapLimit on top.
 * The sweep uses it so that no step is a long chain of sequential round trips
 * and no step floods a service either.
 */

export interface Limiter {
  /** Runs task when a slot is free, in the order asked. */
  run<T>(task: () => Promise<T>): Promise<T>;
}

export function limiter(concurrency: number): Limiter {
  const max = Math.max(1, Math.floor(concurrency));
  let active = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    active -= 1;
    waiting.shift()?.();
  };
  return {
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
      active += 1;
      try {
        return await task();
      } finally {
        release();
      }
    },
  };
}

/** Maps every item with at most `concurrency` calls in flight; results keep the input order. A rejection rejects the whole (use try/catch inside fn for per-item outcomes). */
export async function mapLimit<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const gate = limiter(concurrency);
  return Promise.all(items.map((item, index) => gate.run(() => fn(item, index))));
}
