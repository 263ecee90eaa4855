/**
 * A RaftKV cluster of real containers on its own testcontainers Network. Nodes reach each other
 * by network alias (n1, n2, n3); the tests reach them through mapped ports from the host, or,
 * for a node cut off from the network (whose mapped ports go with it), through `docker exec`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { GenericContainer, getContainerRuntimeClient, Network, type StartedNetwork, type StartedTestContainer, Wait } from 'testcontainers';
import { waitFor } from '../support/cluster-harness.ts';

export const RESP_PORT = 6379;
export const HTTP_PORT = 16379;

export interface HttpReply {
  status: number;
  body: string;
}

/** What /v1/cluster reports (the fields the tests use). */
export interface NodeView {
  id: string;
  role: string;
  term: number;
  leader: string | null;
  commit: number;
  applied: number;
}

export interface ClusterOptions {
  image: string;
  size?: number;
  /** Keep /data in named volumes, so `recreate` can start new containers on the same data. */
  volumes?: boolean;
  /** RAFTKV_SHARDS: data groups the cluster bootstraps with (1: one group, today's node). */
  shards?: number;
}

export class ContainerCluster {
  readonly ids: string[];
  private readonly containers = new Map<string, StartedTestContainer>();
  private readonly stopped = new Set<string>();
  private readonly runId = randomUUID().slice(0, 8);
  /** The nodes listen on every interface of their network, so they need a cluster secret: one per cluster. */
  private readonly secret = randomBytes(24).toString('hex');

  private constructor(
    private readonly opts: Required<ClusterOptions>,
    readonly network: StartedNetwork,
  ) {
    this.ids = Array.from({ length: opts.size }, (_, i) => `n${i + 1}`);
  }

