/** `<stage>-<entity>-<try>`, lowercased: a DNS label (≤ 63 chars), so a Kubernetes Job can carry it. */
export function jobName(entityId: string, stage: string, attempt: number): string {
  const name = `${stage}-${entityId}-${attempt}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  return name.slice(0, 63);
}
