import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../src/domain/ids.js';
import { putDataset } from '../integration/steps/helpers/evaluation.js';
import type { Listener } from './helpers/loopback.js';
import { listen } from './helpers/loopback.js';
import { stubResolver } from './helpers/resolver.js';
import type { StepBench } from './helpers/steps.js';
import { stepBench } from './helpers/steps.js';
import { installTripwire, tripped } from './helpers/tripwire.js';

/*
 * Attacks on the egress guard, through the real step programs. Nothing here sends a packet beyond loopback: names
 * are answered by a resolver stub, private addresses are refused before any socket connects, and a tripwire would
 * fail the test (instead of connecting) if one ever tried.
 */
installTripwire();

let strict: StepBench; // allowPrivateNetworks: false, the production default
let loopbackOnly: StepBench; // the tests' setting: loopback allowed, every other private range refused
let bystander: Listener;

beforeAll(async () => {
  strict = await stepBench({ allowPrivateNetworks: false });
  loopbackOnly = await stepBench({ allowPrivateNetworks: ['127.0.0.0/8'] });
  bystander = await listen();
});
afterAll(async () => {
  await bystander.close();
  await strict.cleanup();
  await loopbackOnly.cleanup();
});
afterEach(() => expect(tripped).toEqual([]));

const urlSource = (url: string) => ({ source: { kind: 'url', url, fileName: 'f.bin' } });

describe('fetch-data refuses what the guard forbids, before connecting', () => {
  it("the metadata server by address (the issue's URL)", async () => {
    const id = newId();
    const run = await strict.run('fetch-data', id, urlSource('http://169.254.169.254/computeMetadata/v1/'));
    expect(run.code).toBe(2);
    expect(run.last).toMatch(/169\.254\.169\.254.*link-local.*sources\.allowPrivateNetworks/);
    expect(await strict.keys('rawdata')).toEqual([]);
  });

  it('the metadata server as an IPv4-mapped IPv6 literal', async () => {
    const run = await strict.run('fetch-data', newId(), urlSource('http://[::ffff:169.254.169.254]/x'));
    expect(run.code).toBe(2);
    expect(run.last).toMatch(/link-local.*sources\.allowPrivateNetworks/);
  });

  it('a name that resolves to loopback: refused after DNS, and the listener standing in saw nothing', async () => {
    const resolver = stubResolver(['127.0.0.1']);
    const before = bystander.connections();
    const run = await strict.run(
      'fetch-data',
      newId(),
      urlSource(`http://files.example:${bystander.port}/f`),
      {
        resolver,
      },
    );
    expect(resolver.asked).toEqual(['files.example']);
    expect(run.code).toBe(2);
    expect(run.last).toMatch(
      /files\.example.*127\.0\.0\.1 is in 127\.0\.0\.0\/8 loopback.*allowPrivateNetworks/,
    );
    expect(bystander.connections()).toBe(before);
  });

  it('a name that resolves to a link-local address among others (rebinding-style): refused, nothing connected', async () => {
    const resolver = stubResolver(['127.0.0.1', '169.254.169.254']);
    const before = bystander.connections();
    const run = await loopbackOnly.run(
      'fetch-data',
      newId(),
      urlSource(`http://metadata.example:${bystander.port}/computeMetadata/v1/`),
      { resolver },
    );
    expect(run.code).toBe(2);
    expect(run.last).toMatch(/169\.254\.169\.254 is in 169\.254\.0\.0\/16/);
    expect(bystander.connections()).toBe(before);
  });

  it('a name that resolves to a private IPv6 address', async () => {
    const resolver = stubResolver(['127.0.0.1', 'fd00::1']);
    const run = await loopbackOnly.run(
      'fetch-data',
      newId(),
      urlSource(`http://ula.example:${bystander.port}/`),
      {
        resolver,
      },
    );
    expect(run.code).toBe(2);
    expect(run.last).toMatch(/fd00::1 is in fc00::\/7/);
  });
});

