import { existsSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

// The installed packages hold a real corpus some tests read; in a checkout whose node_modules is a link, the link's
// target is another directory that must be a root of its own.
const modules = join(process.cwd(), 'node_modules');

/**
 * What tests allow their sources: files under the temp directory, the repository and its installed packages, and the loopback servers
 * that stand in for the internet. Nothing else private: a redirect to 10.x or 169.254.x stays refused.
 */
export const TEST_SOURCES = {
  localRoots: [tmpdir(), process.cwd(), ...(existsSync(modules) ? [realpathSync(modules)] : [])],
  allowPrivateNetworks: ['127.0.0.0/8', '::1/128'],
};

/** The same as variables, for `dyffctl` processes. */
export const TEST_SOURCES_ENV = {
  DYFF_LOCAL_ROOTS: TEST_SOURCES.localRoots.join(delimiter),
  DYFF_ALLOW_PRIVATE_NETWORKS: TEST_SOURCES.allowPrivateNetworks.join(','),
};
