import { describeFleet } from '../helpers/fleet-suite.js';

// Issue 14: one Redis, one S3 store, workers for alpha-host and beta-host and two API processes on
// this host, all reading one SNAPKEEP_CONFIG (the scenarios are in fleet-suite.ts). beta-host dies
// by SIGKILL here, so its announcement must run out by its TTL.
describeFleet({ namespaces: false, kill: 'SIGKILL' });
