/** A hand-written SVG of the soak (soak.ts): RSS over time, one line per RaftKV node and Redis. */
import type { SoakResult } from './soak.ts';

const COLORS = ['#2b6cb0', '#63b3ed', '#2c5282', '#2f855a', '#c05621'];
const W = 900;
const H = 360;

function esc(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;');
}

export function renderSoakSvg(r: SoakResult, caption: string): string {
  const names = Object.keys(r.samples[0]!.rssMiB);
  const left = 60;
  const top = 40;
  const plotW = W - left - 250;
  const plotH = H - top - 60;
  const tMax = Math.max(1, ...r.samples.map((s) => s.t));
  const vMax = Math.max(1, ...r.samples.flatMap((s) => Object.values(s.rssMiB)).filter(Number.isFinite)) * 1.05;
  const x = (t: number) => (left + (plotW * t) / tMax).toFixed(1);
  const y = (v: number) => (top + plotH - (plotH * v) / vMax).toFixed(1);
  const parts = [`<text x="${W / 2}" y="22" text-anchor="middle" font-weight="bold">RSS under a steady cache load (soak, ${r.minutes} min)</text>`];
  for (let i = 0; i <= 4; i++) {
    const v = (vMax * i) / 4;
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 4}" y="${Number(y(v)) + 4}" text-anchor="end" font-size="10">${v.toFixed(0)}</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const t = (tMax * i) / 5;
    parts.push(`<text x="${x(t)}" y="${top + plotH + 16}" text-anchor="middle" font-size="10">${(t / 60).toFixed(1)}</text>`);
  }
  parts.push(`<text x="${left + plotW / 2}" y="${top + plotH + 34}" text-anchor="middle" font-size="11">minutes under load (0 = idle)</text>`);
  parts.push(`<text x="14" y="${top + plotH / 2}" font-size="11" transform="rotate(-90 14 ${top + plotH / 2})" text-anchor="middle">RSS MiB</text>`);
  names.forEach((name, i) => {
    const color = name === 'redis' ? '#2f855a' : COLORS[i % COLORS.length]!;
    const pts = r.samples.filter((s) => Number.isFinite(s.rssMiB[name])).map((s) => `${x(s.t)},${y(s.rssMiB[name]!)}`);
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"><title>${esc(name)}</title></polyline>`);
    const g = r.growth[name];
    const label = g ? `${name}: idle ${g.idle.toFixed(0)}, peak ${g.peak.toFixed(0)}` : name;
    parts.push(`<rect x="${left + plotW + 12}" y="${top + i * 18}" width="10" height="10" fill="${color}"/>`);
    parts.push(`<text x="${left + plotW + 26}" y="${top + i * 18 + 9}" font-size="11">${esc(label)}</text>`);
  });
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${parts.join('\n')}
<text x="10" y="${H - 8}" font-size="10" fill="#555">${esc(caption)}</text>
</svg>
`;
}
