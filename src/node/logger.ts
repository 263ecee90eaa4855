import pino, { type Logger } from 'pino';

export type { Logger };

/** Pretty lines for a person at a terminal, JSON for everything else (files, log shippers). */
export function createLogger(level: string, name: string, pretty = process.stdout.isTTY === true): Logger {
  if (pretty) {
    return pino({
      level,
      name,
      transport: { target: 'pino-pretty', options: { colorize: true, singleLine: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  return pino({ level, name, base: { node: name } });
}
