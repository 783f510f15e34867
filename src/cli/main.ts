/**
 * dyffctl: the command line. `step` is dispatched before anything else is loaded, since every job starts it.
 */
import { ExitCode } from './exit-codes.js';
import { exitWith } from './exit.js';

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'step') {
    const { stepMain } = await import('./step.js');
    return stepMain(argv.slice(1));
  }
  if (argv[0] === 'version' || argv[0] === '--version') {
    const { versionMain } = await import('./version.js');
    return versionMain();
  }
  if (argv[0] === 'serve-model') {
    const { serveModelMain } = await import('../serve/main.js');
    return serveModelMain(argv.slice(1));
  }
  const { Command, CommanderError } = await import('commander');
  const program = new Command('dyffctl')
    .description('Run AI-model evaluations as durable Temporal workflows')
    .exitOverride()
    .showHelpAfterError();
  const { registerEntityCommands } = await import('./commands/entities.js');
  const { registerServerCommands } = await import('./commands/servers.js');
  const { registerDemoCommand } = await import('./commands/demo.js');
  const { registerPipelineCommands } = await import('./commands/pipelines.js');
  registerServerCommands(program);
  const { registerCodecCommand } = await import('./commands/codec.js');
  registerCodecCommand(program);
  registerEntityCommands(program);
  registerPipelineCommands(program);
  const { registerBenchmarkCommands } = await import('./commands/benchmarks.js');
  registerBenchmarkCommands(program);
  registerDemoCommand(program);
  const { registerSetupCommand } = await import('./commands/setup.js');
  registerSetupCommand(program);
  const { loadConfig } = await import('../config.js');
  const { registerBucketsCommands } = await import('./commands/buckets.js');
  const { registerGcpCommands } = await import('./commands/gcp.js');
  registerBucketsCommands(program, { loadConfig });
  registerGcpCommands(program, { loadConfig });
  program
    .command('step <name>')
    .description('run a step program (what a job runs): fetch-data, ingest-dataset, …');
  program.command('serve-model').description('serve a model directory over HTTP (the standalone runner)');
  program
    .command('version')
    .description('print the version, and whether the compiled dist/ or the sources run');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return Number(process.exitCode ?? ExitCode.Ok);
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? ExitCode.Ok : ExitCode.InvalidInput;
    }
    throw err;
  }
}

await exitWith(() => main(process.argv.slice(2)));
