import { ApiException, KubeConfig } from '@kubernetes/client-node';

/** Shared by the Kubernetes job and session runners. */

export function isCode(err: unknown, code: number): boolean {
  return err instanceof ApiException && err.code === code;
}

/** A KubeConfig, a kubeconfig path, or nothing for in-cluster / $KUBECONFIG. */
export function toKubeConfig(k?: KubeConfig | string): KubeConfig {
  if (k instanceof KubeConfig) return k;
  const kc = new KubeConfig();
  if (typeof k === 'string') kc.loadFromFile(k);
  else kc.loadFromDefault();
  return kc;
}
