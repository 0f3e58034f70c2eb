import { describeFleet } from '../helpers/fleet-suite.js';
import { netnsUnavailable } from '../helpers/netns.js';

// The same fleet, each worker in its own network namespace joined to the host by a veth pair: the
// workers share nothing but Redis and the S3 store, reached by TCP on the veths' host ends.
// beta-host is stopped by SIGTERM here, which withdraws its announcement at once.
const skipReason = netnsUnavailable();
if (skipReason) console.warn(`fleet in network namespaces skipped: ${skipReason}`);
describeFleet({ namespaces: true, kill: 'SIGTERM', ...(skipReason ? { skipReason } : {}) });
