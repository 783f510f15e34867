import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tiedTemporalCli } from '../../src/dev/temporal-cli.js';

const dir = mkdtempSync(join(tmpdir(), "dyff-tied cli's-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the dev server’s tied start script', () => {
  it('is written beside the CLI and runs it with the same arguments, whatever its path holds', () => {
    const cli = join(dir, "the 'temporal' cli");
    writeFileSync(cli, '#!/bin/sh\nprintf "%s|" "$@"\n', { mode: 0o755 });
    const tied = tiedTemporalCli(cli);
    expect(dirname(tied)).toBe(dir);
    accessSync(tied, constants.X_OK);
    expect(execFileSync(tied, ['server', 'start-dev', '--port', '7233', 'a b'], { encoding: 'utf8' })).toBe(
      'server|start-dev|--port|7233|a b|',
    );
    // Written once: the same path again.
    expect(tiedTemporalCli(cli)).toBe(tied);
  });

  it('goes under the temp directory where the CLI’s own cannot take it', () => {
    const tied = tiedTemporalCli('/nonexistent-dyff-dir/temporal');
    expect(tied.startsWith(join(tmpdir(), 'dyff-temporal-'))).toBe(true);
    accessSync(tied, constants.X_OK);
  });
});