describe('redirects are checked hop by hop', () => {
  let redirector: Listener;
  beforeAll(async () => {
    redirector = await listen((req, res) => {
      const to = new URL(req.url ?? '/', 'http://x').searchParams.get('to') ?? '/';
      res.writeHead(302, { location: to }).end();
    });
  });
  afterAll(() => redirector.close());

  it.each([
    ['a private address', 'http://10.0.0.1/secret', /10\.0\.0\.1 is in 10\.0\.0\.0\/8 private/],
    ['the metadata server', 'http://169.254.169.254/computeMetadata/v1/', /169\.254\.169\.254.*link-local/],
    ['a file: URL', 'file:///etc/passwd', /refusing a file: URL/],
  ])('a loopback server redirecting to %s', async (_what, target, message) => {
    const id = newId();
    const url = `${redirector.url}/start?to=${encodeURIComponent(target)}`;
    const run = await loopbackOnly.run('fetch-data', id, urlSource(url));
    expect(run.code).toBe(2);
    expect(run.last).toMatch(message);
    expect(await loopbackOnly.keys('rawdata')).not.toContain(`${id}/files/f.bin`);
  });
});

describe('Zenodo links and the Hugging Face Hub', () => {
  it('a Zenodo record whose file link points at the metadata server', async () => {
    const zenodo = await listen((_req, res) =>
      res.setHeader('content-type', 'application/json').end(
        JSON.stringify({
          files: [
            {
              key: 'data.csv',
              size: 10,
              checksum: `md5:${'0'.repeat(32)}`,
              links: {
                self: 'http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token',
              },
            },
          ],
        }),
      ),
    );
    try {
      const id = newId();
      const run = await loopbackOnly.run('fetch-data', id, {
        source: { kind: 'zenodo', record: '1', server: zenodo.url },
      });
      expect(run.code).toBe(2);
      expect(run.last).toMatch(/169\.254\.169\.254.*allowPrivateNetworks/);
      expect(await loopbackOnly.keys('rawdata')).toEqual([]);
    } finally {
      await zenodo.close();
    }
  });

  it('a Hub whose file download redirects to a private address', async () => {
    const hub = await listen((req, res) => {
      if (req.url?.startsWith('/api/models/')) {
        res.setHeader('content-type', 'application/json');
        return res.end(JSON.stringify({ sha: 'abc', siblings: [{ rfilename: 'model.bin', size: 4 }] }));
      }
      res.writeHead(302, { location: 'http://192.168.1.1/model.bin' }).end();
    });
    const previous = process.env.HF_ENDPOINT;
    process.env.HF_ENDPOINT = hub.url;
    try {
      const id = newId();
      const run = await loopbackOnly.run('fetch-model', id, {
        source: { kind: 'huggingFaceHub', repoID: 'org/m' },
      });
      expect(run.code).toBe(2);
      expect(run.last).toMatch(/192\.168\.1\.1 is in 192\.168\.0\.0\/16 private/);
      expect(await loopbackOnly.keys('models')).toEqual([]);
    } finally {
      if (previous === undefined) delete process.env.HF_ENDPOINT;
      else process.env.HF_ENDPOINT = previous;
      await hub.close();
    }
  });

  it('a Hub dataset whose file download redirects to the metadata server, or whose listing pages elsewhere', async () => {
    const commit = 'c'.repeat(40);
    const hub = await listen((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url?.startsWith('/api/datasets/org/d/revision/'))
        return res.end(JSON.stringify({ sha: commit }));
      if (req.url?.startsWith('/api/datasets/org/d/tree/'))
        return res.end(JSON.stringify([{ type: 'file', path: 'train.csv', size: 4, oid: 'x' }]));
      if (req.url?.startsWith('/api/datasets/org/paged/revision/'))
        return res.end(JSON.stringify({ sha: commit }));
      if (req.url?.startsWith('/api/datasets/org/paged/tree/')) {
        res.setHeader('link', '<http://127.0.0.2:9/api/datasets/org/paged/tree/x?cursor=1>; rel="next"');
        return res.end(JSON.stringify([]));
      }
      res.writeHead(302, { location: 'http://169.254.169.254/train.csv' }).end();
    });
    const previous = process.env.HF_ENDPOINT;
    process.env.HF_ENDPOINT = hub.url;
    try {
      const id = newId();
      const run = await loopbackOnly.run('fetch-data', id, {
        source: { kind: 'huggingFaceHub', repoID: 'org/d' },
      });
      expect(run.code).toBe(2);
      expect(run.last).toMatch(/169\.254\.169\.254.*allowPrivateNetworks/);
      expect(await loopbackOnly.keys('rawdata')).toEqual([]);

      const paged = await loopbackOnly.run('fetch-data', newId(), {
        source: { kind: 'huggingFaceHub', repoID: 'org/paged' },
      });
      expect(paged.code).toBe(2);
      expect(paged.last).toMatch(/continues on another host \(http:\/\/127\.0\.0\.2:9\); refusing$/);
    } finally {
      if (previous === undefined) delete process.env.HF_ENDPOINT;
      else process.env.HF_ENDPOINT = previous;
      await hub.close();
    }
  });
});

