/**
 * Flag parsing every `raftkv` command shares, so they behave alike: `--help` / `-h` prints the
 * command's usage on stdout and exits 0; a flag the command does not know, or one missing its
 * value, is one line on stderr naming it and exit code 2, never a stack trace
 * (util.parseArgs throws ERR_PARSE_ARGS_* errors with a paragraph of advice).
 */
import { parseArgs } from 'node:util';

type OptionSpec = { type: 'string' | 'boolean'; short?: string; default?: string | boolean; multiple?: boolean };

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Exit code 2: the invocation is wrong (as for a bad setting, cli/start.ts). */
export function usageError(command: string, message: string): never {
  process.stderr.write(`raftkv ${command}: ${message} (raftkv ${command} --help lists the options)\n`);
  process.exit(2);
}

/** util.parseArgs's message, cut to its first sentence and lower-cased as ours are. */
export function argsProblem(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const msg = e.message ?? String(err);
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const name = /'([^']+)'/.exec(msg)?.[1] ?? msg;
    return `unknown option '${name}'`;
  }
  if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const arg = /'([^']+)'/.exec(msg)?.[1] ?? msg;
    return `unexpected argument '${arg}'`;
  }
  // ERR_PARSE_ARGS_INVALID_OPTION_VALUE: "Option '--nodes <value>' argument missing".
  const first = msg.split(/\.\s/)[0].replace(/\.$/, '');
  return first.charAt(0).toLowerCase() + first.slice(1);
}

/**
 * `argv` parsed against `options` (plus --help/-h); usage on --help, one line and exit 2 on a
 * wrong flag. `maxPositionals` bounds the operands (0: none allowed).
 */
export function parseCommandArgs(command: string, argv: string[], options: Record<string, OptionSpec>, usage: string, maxPositionals = 0): Parsed {
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true }) as Parsed;
  } catch (err) {
    usageError(command, argsProblem(err));
  }
  if (parsed.values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  delete parsed.values.help;
  if (parsed.positionals.length > maxPositionals) usageError(command, `unexpected argument '${parsed.positionals[maxPositionals]}'`);
  return parsed;
}

/** A wrong invocation found by a function that must not exit itself (tests call it). */
export class ArgsError extends Error {
  override name = 'ArgsError';
}
