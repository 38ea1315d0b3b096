import { mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigMapVolume } from '../../peers/kubelet-volume.ts';

describe('ConfigMapVolume (the kubelet AtomicWriter layout the Thanos tests rely on)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tsd-volume-test-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the keys in one timestamped directory behind ..data, each key a link through ..data', async () => {
    const volume = new ConfigMapVolume(join(dir, 'v'));
    expect(await volume.project({ 'servicediscovery.yml': 'one\n' })).toBe(true);
    const first = await readlink(join(volume.dir, '..data'));
    expect(first).toMatch(/^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\./);
    expect(await readlink(join(volume.dir, 'servicediscovery.yml'))).toBe('..data/servicediscovery.yml');
    expect(await readFile(join(volume.dir, 'servicediscovery.yml'), 'utf8')).toBe('one\n');

    expect(await volume.project({ 'servicediscovery.yml': 'two\n', other: 'x' })).toBe(true);
    const second = await readlink(join(volume.dir, '..data'));
    expect(second).not.toBe(first);
    expect(await readFile(join(volume.dir, 'servicediscovery.yml'), 'utf8')).toBe('two\n');
    expect((await readdir(volume.dir)).sort()).toEqual(['..data', second, 'other', 'servicediscovery.yml'].sort());
  });

  it('writes nothing for the same data, and removes a key that is gone', async () => {
    const volume = new ConfigMapVolume(join(dir, 'v'));
    await volume.project({ a: '1', b: '2' });
    const target = await readlink(join(volume.dir, '..data'));
    expect(await volume.project({ b: '2', a: '1' })).toBe(false);
    expect(await readlink(join(volume.dir, '..data'))).toBe(target);
    await volume.project({ a: '1' });
    expect((await readdir(volume.dir)).filter((entry) => !entry.startsWith('..'))).toEqual(['a']);
  });
});
