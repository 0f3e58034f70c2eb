import { hostTag, runOwner } from '../../src/temporaries/stale-temporaries.js';

const ourRun = runOwner().split('-')[1]!;

/** OTHER_RUN is the run token of another snapkeep run on this host: its pid is what decides. */
export const OTHER_RUN = hostTag() + (ourRun.endsWith('c0de') ? 'beef' : 'c0de');

/** FOREIGN_HOST_RUN is a run token made on another host: its pid says nothing here, only its age does. */
export const FOREIGN_HOST_RUN = (hostTag() === '0bad' ? '1bad' : '0bad') + 'c0de';
