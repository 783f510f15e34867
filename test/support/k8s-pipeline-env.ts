import { join, resolve } from 'node:path';
import type { Client } from '@temporalio/client';
import { createAdapters, type Adapters } from '../../src/adapters/index.js';
import {
  KubernetesSessionRunner,
  type SessionServiceRef,
} from '../../src/adapters/session-runner/kubernetes.js';
import { configEnv, type Config } from '../../src/config.js';
import { execSessions, execSteps } from './k8s-exec-kubelet.js';
import {
  startControlPlane,
  startNamespace,
  type ControlPlane,
  type TestNamespace,
} from './k8s-control-plane.js';
import { startWorker, temporalClient, testConfig, type RunningWorker } from './temporal.js';

const K8S_DIR = resolve(import.meta.dirname, '../../k8s');

/**
 * Whole pipelines with `runner: kubernetes`: a real apiserver and controller manager, the namespace and step
 * ServiceAccounts applied from k8s/, the exec kubelet running every step Job and session server as a real local
 * process, the embedded stores, and an in-process worker whose session runner hands out `serviceUrl(service)` as a
 * session's endpoint (the kubelet's loopback port stands in for the Service's cluster address).
 */
export interface K8sPipelineEnv {
  cp: ControlPlane;
  ns: TestNamespace;
  config: Config;
  adapters: Adapters;
  temporal: Client;
  stop(): Promise<void>;
}

export async function startK8sPipelineEnv(opts: {
  namespace: string;
  serviceUrl: (ns: TestNamespace, service: SessionServiceRef) => string;
  config?: (base: Config) => Partial<Config>;
}): Promise<K8sPipelineEnv> {
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s();
  };
  try {
    const cp = await startControlPlane({ controllerManager: true });
    stops.push(() => cp.stop());
    for (const file of ['namespace.yaml', 'step-serviceaccounts.yaml']) {
      const applied = await cp.kubectl(['apply', '-f', join(K8S_DIR, file)]);
      if (applied.stderr) throw new Error(`kubectl apply -f k8s/${file}: ${applied.stderr}`);
    }
    const ns = await startNamespace(cp, opts.namespace, {
      existing: true,
      rules: [execSteps(), execSessions()],
    });
    stops.push(() => ns.stop());
    const base = await testConfig({
      runner: 'kubernetes',
      objectStore: 'filesystem',
      entityStore: 'sqlite',
      kubernetes: { namespace: opts.namespace, image: 'dyff-temporal:test', kubeconfig: cp.kubeconfigPath },
    });
    stops.push(base.cleanup);
    const config: Config = { ...base.config, ...opts.config?.(base.config) };
    const created = await createAdapters(config);
    await created.sessionRunner.close();
    const sessionRunner = new KubernetesSessionRunner({
      namespace: opts.namespace,
      image: config.kubernetes.image,
      kubeConfig: cp.kubeConfig,
      env: configEnv(config),
      serviceUrl: (svc) => opts.serviceUrl(ns, svc),
    });
    const adapters: Adapters = {
      ...created,
      sessionRunner,
      async close() {
        await Promise.all([created.entityStore.close(), created.jobRunner.close(), sessionRunner.close()]);
      },
    };
    stops.push(() => adapters.close());
    const worker: RunningWorker = await startWorker(config, adapters);
    stops.push(() => worker.stop());
    const temporal = await temporalClient(config);
    stops.push(() => temporal.connection.close());
    return { cp, ns, config, adapters, temporal, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
