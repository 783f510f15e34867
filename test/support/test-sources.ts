import { tmpdir } from 'node:os';
import { delimiter } from 'node:path';

/**
 * What tests allow their sources: files under the temp directory and the repository, and the loopback servers
 * that stand in for the internet. Nothing else private: a redirect to 10.x or 169.254.x stays refused.
 */
export const TEST_SOURCES = {
  localRoots: [tmpdir(), process.cwd()],
  allowPrivateNetworks: ['127.0.0.0/8', '::1/128'],
};

/** The same as variables, for `dyffctl` processes. */
export const TEST_SOURCES_ENV = {
  DYFF_LOCAL_ROOTS: TEST_SOURCES.localRoots.join(delimiter),
  DYFF_ALLOW_PRIVATE_NETWORKS: TEST_SOURCES.allowPrivateNetworks.join(','),
};