  static async start(opts: ClusterOptions): Promise<ContainerCluster> {
    const network = await new Network().start();
    const cluster = new ContainerCluster({ size: 3, volumes: false, shards: 1, ...opts }, network);
    try {
      await Promise.all(cluster.ids.map((id) => cluster.startNode(id)));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  private volumeName(id: string): string {
    return `raftkv-test-${this.runId}-${id}`;
  }

  private async startNode(id: string): Promise<void> {
    const peers = this.ids.map((p) => `${p}=${p}:${RESP_PORT}:${HTTP_PORT}`).join(',');
    let c = new GenericContainer(this.opts.image)
      .withNetwork(this.network)
      .withNetworkAliases(id)
      // The tests' clients come through the mapped ports, from the Docker gateway rather than
      // the container's loopback, and send no password: protected mode off, on a test network.
      .withEnvironment({
        RAFTKV_ID: id,
        RAFTKV_PEERS: peers,
        RAFTKV_ADVERTISE_HOST: id,
        RAFTKV_PROTECTED_MODE: 'no',
        RAFTKV_CLUSTER_SECRET: this.secret,
        ...(this.opts.shards > 1 ? { RAFTKV_SHARDS: String(this.opts.shards) } : {}),
      })
      .withExposedPorts(RESP_PORT, HTTP_PORT)
      .withWaitStrategy(Wait.forHttp('/healthz', HTTP_PORT).forStatusCode(200))
      .withStartupTimeout(30_000);
    if (this.opts.volumes) c = c.withBindMounts([{ source: this.volumeName(id), target: '/data', mode: 'rw' }]);
    this.containers.set(id, await c.start());
    this.stopped.delete(id);
  }

  container(id: string): StartedTestContainer {
    const c = this.containers.get(id);
    if (!c) throw new Error(`no container for ${id}`);
    return c;
  }

  /**
   * ioredis `natMap`: the in-network addresses the nodes announce (n1:6379, as in CLUSTER SLOTS
   * and MOVED) to the host's mapped ports.
   */
  natMap(): Record<string, { host: string; port: number }> {
    const map: Record<string, { host: string; port: number }> = {};
    for (const [id, c] of this.containers) map[`${id}:${RESP_PORT}`] = { host: c.getHost(), port: c.getMappedPort(RESP_PORT) };
    return map;
  }

  running(): string[] {
    return this.ids.filter((id) => !this.stopped.has(id));
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  /** From the host, through the node's mapped HTTP port; redirects are returned, not followed. */
  async http(id: string, method: string, path: string, body?: unknown): Promise<HttpReply> {
    const c = this.container(id);
    const res = await fetch(`http://${c.getHost()}:${c.getMappedPort(HTTP_PORT)}${path}`, {
      method,
      redirect: 'manual',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(8000),
    });
    return { status: res.status, body: await res.text() };
  }

  /**
   * From inside the node's own container (`docker exec`), which works while the node is cut off
   * from every network. Status 0 means the request itself failed.
   */
  async httpInside(id: string, method: string, path: string, body?: unknown): Promise<HttpReply> {
    const script = `const [m, p, b] = process.argv.slice(1);
fetch('http://127.0.0.1:${HTTP_PORT}' + p, { method: m, redirect: 'manual', body: b || undefined,
  headers: b ? { 'content-type': 'application/json' } : {}, signal: AbortSignal.timeout(8000) })
  .then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.text() })),
        (e) => console.log(JSON.stringify({ status: 0, body: String(e) })));`;
    const args = ['node', '-e', script, method, path, body === undefined ? '' : JSON.stringify(body)];
    const r = await this.container(id).exec(args);
    if (r.exitCode !== 0) throw new Error(`exec in ${id} exited ${r.exitCode}: ${r.output}`);
    return JSON.parse(r.stdout) as HttpReply;
  }

  async view(id: string, inside = false): Promise<NodeView> {
    const r = inside ? await this.httpInside(id, 'GET', '/v1/cluster') : await this.http(id, 'GET', '/v1/cluster');
    if (r.status !== 200) throw new Error(`${id} /v1/cluster answered ${r.status}: ${r.body}`);
    return JSON.parse(r.body) as NodeView;
  }

  /** Value of `key` read (linearizably) on node `id`; undefined for 404; throws on anything else. */
  async get(id: string, key: string): Promise<string | undefined> {
    const r = await this.http(id, 'GET', `/v1/kv/${encodeURIComponent(key)}`);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`GET ${key} on ${id}: ${r.status} ${r.body}`);
    return (JSON.parse(r.body) as { value: string }).value;
  }

  /**
   * Write through the leader, following 307 by leader id (the Location names the leader's
   * in-network address, which the host cannot reach). True only when a node acknowledged it.
   */
  async put(key: string, value: string, via?: string): Promise<boolean> {
    let target: string | undefined = via ?? this.running()[0];
    for (let hop = 0; hop < 3 && target !== undefined; hop++) {
      const r = await this.http(target, 'PUT', `/v1/kv/${encodeURIComponent(key)}`, { value });
      if (r.status === 200) return true;
      if (r.status !== 307) return false;
      const leader = (JSON.parse(r.body) as { leader?: string }).leader;
      target = leader && this.running().includes(leader) ? leader : undefined;
    }
    return false;
  }

  /**
   * Waits until one node among `among` reports itself leader and every other node there agrees;
   * returns its id.
   */
  async waitForLeader(among = this.running(), timeoutMs = 15_000, everyMs = 25): Promise<string> {
    let leader: string | undefined;
    await waitFor(
      async () => {
        const views = await Promise.all(among.map((id) => this.view(id).catch(() => undefined)));
        const self = views.find((v) => v?.role === 'leader');
        leader = self?.id;
        return self !== undefined && views.every((v) => v?.leader === self.id && v.term === self.term);
      },
      timeoutMs,
      `a leader among ${among.join(', ')}`,
      everyMs,
    );
    return leader as string;
  }

  // ---- faults -------------------------------------------------------------------------------

  /** `docker stop` (SIGTERM, then SIGKILL after 10 s); the container is removed. */
  async stopNode(id: string): Promise<void> {
    this.stopped.add(id);
    await this.container(id).stop();
  }

  /** SIGKILL: the process dies mid-flight, as in a crash. The stopped container stays until `stop`. */
  async killNode(id: string): Promise<void> {
    this.stopped.add(id);
    const client = await getContainerRuntimeClient();
    await client.container.dockerode.getContainer(this.container(id).getId()).kill({ signal: 'SIGKILL' });
  }

  /** Cuts the node off the cluster network (a partition: it and the others keep running). */
  async disconnect(id: string): Promise<void> {
    const client = await getContainerRuntimeClient();
    await client.network.getById(this.network.getId()).disconnect({ Container: this.container(id).getId(), Force: true });
    this.stopped.add(id);
  }

  /** Puts the node back on the network under its alias. */
  async reconnect(id: string): Promise<void> {
    const client = await getContainerRuntimeClient();
    await client.network.getById(this.network.getId()).connect({ Container: this.container(id).getId(), EndpointConfig: { Aliases: [id] } });
    this.stopped.delete(id);
  }

  /** Starts a new container for a node `stopNode` stopped, on its volume (its data). */
  async startAgain(id: string): Promise<void> {
    if (!this.opts.volumes) throw new Error('startAgain needs a cluster started with volumes');
    await this.startNode(id);
  }

  /** Stops every container (cleanly) and starts new ones on the same volumes. */
  async recreate(): Promise<void> {
    if (!this.opts.volumes) throw new Error('recreate needs a cluster started with volumes');
    await Promise.all(this.running().map((id) => this.stopNode(id)));
    await Promise.all(this.ids.map((id) => this.startNode(id)));
  }

  /** Every container's log, for a failed test's report. */
  async logs(): Promise<string> {
    const out: string[] = [];
    for (const [id, c] of this.containers) {
      try {
        const chunks: Buffer[] = [];
        for await (const chunk of await c.logs({ tail: 200 })) chunks.push(Buffer.from(chunk as Buffer));
        out.push(`---- ${id}\n${Buffer.concat(chunks).toString('utf8')}`);
      } catch (err) {
        out.push(`---- ${id}: no logs (${(err as Error).message})`);
      }
    }
    return out.join('\n');
  }

  /** Removes the containers, the network and the volumes. */
  async stop(): Promise<void> {
    await Promise.all(
      // A node stopped by a test is already gone; a killed or cut-off one still needs removing.
      [...this.containers.values()].map((c) => c.stop({ timeout: 0 }).catch(() => undefined)),
    );
    await this.network.stop();
    if (this.opts.volumes) {
      const client = await getContainerRuntimeClient();
      await Promise.all(this.ids.map((id) => client.container.dockerode.getVolume(this.volumeName(id)).remove()));
    }
  }
}
