/**
 * Draws a Grafana dashboard's panels as one SVG, from Prometheus range-query results: a grid of
 * small line charts laid out by each panel's gridPos, with its title, unit-aware axis labels and
 * a legend. Enough to show a run's shape in docs without a Grafana server.
 */
export interface Series {
  name: string;
  points: Array<[number, number]>;
}

export interface PanelData {
  title: string;
  unit: string;
  gridPos: { x: number; y: number; w: number; h: number };
  series: Series[];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const COL = 50;
const ROW = 30;

export function renderSvg(title: string, subtitle: string, panels: PanelData[], t0: number, t1: number): string {
  const width = 24 * COL;
  const height = Math.max(...panels.map((p) => (p.gridPos.y + p.gridPos.h) * ROW)) + 60;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="10" y="24" font-size="18" font-weight="bold">${esc(title)}</text>`,
    `<text x="10" y="44" font-size="12" fill="#555">${esc(subtitle)}</text>`,
  ];
  for (const p of panels) out.push(panel(p, p.gridPos.x * COL, 56 + p.gridPos.y * ROW, p.gridPos.w * COL, p.gridPos.h * ROW, t0, t1));
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function panel(p: PanelData, x: number, y: number, w: number, h: number, t0: number, t1: number): string {
  const pad = { l: 58, r: 8, t: 22, b: 44 };
  const cw = w - pad.l - pad.r - 8;
  const ch = h - pad.t - pad.b - 8;
  const values = p.series.flatMap((s) => s.points.map(([, v]) => v)).filter(Number.isFinite);
  const lo = Math.min(0, ...values);
  let hi = Math.max(...values, lo + (p.unit === 'none' ? 1 : 1e-9));
  if (hi === lo) hi = lo + 1;
  hi += (hi - lo) * 0.05;
  const sx = (t: number) => x + 4 + pad.l + ((t - t0) / (t1 - t0)) * cw;
  const sy = (v: number) => y + 4 + pad.t + ch - ((v - lo) / (hi - lo)) * ch;
  const g: string[] = [
    `<g>`,
    `<rect x="${x + 4}" y="${y + 4}" width="${w - 8}" height="${h - 8}" fill="#fafafa" stroke="#ddd"/>`,
    `<text x="${x + 12}" y="${y + 20}" font-size="12" font-weight="bold">${esc(p.title)}</text>`,
  ];
  for (const f of [0, 0.5, 1]) {
    const v = lo + (hi - lo) * f;
    g.push(`<line x1="${sx(t0)}" x2="${sx(t1)}" y1="${sy(v)}" y2="${sy(v)}" stroke="#e6e6e6"/>`);
    g.push(`<text x="${sx(t0) - 4}" y="${sy(v) + 4}" font-size="9" text-anchor="end" fill="#555">${esc(format(v, p.unit))}</text>`);
  }
  for (const f of [0, 0.5, 1]) {
    const t = t0 + (t1 - t0) * f;
    g.push(`<text x="${sx(t)}" y="${sy(lo) + 11}" font-size="9" text-anchor="middle" fill="#555">${Math.round(t - t0)}s</text>`);
  }
  p.series.slice(0, COLORS.length).forEach((s, i) => {
    const color = COLORS[i];
    // A gap in the data (a member down, no samples) breaks the line rather than bridging it.
    let d = '';
    let prev: number | undefined;
    for (const [t, v] of s.points) {
      if (!Number.isFinite(v)) {
        prev = undefined;
        continue;
      }
      d += `${prev === undefined || t - prev > 5 ? 'M' : 'L'}${sx(t).toFixed(1)},${sy(v).toFixed(1)} `;
      prev = t;
    }
    if (d) g.push(`<path d="${d.trim()}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    const lx = x + 4 + pad.l + (i % 3) * Math.floor(cw / 3);
    const ly = y + h - (i < 3 ? 20 : 9);
    g.push(`<rect x="${lx}" y="${ly - 7}" width="8" height="8" fill="${color}"/>`);
    g.push(`<text x="${lx + 11}" y="${ly}" font-size="9">${esc(s.name.slice(0, 22))}</text>`);
  });
  if (p.series.length === 0) g.push(`<text x="${x + w / 2}" y="${y + h / 2}" font-size="11" text-anchor="middle" fill="#999">no data</text>`);
  g.push('</g>');
  return g.join('\n');
}

function format(v: number, unit: string): string {
  if (unit === 'percentunit') return `${(v * 100).toFixed(0)}%`;
  if (unit === 's') return v >= 1 ? `${v.toFixed(1)}s` : v >= 0.001 ? `${(v * 1000).toFixed(1)}ms` : `${(v * 1e6).toFixed(0)}µs`;
  if (unit === 'bytes') {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return `${v.toFixed(v >= 10 || i === 0 ? 0 : 1)} ${units[i]}`;
  }
  const suffix = unit === 'ops' ? '/s' : '';
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(1)}M${suffix}`;
  if (Math.abs(v) >= 1e3) return `${(v / 1e3).toFixed(1)}k${suffix}`;
  return `${Number.isInteger(v) ? v : v.toFixed(v < 10 ? 2 : 0)}${suffix}`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
