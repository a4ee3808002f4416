import { baseServiceConfig, requireCredentials, z } from '@workemon/config';
import { llmConfigFields } from '@workemon/llm';

export const configSchema = z
  .object({
    ...baseServiceConfig(8001),
    ...llmConfigFields,
  })
  .superRefine(requireCredentials(['SERVICE_TOKEN']));

export type Config = z.output<typeof configSchema>;
