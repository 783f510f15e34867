import { describe, expect, it } from 'vitest';
import { blockedRange, cidrProblem, egressRefusal } from '../../src/domain/egress.js';

describe('egress rule', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['10.1.2.3', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['100.64.1.1', 'shared'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['fe80::1%eth0', 'link-local'],
    ['fd00::1', 'unique local'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['2002:a9fe:a9fe::1', 'link-local'],
    ['::ffff:127.0.0.1', 'loopback'],
  ])('%s is blocked (%s)', (address, what) => {
    expect(blockedRange(address)).toContain(what);
  });

  it.each(['8.8.8.8', '1.1.1.1', '2606:4700::1111', '::ffff:8.8.8.8', '172.32.0.1'])('%s is public', (a) => {
    expect(blockedRange(a)).toBeUndefined();
  });

  it('an allowance lets exactly what it lists through, and names the setting when it does not', () => {
    expect(egressRefusal('127.0.0.1', ['127.0.0.0/8'])).toBeUndefined();
    expect(egressRefusal('::ffff:127.0.0.1', ['127.0.0.0/8'])).toBeUndefined();
    expect(egressRefusal('10.0.0.1', ['127.0.0.0/8'])).toMatch(/10\.0\.0\.1 .*sources\.allowPrivateNetworks/);
    expect(egressRefusal('169.254.169.254', false)).toMatch(/169\.254\.169\.254/);
    expect(egressRefusal('169.254.169.254', true)).toBeUndefined();
  });

  it('checks CIDRs given to the setting', () => {
    expect(cidrProblem('127.0.0.0/8')).toBeUndefined();
    expect(cidrProblem('::1')).toBeUndefined();
    expect(cidrProblem('10.0.0.0/33')).toMatch(/prefix/);
    expect(cidrProblem('example.org')).toMatch(/not an IP/);
  });
});
