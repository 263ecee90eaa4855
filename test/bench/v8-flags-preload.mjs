// Preloaded into RaftKV nodes (NODE_OPTIONS=--import) by shard-threads.ts `--v8`: Node refuses
// most V8 flags in NODE_OPTIONS and the test harness owns the node command line, so the flags
// in RAFTKV_V8_FLAGS are set at start-up instead (the GC reads these on every collection).
import v8 from 'node:v8';

for (const flag of (process.env.RAFTKV_V8_FLAGS ?? '').split(' ').filter(Boolean)) v8.setFlagsFromString(flag);
