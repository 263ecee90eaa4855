/**
 * timeline.svg: fault windows as shaded bands, each node's role over time (as the poller saw
 * it), and every client operation as a bar from call to return coloured by outcome. Hover a bar
 * for the operation.
 */
import { writeFileSync } from 'node:fs';
import type { RoleSample } from '../cluster/cluster.ts';
import type { ChaosOp } from '../history/ops.ts';
import type { FaultWindow } from '../nemesis/scheduler.ts';

const LEFT = 90;
const WIDTH = 1600;
const ROW = 12;
const STATUS_COLOUR = { ok: '#2e9d4c', fail: '#d23b3b', info: '#f0a020' } as const;
const ROLE_COLOUR: Record<string, string> = { leader: '#1f4fbf', follower: '#c9d3e6', candidate: '#f2d14b', 'pre-candidate': '#f7e7a0' };
const NEMESIS_COLOUR: Record<string, string> = {
  partition: '#e8b4b4',
  kill: '#b4b4e8',
  pause: '#b4e0e8',
  membership: '#d8b4e8',
  clock: '#e8deb4',
  power: '#c8c8c8',
};

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export interface TimelineInput {
  title: string;
  ops: readonly ChaosOp[];
  windows: readonly FaultWindow[];
  roles: readonly RoleSample[];
  nodes: readonly string[];
  end: number;
}

export function renderTimeline(inp: TimelineInput): string {
  // A loop, not Math.max(...spread): long runs have more operations than a call may take arguments.
  let end = Math.max(inp.end, 1);
  for (const o of inp.ops) if (o.return > end) end = o.return;
  const x = (t: number) => LEFT + (t / end) * WIDTH;
  const lanes = [...new Set(inp.ops.map((o) => o.client))].sort((a, b) => a - b);
  const top = 40;
  const nodeTop = top + 14;
  const laneTop = nodeTop + inp.nodes.length * ROW + 14;
  const height = laneTop + lanes.length * ROW + 40;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${LEFT + WIDTH + 20}" height="${height}" font-family="monospace" font-size="10">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="4" y="14" font-size="12">${esc(inp.title)}</text>`);
  for (const [i, w] of inp.windows.entries()) {
    const colour = NEMESIS_COLOUR[w.nemesis] ?? '#ddd';
    out.push(
      `<rect x="${x(w.start).toFixed(1)}" y="${top}" width="${Math.max(1, x(w.end) - x(w.start)).toFixed(1)}" height="${height - top - 30}" fill="${colour}" opacity="0.6"><title>${esc(`${w.nemesis} ${w.kind}: ${w.error ?? w.detail} [${w.start}, ${w.end}]`)}</title></rect>`,
    );
    // Overlapping windows alternate their label rows.
    out.push(`<text x="${(x(w.start) + 2).toFixed(1)}" y="${top + 10 - (i % 2) * 10}">${esc(`${w.nemesis}: ${w.kind}`)}</text>`);
  }
  inp.nodes.forEach((id, i) => {
    const y = nodeTop + i * ROW;
    out.push(`<text x="4" y="${y + 9}">${esc(id)}</text>`);
    const samples = inp.roles.filter((r) => r.node === id);
    samples.forEach((s, j) => {
      const until = samples[j + 1]?.t ?? end;
      const colour = ROLE_COLOUR[s.role];
      if (!colour) return;
      out.push(
        `<rect x="${x(s.t).toFixed(1)}" y="${y + 1}" width="${Math.max(0.5, x(until) - x(s.t)).toFixed(1)}" height="${ROW - 2}" fill="${colour}"><title>${esc(`${id} ${s.role} term ${s.term} from ${s.t}`)}</title></rect>`,
      );
    });
  });
  lanes.forEach((lane, i) => {
    const y = laneTop + i * ROW;
    out.push(`<text x="4" y="${y + 9}">client ${lane}</text>`);
  });
  const laneY = new Map(lanes.map((l, i) => [l, laneTop + i * ROW]));
  for (const o of inp.ops) {
    const y = laneY.get(o.client)!;
    const w = Math.max(0.8, x(o.return) - x(o.call));
    const tip = `#${o.index} p${o.process}@${o.node} ${o.f} ${o.key}${o.value !== undefined ? ` ${o.value}` : ''}${o.result !== undefined ? ` -> ${o.result}` : ''} ${o.status}${o.error ? ` (${o.error})` : ''}`;
    out.push(
      `<rect x="${x(o.call).toFixed(1)}" y="${y + 2}" width="${w.toFixed(1)}" height="${ROW - 4}" fill="${STATUS_COLOUR[o.status]}"><title>${esc(tip)}</title></rect>`,
    );
  }
  const axisY = height - 26;
  out.push(`<line x1="${LEFT}" y1="${axisY}" x2="${LEFT + WIDTH}" y2="${axisY}" stroke="#333"/>`);
  const step = end > 120_000 ? 10_000 : end > 30_000 ? 5_000 : 1_000;
  for (let t = 0; t <= end; t += step) {
    out.push(
      `<line x1="${x(t).toFixed(1)}" y1="${axisY}" x2="${x(t).toFixed(1)}" y2="${axisY + 4}" stroke="#333"/><text x="${(x(t) - 6).toFixed(1)}" y="${axisY + 14}">${t / 1000}s</text>`,
    );
  }
  const legend = [...Object.entries(STATUS_COLOUR), ...Object.entries(ROLE_COLOUR).slice(0, 3)];
  legend.forEach(([name, colour], i) => {
    const lx = LEFT + WIDTH - 520 + i * 85;
    out.push(`<rect x="${lx}" y="20" width="10" height="10" fill="${colour}"/><text x="${lx + 13}" y="29">${esc(name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

export function writeTimeline(file: string, inp: TimelineInput): void {
  writeFileSync(file, renderTimeline(inp));
}
