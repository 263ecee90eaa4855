/**
 * The kernel-level faults really drop packets: two namespaces on the run's bridge, a TCP
 * server in one, connections from the other and from the root namespace. Needs root, `ip` and
 * `iptables`; skipped otherwise.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Firewall } from '../net/firewall.ts';
import { LOCK_FILE, Network, type Slot } from '../net/network.ts';
import { hasCommand } from '../net/sh.ts';

// Skipped without root or tools; waits while a chaos run owns the network.
const usable = process.getuid?.() === 0 && hasCommand('ip') && hasCommand('iptables');
const PEER = 16379;
const RESP = 6379;

const SERVER = `const net = require('node:net'); for (const p of [${PEER}, ${RESP}]) net.createServer((s) => s.end('hi')).listen(p, process.argv[1]); setTimeout(() => {}, 60000);`;
const CLIENT = `const s = require('node:net').connect(Number(process.argv[2]), process.argv[1]); s.on('data', () => process.exit(0)); s.on('error', () => process.exit(1)); setTimeout(() => process.exit(2), 700);`;

function reach(from: Slot | undefined, to: Slot, port: number): boolean {
  const argv = [process.execPath, '-e', CLIENT, to.ip, String(port)];
  const r = from ? spawnSync('ip', ['netns', 'exec', from.ns, ...argv]) : spawnSync(argv[0], argv.slice(1));
  return r.status === 0;
}

describe.skipIf(!usable)('network namespaces and iptables cuts', () => {
  const net = new Network();
  let a: Slot;
  let b: Slot;
  const servers: ChildProcess[] = [];
  let fw: Firewall;

  beforeAll(async () => {
    await net.create(5 * 60_000);
    a = net.slot(1);
    b = net.slot(2);
    for (const s of [a, b]) servers.push(spawn('ip', ['netns', 'exec', s.ns, process.execPath, '-e', SERVER, s.ip], { stdio: 'ignore' }));
    fw = new Firewall((id) => {
      const s = id === 'a' ? a : b;
      return { ns: s.ns, ip: s.ip, httpPort: PEER };
    });
    await new Promise((r) => setTimeout(r, 500));
  }, 6 * 60_000);

  afterAll(() => {
    for (const s of servers) s.kill('SIGKILL');
    net.destroy();
  });

  it('connects namespaces to each other and to the root namespace', () => {
    expect(reach(b, a, PEER)).toBe(true);
    expect(reach(a, b, PEER)).toBe(true);
    expect(reach(undefined, a, RESP)).toBe(true);
  });

  it('an `all` cut drops every packet from one node at another, but not the clients', () => {
    fw.apply([{ from: 'b', to: 'a', mode: 'all' }]);
    expect(reach(b, a, PEER)).toBe(false);
    expect(reach(b, a, RESP)).toBe(false);
    // TCP needs both directions, so a's connections to b die too.
    expect(reach(a, b, PEER)).toBe(false);
    expect(reach(undefined, a, RESP)).toBe(true);
    fw.heal();
    expect(reach(b, a, PEER)).toBe(true);
  });

  it('a `messages` cut silences only the link the sender dials', () => {
    fw.apply([{ from: 'b', to: 'a', mode: 'messages' }]);
    expect(reach(b, a, PEER)).toBe(false);
    expect(reach(b, a, RESP)).toBe(true);
    expect(reach(a, b, PEER)).toBe(true);
    fw.heal();
  });

  it('holds the network until destroyed, and leaves nothing behind', async () => {
    const other = new Network();
    await expect(other.create(1500)).rejects.toThrow(/still owns the network/);
    net.destroy();
    expect(existsSync(LOCK_FILE)).toBe(false);
    const ns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    expect(ns).not.toContain('rkvc-');
    await other.create(0);
    other.destroy();
  });
});
