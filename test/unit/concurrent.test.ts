import { limiter, mapLimit } from '../../src/core/concurrent.js';

/** A task that records its start and finishes when released. */
function gate(order: string[], name: string) {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return {
    run: async () => {
      order.push(name);
      await opened;
    },
    open,
  };
}

test('a limiter runs at most n tasks at once, and the waiting ones in the order they asked', async () => {
  const order: string[] = [];
  const slots = limiter(1);
  const tasks = ['a', 'b', 'c', 'd'].map((name) => gate(order, name));
  const runs = tasks.map((task) => slots.run(task.run));
  await new Promise((resolve) => setImmediate(resolve));
  expect(order).toEqual(['a']);
  for (const task of [...tasks].reverse()) task.open();
  await Promise.all(runs);
  expect(order).toEqual(['a', 'b', 'c', 'd']);
});

test('mapLimit keeps the input order and never runs more than n at once', async () => {
  let running = 0;
  let most = 0;
  const results = await mapLimit([5, 1, 4, 2, 3], 2, async (ms, index) => {
    running += 1;
    most = Math.max(most, running);
    await new Promise((resolve) => setTimeout(resolve, ms));
    running -= 1;
    return index * 10;
  });
  expect(results).toEqual([0, 10, 20, 30, 40]);
  expect(most).toBe(2);
});
