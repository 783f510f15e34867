import { DyffError } from '../domain/errors.js';
import type { PlanCommand } from './iam-plan.js';
import { ROLES } from './service-accounts.js';

/**
 * The `webassets` category: static files for browsers, the API docs in the deployment notes (which create its
 * bucket and grant no account on it). No step, session or worker reads or writes it, so no account of the plan
 * gets a role there; whoever publishes the docs (a person, a group, a CI account) is named to the plan, and gets
 * Object Admin on the webassets buckets alone: publishing replaces and deletes files.
 *
 *   dyffctl gcp plan --project p --webassets-publisher group:docs@example.org
 */

export const WEBASSETS_ACCOUNT = 'webassets';

const MEMBER = /^(user|group|serviceAccount|domain):[^\s,]+$/;

/** The grants of the docs publishers; each member is an IAM principal such as `group:docs@example.org`. */
export function webassetsCommands(
  project: string,
  condition: { expression: string; title: string },
  publishers: readonly string[],
): PlanCommand[] {
  return publishers.map((member) => {
    if (!MEMBER.test(member)) {
      throw new DyffError(
        'InvalidSpec',
        `--webassets-publisher: ${JSON.stringify(member)} is not an IAM member (user:, group:, serviceAccount: or domain:)`,
      );
    }
    return {
      account: WEBASSETS_ACCOUNT,
      step: 'storage',
      argv: [
        'gcloud',
        'projects',
        'add-iam-policy-binding',
        project,
        `--member=${member}`,
        `--role=${ROLES.objectAdmin}`,
        `--condition=expression=${condition.expression},title=${condition.title}`,
      ],
    };
  });
}
