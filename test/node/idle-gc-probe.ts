/**
 * Run by idle-gc.test.ts in a process of its own: a live set, then garbage promoted to the old
 * generation, then 3 s either idle or busy, with or without startIdleGc. Prints what happened.
 *
 *   node --import tsx test/node/idle-gc-probe.ts idle|busy|off
 */
import { getHeapStatistics } from 'node:v8';
import { startIdleGc } from '../../src/cli/idle-gc.ts';

const mode = process.argv[2];
const used = () => getHeapStatistics().used_heap_size;
// Started first, as a node starts it: it learns what each major GC keeps.
const messages: string[] = [];
const stop = mode === 'off' ? () => {} : startIdleGc({ info: (_obj, msg) => messages.push(msg) }, { checkMs: 100 });
// Allocation in short tasks, as a server's: the GC entries the module reads come in between.
const turn = () => new Promise((r) => setImmediate(r));
const live: { k: string; v: string }[] = [];
for (let i = 0; i < 150_000; i++) {
  live.push({ k: `k${i}`, v: 'v'.repeat(100) + i });
  if (i % 5000 === 0) await turn();
}
// ~60 MiB that survives two scavenges (so it is promoted), then dies.
let garbage: { s: string }[] | null = [];
for (let i = 0; i < 500_000; i++) {
  garbage.push({ s: 'x'.repeat(60) + i });
  if (i % 5000 === 0) await turn();
}
garbage = null;
const before = used();
const end = Date.now() + 3000;
if (mode === 'busy') {
  // The loop never idles: short tasks back to back, allocating as a served load does.
  await new Promise<void>((resolve) => {
    const step = () => {
      for (let i = 0; i < 2000; i++) live[i % 1000]!.v = 'v'.repeat(100) + i;
      if (Date.now() < end) setImmediate(step);
      else resolve();
    };
    step();
  });
} else {
  await new Promise((r) => setTimeout(r, 3000));
}
stop();
console.log(JSON.stringify({ before, after: used(), messages, live: live.length }));
