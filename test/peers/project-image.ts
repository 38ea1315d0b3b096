import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PeerError } from './peer-error.ts';

const run = promisify(execFile);
const IMAGE_SCRIPT = fileURLToPath(new URL('../../scripts/image/build.sh', import.meta.url));

/**
 * The project's image as `npm run image` builds it (scripts/image/build.sh, into the machine's containers-storage),
 * written to `dir` as an OCI archive a node's containerd imports. The build is cached by buildah's layers.
 */
export async function exportProjectImage(dir: string): Promise<{ reference: string; archive: string }> {
  let reference: string | undefined;
  try {
    const { stdout } = await run('bash', [IMAGE_SCRIPT], { maxBuffer: 64 * 1024 * 1024 });
    reference = /^image=(.+)$/m.exec(stdout)?.[1];
  } catch (error) {
    const stderr = ((error as { stderr?: string }).stderr ?? '').trimEnd().split('\n').slice(-20).join('\n');
    throw new PeerError('project image', `npm run image failed:\n${stderr}`, { cause: error });
  }
  if (reference === undefined) throw new PeerError('project image', `${IMAGE_SCRIPT} printed no image=`);
  const archive = join(dir, 'project-image.tar');
  try {
    await run('buildah', ['push', '--quiet', reference, `oci-archive:${archive}:${reference}`]);
  } catch (error) {
    throw new PeerError('project image', `buildah could not export ${reference}`, { cause: error });
  }
  return { reference, archive };
}
