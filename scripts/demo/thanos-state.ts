// What the controller published, read back with client-node the way a user would check it.
import type { KubeConfig } from '@kubernetes/client-node';
import {
  HASH_ANNOTATION,
  readConfigMap,
  readDeployment,
  SD_KEY,
  templateHash,
  THANOS_CONFIGMAP,
  THANOS_DEPLOYMENT,
} from '../../test/support/thanos.ts';

export interface ThanosState {
  /** The file_sd text in the ConfigMap; undefined while there is no ConfigMap. */
  fileSd: string | undefined;
  /** The hash the controller stamped on the ConfigMap for that text. */
  configMapHash: string | undefined;
  /** The same hash in the Deployment's pod template: a new value there starts a rolling update. */
  templateHash: string | undefined;
  generation: number | undefined;
}

export async function readThanosState(kubeConfig: KubeConfig, namespace: string): Promise<ThanosState> {
  const [configMap, deployment] = await Promise.all([readConfigMap(kubeConfig, namespace), readDeployment(kubeConfig, namespace)]);
  return {
    fileSd: configMap?.data?.[SD_KEY],
    configMapHash: configMap?.metadata?.annotations?.[HASH_ANNOTATION],
    templateHash: templateHash(deployment),
    generation: deployment?.metadata?.generation,
  };
}

/** The ConfigMap and the rollout agree: the pods were told to restart for exactly the text that is published. */
export function settled(state: ThanosState): boolean {
  return state.fileSd !== undefined && state.templateHash !== undefined && state.templateHash === state.configMapHash;
}

export function describeThanosState(state: ThanosState, namespace: string): string {
  return [
    `ConfigMap ${namespace}/${THANOS_CONFIGMAP}, key ${SD_KEY}:`,
    ...(state.fileSd ?? '(none)\n')
      .replace(/\n$/, '')
      .split('\n')
      .map((line) => `  ${line}`),
    `Deployment ${namespace}/${THANOS_DEPLOYMENT}, pod template annotation (generation ${state.generation ?? '?'}):`,
    `  ${HASH_ANNOTATION}: ${state.templateHash ?? '(none)'}`,
  ].join('\n');
}
