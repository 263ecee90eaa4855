/**
 * Reads a V8 .cpuprofile and says where the time went: self time per source area (src/resp,
 * src/node, node:net, GC, ...), the top functions by self time, and the top functions by
 * inclusive time (self plus callees), which is what shows the cost of a whole path such as
 * "one GET from parse to reply".
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}
export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
}

/** Buckets a frame by where its code lives, so the summary says which layer costs what. */
function area(url: string, fn: string): string {
  if (url === '') return fn.startsWith('(') ? fn : '(native/V8)';
  const m = /\/src\/([a-z-]+)\//.exec(url);
  if (m && !url.includes('node_modules')) return `src/${m[1]}`;
  const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (mod) return `npm:${mod[1]}`;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  return url;
}

function frameName(n: ProfileNode): string {
  const cf = n.callFrame;
  return `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*\/(src|node_modules)\//, '$1/')}:${cf.lineNumber + 1}`;
}

export function summarize(p: Profile, top: number): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (const s of p.samples) self.set(s, (self.get(s) ?? 0) + 1);
  const total = p.samples.length;
  const fnSelf = new Map<string, number>();
  const areaTotals = new Map<string, number>();
  for (const [id, count] of self) {
    const n = byId.get(id)!;
    const key = frameName(n);
    fnSelf.set(key, (fnSelf.get(key) ?? 0) + count);
    const a = area(n.callFrame.url, n.callFrame.functionName);
    areaTotals.set(a, (areaTotals.get(a) ?? 0) + count);
  }
  // Inclusive time: a function counts once per sample even when it recurses.
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const fnInclusive = new Map<string, number>();
  for (const [id, count] of self) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const key = frameName(byId.get(cur)!);
      if (seen.has(key)) continue;
      seen.add(key);
      fnInclusive.set(key, (fnInclusive.get(key) ?? 0) + count);
    }
  }
  const pct = (n: number) => `${((100 * n) / total).toFixed(1).padStart(5)}%`;
  const lines = [`${total} samples`, '', 'self time by area:'];
  for (const [a, n] of [...areaTotals].sort((x, y) => y[1] - x[1]).slice(0, 15)) lines.push(`  ${pct(n)}  ${a}`);
  lines.push('', `top ${top} functions by self time:`);
  for (const [f, n] of [...fnSelf].sort((x, y) => y[1] - x[1]).slice(0, top)) lines.push(`  ${pct(n)}  ${f}`);
  lines.push('', `top ${top} functions by inclusive time:`);
  const inclusive = [...fnInclusive].filter(([f]) => !f.startsWith('(root)'));
  for (const [f, n] of inclusive.sort((x, y) => y[1] - x[1]).slice(0, top)) lines.push(`  ${pct(n)}  ${f}`);
  return lines.join('\n');
}