describe('service endpoints', () => {
  it('build-service refuses an openai endpoint on the metadata server', async () => {
    const id = newId();
    const run = await strict.run('build-service', id, {
      runner: { kind: 'openai', endpoint: 'http://169.254.169.254/v1' },
    });
    expect(run.code).toBe(2);
    expect(run.last).toMatch(/169\.254\.169\.254.*allowPrivateNetworks/);
    expect(await strict.keys('inferenceservices')).toEqual([]);
  });

  it('build-service refuses an http endpoint whose name resolves to a private address', async () => {
    const resolver = stubResolver(['127.0.0.1', '10.1.2.3']);
    const run = await loopbackOnly.run(
      'build-service',
      newId(),
      { runner: { kind: 'http', endpoint: `http://model.internal:${bystander.port}/predict` } },
      { resolver },
    );
    expect(run.code).toBe(2);
    expect(run.last).toMatch(/10\.1\.2\.3 is in 10\.0\.0\.0\/8/);
  });

  it('the evaluation client refuses a user endpoint on a private address before any request', async () => {
    const service = {
      endpoint: 'http://10.9.8.7/predict',
      interface: { inputPipeline: [{ kind: 'TransformJSON', configuration: { text: '$.text' } }] },
    };
    const run = await strict.run(
      'evaluate',
      newId(),
      { dataset: newId(), inferenceService: newId() },
      { extra: ['--service', JSON.stringify(service)] },
    );
    expect(run.code).toBe(2);
    expect(run.last).toMatch(/10\.9\.8\.7 is in 10\.0\.0\.0\/8 private.*allowPrivateNetworks/);
  });

  it("the evaluation client checks the addresses a user endpoint's name resolves to as it connects", async () => {
    const resolver = stubResolver(['127.0.0.1']);
    const before = bystander.connections();
    const dataset = await putDataset(strict, [{ text: 'hello' }, { text: 'world' }]);
    const service = {
      endpoint: `http://model.example:${bystander.port}/predict`,
      interface: { inputPipeline: [{ kind: 'TransformJSON', configuration: { text: '$.text' } }] },
    };
    const run = await strict.run(
      'evaluate',
      newId(),
      { dataset, inferenceService: newId() },
      { resolver, extra: ['--service', JSON.stringify(service)] },
    );
    expect(resolver.asked).toContain('model.example');
    expect(run.code).toBe(2);
    expect(run.last).toMatch(
      /model\.example.*127\.0\.0\.1 is in 127\.0\.0\.0\/8 loopback.*allowPrivateNetworks/,
    );
    expect(bystander.connections()).toBe(before);
  });
});
