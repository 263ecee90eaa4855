/**
 * Preloaded into the nodes a fuzz run starts (NODE_OPTIONS=--import): their outgoing TCP
 * connections may only reach loopback. Fuzzed inputs add members with hostile hosts, and a
 * node dials every member; without this a bit flip in "localhost" or "127.0.0.1" would send a
 * DNS query or a connection off the machine. Names other than localhost fail as unknown
 * hosts, addresses off loopback as refused: the errors a node meets for a dead member anyway.
 */
import dns from 'node:dns';
import net from 'node:net';

const lookup = dns.lookup;

function isLoopback(address) {
  const v = net.isIP(address);
  if (v === 4) return address.startsWith('127.');
  if (v === 6) return address === '::1' || /^::ffff:127\./i.test(address);
  return false;
}

function loopbackLookup(hostname, options, callback) {
  const cb = typeof options === 'function' ? options : callback;
  if (/^localhost\.?$/i.test(hostname)) return lookup(hostname, options, callback);
  process.nextTick(() => cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname} (fuzz: loopback only)`), { code: 'ENOTFOUND', hostname })));
}

const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  // net.connect and http agents pass [options, callback], already normalized; callers of
  // socket.connect pass (options | port, host?, callback?).
  let options = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (typeof options === 'number' || (typeof options === 'string' && /^\d+$/.test(options))) {
    options = { port: options, host: typeof args[1] === 'string' ? args[1] : undefined };
    args = [options, ...args.slice(typeof args[1] === 'string' ? 2 : 1)];
  }
  if (options !== null && typeof options === 'object' && options.path === undefined) {
    const host = options.host ?? 'localhost';
    if (net.isIP(host) && !isLoopback(host)) {
      process.nextTick(() => this.destroy(Object.assign(new Error(`connect ECONNREFUSED ${host} (fuzz: loopback only)`), { code: 'ECONNREFUSED' })));
      return this;
    }
    if (!net.isIP(host)) options.lookup = loopbackLookup;
  }
  return connect.apply(this, args);
};
