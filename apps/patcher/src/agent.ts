import { AgentEnv } from '@remediation/agent';
import { BaseEnv } from '@remediation/config';
import { z } from 'zod';

/** Environment of the patcher: the base service settings plus the code-fix agent's (`AgentEnv`). */
export const PatcherEnv = BaseEnv.extend(AgentEnv.shape);
export type PatcherEnv = z.infer<typeof PatcherEnv>;
