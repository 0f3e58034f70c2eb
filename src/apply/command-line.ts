/**
 * How snapkeep reads a stop or start command (--stop-command, APP_STOP_COMMAND): split into
 * words the way a POSIX shell splits them, with 'single' and "double" quotes and backslash
 * escapes, and run without a shell. Nothing is expanded: a character a shell would treat
 * specially outside quotes (`$`, `|`, `;`, `&`, `<`, `>`, `(`, `)`, backquote, `*`, `?`, `[`,
 * a leading `~` or `#`) is refused, so a command never means something else than it says. A
 * command that needs a shell says so: `sh -c 'systemctl stop myapp && sleep 1'`.
 */

const SHELL_ONLY = new Set(['$', '|', ';', '&', '<', '>', '(', ')', '`', '*', '?', '[']);

/** CommandLineError says why a command string cannot be split into words. */
export class CommandLineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandLineError';
  }
}

/** parseCommandLine splits a command into argv (at least one word), or throws CommandLineError. */
export function parseCommandLine(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) word += text[++i];
      else if (c === '$' || c === '`') throw needsShell(c);
      else word += c;
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'" || c === '"') {
      quote = c;
      word ??= '';
    } else if (c === '\\') {
      if (i + 1 >= text.length) throw new CommandLineError('ends with a lone backslash');
      word = (word ?? '') + text[++i];
    } else if (SHELL_ONLY.has(c) || (word === undefined && (c === '~' || c === '#'))) {
      throw needsShell(c);
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote) throw new CommandLineError(`has an unclosed ${quote} quote`);
  if (word !== undefined) words.push(word);
  if (words.length === 0) throw new CommandLineError('is empty');
  return words;
}

const needsShell = (c: string): CommandLineError =>
  new CommandLineError(`uses ${JSON.stringify(c)}, which only a shell understands: quote it, or write the command as sh -c '…'`);

/** formatCommandLine writes argv back as one line a shell would read the same way, for messages. */
export function formatCommandLine(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

/** shellQuote quotes a word for a POSIX shell when it holds anything but plain characters. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}
