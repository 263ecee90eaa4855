/**
 * Builds the image from the repository's Dockerfile once per run and hands its name to the
 * tests. The base image is RAFTKV_NODE_IMAGE when set, else whatever
 * scripts/offline-base-image.sh answers: the official node image when it is present or a
 * registry answers, a locally built equivalent otherwise.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { GenericContainer, getContainerRuntimeClient } from 'testcontainers';
import type { TestProject } from 'vitest/node';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const IMAGE = 'raftkv:containers-test';

declare module 'vitest' {
  export interface ProvidedContext {
    raftkvImage: string;
  }
}

function baseImage(): string {
  if (process.env.RAFTKV_NODE_IMAGE) return process.env.RAFTKV_NODE_IMAGE;
  try {
    return execFileSync(`${ROOT}/scripts/offline-base-image.sh`, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  } catch (err) {
    throw new Error(`no base image: scripts/offline-base-image.sh failed (${(err as Error).message}); set RAFTKV_NODE_IMAGE`);
  }
}

export default async function setup(project: TestProject): Promise<void> {
  try {
    await getContainerRuntimeClient();
  } catch (err) {
    throw new Error(`no Docker daemon answers (${(err as Error).message}); start one with scripts/start-dockerd.sh`);
  }
  const base = baseImage();
  const started = Date.now();
  await GenericContainer.fromDockerfile(ROOT).withBuildArgs({ NODE_IMAGE: base }).build(IMAGE, { deleteOnExit: false });
  process.stderr.write(`built ${IMAGE} on ${base} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  project.provide('raftkvImage', IMAGE);
}
