import { AgentEnv } from '@remediation/agent';
import { BaseEnv } from '@remediation/config';
import { RegistryEnv, checkRegistryCredentials } from '@remediation/ecosystems';
import { z } from 'zod';

/**
 * Environment of the patcher: the base service settings, the code-fix agent's (`AgentEnv`) and
 * the registry settings it shares with the planner (`RegistryEnv`: lockfile updates read npm
 * packuments and Cargo index records).
 */
export const PatcherEnv = BaseEnv.extend(AgentEnv.shape).extend(RegistryEnv.shape).superRefine(checkRegistryCredentials);
export type PatcherEnv = z.infer<typeof PatcherEnv>;
