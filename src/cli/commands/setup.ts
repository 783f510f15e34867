import { Connection } from '@temporalio/client';
import type { Command } from 'commander';
import { loadConfig } from '../../config.js';
import { SEARCH_ATTRIBUTES } from '../../domain/search-attributes.js';
import { registerSearchAttributes } from '../../search-attributes-setup.js';
import { describeConnection, temporalConnectionOptions } from '../../temporal-connection.js';

export function registerSetupCommand(program: Command): void {
  program
    .command('setup')
    .description(
      'register the search attributes the workflows set on the configured namespace; idempotent, any cluster',
    )
    .action(async () => {
      const config = loadConfig();
      const options = temporalConnectionOptions(config.temporal);
      const namespace = config.temporal.namespace;
      const connection = await Connection.connect({ ...options, connectTimeout: '5s' });
      try {
        // Returns once the namespace's caches have them: a run started right after setup is not refused.
        const added = await registerSearchAttributes(connection.operatorService, namespace, {
          visibility: connection.workflowService,
        });
        const where = `namespace ${namespace} at ${describeConnection(options)}`;
        process.stdout.write(
          added.length
            ? `registered ${added.join(', ')} on ${where}\n`
            : `${where} already has all ${SEARCH_ATTRIBUTES.length} search attributes\n`,
        );
      } finally {
        await connection.close();
      }
    });
}
