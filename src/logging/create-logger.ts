import winston from 'winston';

export type Logger = winston.Logger;

/**
 * createLogger makes the process's one logger: JSON lines by default, colourised text with
 * LOG_FORMAT=pretty. Callers add context with logger.child({ jobId, backupId }).
 */
export function createLogger(options: { level: string; format: 'json' | 'pretty'; stream?: NodeJS.WritableStream }): Logger {
  const format = options.format === 'pretty'
    ? winston.format.combine(winston.format.timestamp(), winston.format.colorize(), winston.format.simple())
    : winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: false }), winston.format.json());
  // Logs go to stderr so that stdout stays clean for command output (`TOKEN=$(snapkeep token create …)`).
  const transport = options.stream
    ? new winston.transports.Stream({ stream: options.stream })
    : new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] });
  return winston.createLogger({ level: options.level, format, transports: [transport] });
}
