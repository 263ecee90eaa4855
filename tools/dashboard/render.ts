/**
 * Renders ops/grafana/raftkv-dashboard.json from a real run, for docs/operations.md:
 *
 *   npx tsx tools/dashboard/render.ts [--seconds 180] [--out docs/img/dashboard.svg]
 *
 * Starts a 3-node cluster (real processes, test/support's harness) and Debian's Prometheus
 * scraping it every second, drives a SET/GET load through ioredis's cluster client, kills the
 * leader with SIGKILL at 40% of the run and restarts it at 60%, then runs every panel's query
 * over the run through Prometheus's range API and draws the panels (svg.ts). The queries are the
 * dashboard's own, so the picture shows what Grafana would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Cluster } from 'ioredis';
import { ClusterHarness, freePort, waitFor } from '../../test/support/cluster-harness.ts';
import { type PanelData, renderSvg, type Series } from './svg.ts';

interface DashboardPanel {
  title: string;
  gridPos: PanelData['gridPos'];
  fieldConfig: { defaults: { unit: string } };
  targets: Array<{ expr: string; legendFormat: string }>;
}

const DASHBOARD = resolve(import.meta.dirname, '../../ops/grafana/raftkv-dashboard.json');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '180' }, out: { type: 'string', default: 'docs/img/dashboard.svg' } } });
  const seconds = Number(values.seconds);
  if (!Number.isInteger(seconds) || seconds < 60) throw new Error('--seconds must be an integer of at least 60');
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { title: string; panels: DashboardPanel[] };

  const cluster = new ClusterHarness({ tickMs: 100 });
  let prom: ChildProcess | undefined;
  try {
    await cluster.start();
    await cluster.waitLeader();
    const promPort = await freePort();
    const promDir = join(cluster.root, 'prometheus');
    mkdirSync(promDir, { recursive: true });
    // The instance label is the node id, as a real deployment's relabelling would make it.
    const targets = cluster.nodes.map((h) => `      - targets: ['127.0.0.1:${h.httpPort}']\n        labels: { instance: ${h.id} }`).join('\n');
    writeFileSync(join(promDir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: raftkv\n    static_configs:\n${targets}\n`);
    prom = spawn(
      'prometheus',
      [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`],
      { stdio: 'ignore' },
    );
    const promUrl = `http://127.0.0.1:${promPort}`;
    await waitFor(async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok ?? false, 30_000, 'Prometheus ready', 200);

    const t0 = Date.now() / 1000;
    const client = new Cluster(
      cluster.nodes.map((h) => ({ host: '127.0.0.1', port: h.port })),
      { clusterRetryStrategy: () => 100 },
    );
    client.on('error', () => {});
    let ops = 0;
    let errors = 0;
    let running = true;
    const worker = async (w: number) => {
      for (let i = 0; running; i++) {
        const key = `k${(w * 7919 + i) % 5000}`;
        try {
          if (i % 3 === 0) await client.set(key, 'x'.repeat(100));
          else await client.get(key);
          ops++;
        } catch {
          errors++;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    const workers = Array.from({ length: 16 }, (_, w) => worker(w));
    const at = (f: number) => new Promise((r) => setTimeout(r, Math.max(0, t0 * 1000 + seconds * 1000 * f - Date.now())));
    await at(0.4);
    const victim = await cluster.waitLeader();
    console.log(`${Math.round(Date.now() / 1000 - t0)}s: kill -9 ${victim.id} (the leader)`);
    await cluster.kill9(victim);
    await at(0.6);
    console.log(`${Math.round(Date.now() / 1000 - t0)}s: restart ${victim.id}`);
    await cluster.restart(victim);
    await at(1);
    running = false;
    await Promise.all(workers);
    client.disconnect();
    const t1 = Date.now() / 1000;

    const panels: PanelData[] = [];
    for (const p of dashboard.panels) {
      const series: Series[] = [];
      for (const t of p.targets) {
        const q = new URLSearchParams({ query: t.expr, start: String(t0), end: String(t1), step: '2' });
        const body = (await (await fetch(`${promUrl}/api/v1/query_range?${q}`)).json()) as {
          status: string;
          error?: string;
          data: { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> };
        };
        if (body.status !== 'success') throw new Error(`panel '${p.title}': ${body.error}`);
        for (const r of body.data.result.sort((a, b) => JSON.stringify(a.metric).localeCompare(JSON.stringify(b.metric)))) {
          const name = t.legendFormat.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, l: string) => r.metric[l] ?? '');
          series.push({ name, points: r.values.map(([ts, v]) => [ts, Number(v)]) });
        }
      }
      panels.push({ title: p.title, unit: p.fieldConfig.defaults.unit, gridPos: p.gridPos, series });
    }
    const empty = panels.filter((p) => p.series.length === 0).map((p) => p.title);
    const subtitle = `${seconds} s on one machine: 3 nodes, 16 ioredis cluster clients (1 SET : 2 GET), leader ${victim.id} killed at 40% and restarted at 60%; ${ops} ops, ${errors} errors retried`;
    mkdirSync(dirname(resolve(values.out!)), { recursive: true });
    writeFileSync(values.out!, renderSvg(dashboard.title, subtitle, panels, t0, t1));
    console.log(
      `wrote ${values.out}: ${panels.length} panels; ${ops} ops, ${errors} errors${empty.length ? `; panels with no data: ${empty.join(', ')}` : ''}`,
    );
  } finally {
    prom?.kill('SIGKILL');
    await cluster.stop();
  }
}

await main();
