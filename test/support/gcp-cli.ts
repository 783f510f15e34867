import { Command } from 'commander';
import { vi } from 'vitest';
import { registerGcpCommands } from '../../src/cli/commands/gcp.js';
import { loadConfig } from '../../src/config.js';

/** `dyffctl <args>` for the gcp commands, in process and with no config file: what it prints to stdout. */
export async function gcpCli(...args: string[]): Promise<string> {
  const program = new Command('dyffctl').exitOverride();
  registerGcpCommands(program, {
    loadConfig: () => loadConfig({}, { DYFF_CONFIG: '/nonexistent/dyff.config.yaml' }),
  });
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  });
  try {
    await program.parseAsync(args, { from: 'user' });
  } finally {
    spy.mockRestore();
  }
  return out;
}
