/**
 * The Node.js ceiling for the bench (issue 15): the least a Node.js RESP front end can do for
 * GET and SET, a `Map` behind a hand-rolled parser, with nothing RaftKV does (no consensus, no
 * command table, no accounting, no TTLs). What redis-benchmark gets from this process is the
 * most any Node front end gets on this machine, so RaftKV's reads are judged against it as well
 * as against redis-server.
 *
 *   node test/bench/systems/node-ceiling-server.mjs PORT
 *
 * It does what the fastest Node servers do: one `write` per `data` event with every reply the
 * event's bytes completed (so pipelines cost one syscall), Buffers sliced without copying, keys
 * as latin1 strings. It speaks RESP arrays of bulk strings (all redis-benchmark and clients
 * send); anything else closes the connection. Plain JavaScript, so it runs on node without a
 * build step, as the compiled RaftKV does.
 */
import { createServer } from 'node:net';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node node-ceiling-server.mjs PORT');
  process.exit(2);
}

const OK = Buffer.from('+OK\r\n');
const NIL = Buffer.from('$-1\r\n');
const PONG = Buffer.from('+PONG\r\n');
const EMPTY_ARRAY = Buffer.from('*0\r\n');
const CRLF = Buffer.from('\r\n');
const store = new Map();

/** Reads a `\r\n`-terminated decimal after `buf[at]`'s type byte; returns [value, next] or undefined. */
function readInt(buf, at) {
  let n = 0;
  let i = at + 1;
  let neg = false;
  if (buf[i] === 45) {
    neg = true;
    i++;
  }
  for (; i < buf.length; i++) {
    const c = buf[i];
    if (c === 13) return i + 1 < buf.length ? [neg ? -n : n, i + 2] : undefined;
    if (c < 48 || c > 57) throw new Error('bad integer');
    n = n * 10 + (c - 48);
  }
  return undefined;
}

/** One command from `buf` at `at`: [args, next], undefined if incomplete. */
function parse(buf, at) {
  if (buf[at] !== 42) throw new Error('expected an array');
  const head = readInt(buf, at);
  if (!head) return undefined;
  let [count, i] = head;
  const args = new Array(count);
  for (let k = 0; k < count; k++) {
    if (i >= buf.length) return undefined;
    if (buf[i] !== 36) throw new Error('expected a bulk string');
    const len = readInt(buf, i);
    if (!len) return undefined;
    const [n, start] = len;
    if (start + n + 2 > buf.length) return undefined;
    args[k] = buf.subarray(start, start + n);
    i = start + n + 2;
  }
  return [args, i];
}

function execute(args, out) {
  const name = args[0].toString('latin1').toUpperCase();
  if (name === 'GET') {
    const v = store.get(args[1].toString('latin1'));
    if (v === undefined) out.push(NIL);
    else out.push(Buffer.from(`$${v.length}\r\n`), v, CRLF);
  } else if (name === 'SET') {
    // The value is copied: the socket's chunk it points into is reused.
    store.set(args[1].toString('latin1'), Buffer.from(args[2]));
    out.push(OK);
  } else if (name === 'PING') out.push(PONG);
  else if (name === 'CONFIG' && args.length === 3) {
    // redis-benchmark asks CONFIG GET save / appendonly at start: an empty value for each.
    const param = args[2];
    out.push(Buffer.from(`*2\r\n$${param.length}\r\n`), Buffer.from(param), Buffer.from('\r\n$0\r\n\r\n'));
  } else if (name === 'CONFIG') out.push(EMPTY_ARRAY);
  else out.push(Buffer.from(`-ERR unknown command '${name}'\r\n`));
}

createServer({ noDelay: true }, (socket) => {
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    const buf = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const out = [];
    let at = 0;
    try {
      while (at < buf.length) {
        const r = parse(buf, at);
        if (!r) break;
        execute(r[0], out);
        at = r[1];
      }
    } catch {
      socket.destroy();
      return;
    }
    pending = at < buf.length ? Buffer.from(buf.subarray(at)) : Buffer.alloc(0);
    if (out.length === 1) socket.write(out[0]);
    else if (out.length > 1) socket.write(Buffer.concat(out));
  });
  socket.on('error', () => {});
}).listen(port, '127.0.0.1', () => console.log(`node ceiling listening on 127.0.0.1:${port}`));
