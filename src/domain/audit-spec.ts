import { z } from 'zod';
import { entityId } from './spec-fields.js';

export const AuditSpec = z.strictObject({ auditProcedure: entityId, inferenceService: entityId });
