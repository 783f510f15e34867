#!/usr/bin/env node
// A stand-in step program for runner contract tests: behaviours chosen by argv, no project code loaded.
const [cmd, ...rest] = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 ? rest[i + 1] : dflt;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
process.on('SIGTERM', () => {
  console.log('received SIGTERM');
  process.exit(143);
});
switch (cmd) {
  case 'test-sleep':
    console.log(`sleeping ${arg('ms', '0')} ms`);
    await sleep(Number(arg('ms', '0')));
    console.log('done');
    break;
  case 'test-exit':
    console.log(`failing with exit code ${arg('code', '1')}`);
    process.exit(Number(arg('code', '1')));
    break;
  case 'test-print':
    for (let i = 1; i <= Number(arg('lines', '1')); i++) console.log(`line-${i}`);
    break;
  case 'test-progress': {
    const total = Number(arg('total', '3'));
    for (let i = 1; i <= total; i++) {
      console.log(`::progress::${JSON.stringify({ done: i, total, unit: 'items' })}`);
      await sleep(Number(arg('ms', '100')));
    }
    break;
  }
  case 'test-env':
    console.log(`${arg('name')}=${process.env[arg('name')] ?? ''}`);
    break;
  default:
    console.error(`unknown test step ${cmd}`);
    process.exit(64);
}
