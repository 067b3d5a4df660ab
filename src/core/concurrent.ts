/**
 * Bounded concurrency without a dependency: a limiter that lets at most `n`
 * tasks run at once (shared by everything that holds it), and mapLimit on top.
 * The sweep uses it so that no step is a long chain of sequential round trips
 * and no step floods a service either.
 */

export interface Limiter {
  /**
   * Runs task when a slot is free. `first` tasks take freed slots before
   * ordinary ones waiting longer, `last` tasks only when no other is waiting.
   */
  run<T>(task: () => Promise<T>, options?: { first?: boolean; last?: boolean }): Promise<T>;
}

export function limiter(concurrency: number): Limiter {
  const max = Math.max(1, Math.floor(concurrency));
  let active = 0;
  const waitingFirst: (() => void)[] = [];
  const waiting: (() => void)[] = [];
  const waitingLast: (() => void)[] = [];
  const release = () => {
    active -= 1;
    const next = waitingFirst.shift() ?? waiting.shift() ?? waitingLast.shift();
    if (next) next();
  };
  return {
    async run<T>(task: () => Promise<T>, options: { first?: boolean; last?: boolean } = {}): Promise<T> {
      if (active >= max) await new Promise<void>((resolve) => (options.first ? waitingFirst : options.last ? waitingLast : waiting).push(resolve));
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
export async function mapLimit<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const gate = limiter(concurrency);
  return Promise.all(items.map((item, index) => gate.run(() => fn(item, index))));
}
