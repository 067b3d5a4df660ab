import { limiter, mapLimit } from '../../src/core/concurrent.js';

/** A task that records its start and finishes when released. */
function gate(order: string[], name: string) {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { run: async () => { order.push(name); await opened; }, open };
}

test('a limiter runs at most n tasks at once; freed slots go to `first` tasks before ordinary ones waiting longer', async () => {
  const order: string[] = [];
  const slots = limiter(1);
  const a = gate(order, 'a');
  const b = gate(order, 'b');
  const c = gate(order, 'c');
  const d = gate(order, 'd');
  const runs = [slots.run(a.run), slots.run(b.run), slots.run(c.run, { first: true }), slots.run(d.run, { first: true })];
  await new Promise((resolve) => setImmediate(resolve));
  expect(order).toEqual(['a']);
  a.open();
  c.open();
  d.open();
  b.open();
  await Promise.all(runs);
  // c and d (first, in their order) before b, which was waiting longer.
  expect(order).toEqual(['a', 'c', 'd', 'b']);
});

test('`last` tasks take a freed slot only when no first or ordinary task is waiting, even one that came later', async () => {
  const order: string[] = [];
  const slots = limiter(1);
  const tasks = Object.fromEntries(['a', 'late1', 'b', 'late2', 'c'].map((name) => [name, gate(order, name)]));
  const runs = [
    slots.run(tasks.a!.run),
    slots.run(tasks.late1!.run, { last: true }),
    slots.run(tasks.b!.run),
    slots.run(tasks.late2!.run, { last: true }),
  ];
  await new Promise((resolve) => setImmediate(resolve));
  runs.push(slots.run(tasks.c!.run, { first: true }));
  for (const task of Object.values(tasks)) task.open();
  await Promise.all(runs);
  expect(order).toEqual(['a', 'c', 'b', 'late1', 'late2']);
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
