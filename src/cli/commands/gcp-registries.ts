import type { Command } from 'commander';
import type { loadConfig } from '../../config.js';
import { DyffError } from '../../domain/errors.js';
import { registryPlan, registryPlanToShell } from '../../gcp/artifact-registry.js';

interface RegistriesCliOptions {
  project?: string;
  location?: string;
  repository?: string;
  nodeServiceAccount?: string;
  format: string;
}

/** `dyffctl gcp registries`: prints the commands that create the Artifact Registry repositories; runs nothing. */
export function registerRegistriesCommand(gcp: Command, deps: { loadConfig: typeof loadConfig }): void {
  gcp
    .command('registries')
    .description(
      'print the commands that create the Artifact Registry repositories (dyff-system, dyff-models)',
    )
    .option('--project <project>', 'GCP project (default: cloudbuild.projectId, else gcs.projectId)')
    .option('--location <location>', 'repository location (default: cloudbuild.location)')
    .option('--repository <name>', 'the models repository (default: cloudbuild.repository)')
    .option('--node-service-account <email>', "the GKE nodes' service account, to pull the models' images")
    .option('--format <format>', 'shell or json', 'shell')
    .action((opts: RegistriesCliOptions) => {
      const config = deps.loadConfig();
      const project = opts.project ?? config.cloudbuild.projectId ?? config.gcs.projectId;
      if (!project)
        throw new DyffError(
          'InvalidSpec',
          'no GCP project: pass --project or set cloudbuild.projectId (DYFF_CLOUDBUILD_PROJECT)',
        );
      if (opts.format !== 'shell' && opts.format !== 'json')
        throw new DyffError(
          'InvalidSpec',
          `--format must be shell or json, not ${JSON.stringify(opts.format)}`,
        );
      const commands = registryPlan({
        project,
        location: opts.location ?? config.cloudbuild.location,
        modelsRepository: opts.repository ?? config.cloudbuild.repository,
        nodeServiceAccount: opts.nodeServiceAccount,
      });
      process.stdout.write(
        opts.format === 'json'
          ? `${JSON.stringify(commands, null, 2)}\n`
          : registryPlanToShell(project, commands),
      );
    });
}
