/** Reading a node's Prometheus `/metrics` text in the bench tools. */

/** Sums a family's series (`name{...} value` or `name value` lines) in a /metrics text. */
export function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}
