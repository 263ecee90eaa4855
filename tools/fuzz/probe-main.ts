/** Entry point of the probe process (see probe-process.ts). */
import { Probe } from './probe.ts';
import type { ProbeArgs, ProbeMessage } from './probe-process.ts';

const args = JSON.parse(process.argv[2]) as ProbeArgs;
const send = (m: ProbeMessage) => process.send?.(m);
const probe = new Probe(args.port, args.password, args.stallMs, args.everyMs, (event) => send({ type: 'stall', event }));

async function main(): Promise<void> {
  const deadline = Date.now() + args.readyTimeoutMs;
  let why: string | null = 'not tried';
  while (Date.now() < deadline) {
    why = await probe.check();
    if (why === null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (why !== null) {
    send({ type: 'not-ready', why });
    return;
  }
  send({ type: 'ready' });
  probe.start();
  process.on('message', async (m: { type: string }) => {
    if (m.type !== 'finish') return;
    probe.stop();
    while (probe.busy) await new Promise((r) => setTimeout(r, 10));
    // Owed replies and lingering clients settle before the last look.
    await new Promise((r) => setTimeout(r, 500));
    const last = await probe.check();
    send({ type: 'finished', checks: probe.checks, last });
    process.disconnect();
  });
}

// The parent going away (killed, crashed) takes the probe with it.
process.on('disconnect', () => process.exit(0));
void main();
