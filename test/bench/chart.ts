/**
 * A hand-written SVG of one run: replicated-write throughput and p99 per client count
 * (RaftKV vs etcd), and redis-benchmark throughput per test (RaftKV vs both Redis setups).
 */
import type { BenchResults } from './report.ts';

const COLORS: Record<string, string> = { raftkv: '#2b6cb0', 'raftkv-lease': '#63b3ed', etcd: '#c05621', redis: '#2f855a', 'redis-aof': '#805ad5' };
const W = 440;
const H = 260;

interface Group {
  label: string;
  bars: { series: string; value: number }[];
}

function esc(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;');
}

function panel(x0: number, y0: number, title: string, unit: string, groups: Group[]): string {
  const max = Math.max(1e-9, ...groups.flatMap((g) => g.bars.map((b) => b.value)).filter(Number.isFinite));
  const left = 60;
  const top = 30;
  const plotW = W - left - 20;
  const plotH = H - top - 50;
  const gw = plotW / Math.max(1, groups.length);
  const parts = [`<g transform="translate(${x0},${y0})">`, `<text x="${W / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(title)}</text>`];
  for (let t = 0; t <= 4; t++) {
    const y = top + plotH - (plotH * t) / 4;
    const v = (max * t) / 4;
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    parts.push(
      `<text x="${left - 4}" y="${y + 4}" text-anchor="end" font-size="10">${v >= 1000 ? `${(v / 1000).toFixed(v >= 10000 ? 0 : 1)}k` : v.toFixed(v >= 10 ? 0 : 1)}</text>`,
    );
  }
  parts.push(`<text x="12" y="${top + plotH / 2}" font-size="10" transform="rotate(-90 12 ${top + plotH / 2})" text-anchor="middle">${esc(unit)}</text>`);
  groups.forEach((g, gi) => {
    const bw = (gw * 0.8) / Math.max(1, g.bars.length);
    g.bars.forEach((b, bi) => {
      const h = Number.isFinite(b.value) ? (plotH * b.value) / max : 0;
      const x = left + gi * gw + gw * 0.1 + bi * bw;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${(top + plotH - h).toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[b.series] ?? '#718096'}"><title>${esc(`${b.series} ${g.label}: ${b.value.toFixed(2)} ${unit}`)}</title></rect>`,
      );
    });
    parts.push(`<text x="${left + gi * gw + gw / 2}" y="${top + plotH + 14}" text-anchor="middle" font-size="10">${esc(g.label)}</text>`);
  });
  const series = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.series)))];
  series.forEach((s, i) => {
    parts.push(
      `<rect x="${left + i * 90}" y="${H - 22}" width="10" height="10" fill="${COLORS[s] ?? '#718096'}"/><text x="${left + i * 90 + 14}" y="${H - 13}" font-size="11">${esc(s)}</text>`,
    );
  });
  parts.push('</g>');
  return parts.join('\n');
}

export function renderSvg(r: BenchResults): string {
  const clients = [...new Set(r.writeLoad.map((w) => w.clients))].sort((a, b) => a - b);
  const writeGroups = (pick: (w: BenchResults['writeLoad'][number]) => number): Group[] =>
    clients.map((c) => ({ label: `${c} clients`, bars: r.writeLoad.filter((w) => w.clients === c).map((w) => ({ series: w.system, value: pick(w) })) }));
  const rbKeys = [...new Set(r.redisBenchmark.map((b) => `${b.test.toUpperCase()} ${b.config}`))];
  const rbGroups: Group[] = rbKeys.map((k) => ({
    label: k.replace('-c ', 'c').replace('-P ', 'P').replace(/ P1$/, ''),
    bars: r.redisBenchmark.filter((b) => `${b.test.toUpperCase()} ${b.config}` === k).map((b) => ({ series: b.system, value: b.opsPerSec })),
  }));
  const rbP50: Group[] = rbGroups.map((g, i) => ({
    label: g.label,
    bars: r.redisBenchmark.filter((b) => `${b.test.toUpperCase()} ${b.config}` === rbKeys[i]).map((b) => ({ series: b.system, value: b.p50Ms })),
  }));
  const body = [
    panel(
      0,
      0,
      'replicated SET throughput',
      'ops/s',
      writeGroups((w) => w.opsPerSec),
    ),
    panel(
      W,
      0,
      'replicated SET p99 latency',
      'ms',
      writeGroups((w) => w.p99Ms),
    ),
    panel(0, H, 'redis-benchmark throughput', 'ops/s', rbGroups),
    panel(W, H, 'redis-benchmark p50 latency', 'ms', rbP50),
  ];
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${2 * H + 30}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${body.join('\n')}
<text x="10" y="${2 * H + 20}" font-size="10" fill="#555">RaftKV bench ${esc(r.startedAt)}${r.quick ? ' (quick)' : ''}; load avg before ${r.machine.loadAvgBefore.map((x) => x.toFixed(1)).join(' ')}; ${r.machine.cpus} CPUs</text>
</svg>
`;
}
