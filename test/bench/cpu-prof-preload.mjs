// Preloaded into RaftKV nodes (NODE_OPTIONS=--import) by profile-set.ts: Node 20 refuses
// --cpu-prof in NODE_OPTIONS and the test harness owns the node command line, so the
// profiler is driven through the in-process inspector and written when the process exits.
// It starts on SIGUSR2, so module loading and start-up stay out of the profile.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.RAFTKV_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  let started = false;
  process.on('SIGUSR2', () => {
    started = true;
    session.post('Profiler.start');
  });
  // An in-thread session answers synchronously, so this completes inside the 'exit' handler.
  process.on('exit', () => {
    if (!started) return;
    session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
