// Preloaded into RaftKV nodes (NODE_OPTIONS=--import) by alloc-shards.ts: V8's sampling heap
// profiler, collected objects included, so the profile says where bytes are *allocated* (what
// drives the young-generation GC), not what is live. Starts on SIGUSR2 (start-up stays out),
// written when the process exits, as cpu-prof-preload.mjs.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.RAFTKV_HEAP_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.enable');
  let started = false;
  process.on('SIGUSR2', () => {
    started = true;
    session.post('HeapProfiler.startSampling', {
      samplingInterval: 1024,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  });
  process.on('exit', () => {
    if (!started) return;
    session.post('HeapProfiler.stopSampling', (err, res) => {
      if (!err) writeFileSync(join(dir, `${process.pid}.heapprofile`), JSON.stringify(res.profile));
    });
  });
}
