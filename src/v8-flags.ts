import { setFlagsFromString } from 'node:v8';

const setAtRunTime: string[] = [];

/**
 * setV8FlagAtRunTime sets a V8 flag in a running process (for flags V8 reads as it goes, such as
 * --semi-space-growth-factor) and remembers it, so that reapplyV8Flags can set it again.
 */
export function setV8FlagAtRunTime(flag: string): void {
  setFlagsFromString(flag);
  setAtRunTime.push(flag);
}

/**
 * reapplyV8Flags sets the run-time flags again: starting a worker thread resets V8's flags to the
 * process's command line, for the whole process. Call it once the thread is online.
 */
export function reapplyV8Flags(): void {
  for (const flag of setAtRunTime) setFlagsFromString(flag);
}
