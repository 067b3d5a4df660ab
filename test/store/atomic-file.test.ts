import { jest } from '@jest/globals';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  ensureStateDir,
  readJsonFile,
  readPrivateFile,
  removeOrphanedTempFiles,
  shellQuote,
  writeFileAtomic,
  writeNewPrivateFile,
} from '../../src/store/atomic-file.js';
import { StateError } from '../../src/errors.js';
import { caught, modeOf, removeTree, tempRoot } from './support/helpers.js';

let root: string;
let dir: string;
beforeEach(async () => {
  root = await tempRoot();
  dir = path.join(root, 'state');
});
afterEach(async () => {
  jest.restoreAllMocks();
  await removeTree(root);
});

describe('ensureStateDir', () => {
  it('creates the directory 0700', async () => {
    await ensureStateDir(dir);
    expect(await modeOf(dir)).toBe(0o700);
  });

  it('refuses a directory others can read, naming the exact chmod', async () => {
    await fs.mkdir(dir, { mode: 0o755 });
    await fs.chmod(dir, 0o755);
    const error = await caught(() => ensureStateDir(dir));
    expect(error).toBeInstanceOf(StateError);
    expect(error.code).toBe('STATE_PERMISSIONS');
    expect(error.message).toContain(dir);
    expect(error.message).toContain('0755');
    expect(error.hint).toContain(`chmod 700 ${shellQuote(dir)}`);
  });

  it('refuses a group-writable directory too', async () => {
    await fs.mkdir(dir);
    await fs.chmod(dir, 0o720);
    expect((await caught(() => ensureStateDir(dir))).code).toBe('STATE_PERMISSIONS');
  });

  it('skips the mode check on Windows, where mode bits mean nothing', async () => {
    await fs.mkdir(dir);
    await fs.chmod(dir, 0o777);
    await expect(ensureStateDir(dir, { platform: 'win32' })).resolves.toBeUndefined();
  });

  it('refuses a state directory that is a symlink', async () => {
    const real = path.join(root, 'elsewhere');
    await fs.mkdir(real, { mode: 0o700 });
    await fs.symlink(real, dir);
    const error = await caught(() => ensureStateDir(dir));
    expect(error.code).toBe('STATE_SYMLINK');
    expect(error.message).toContain(real);
  });

  it('refuses a file where the directory should be', async () => {
    await fs.writeFile(dir, 'x');
    expect((await caught(() => ensureStateDir(dir))).code).toBe('STATE_NOT_A_DIRECTORY');
  });
});

describe('writeFileAtomic', () => {
  beforeEach(() => ensureStateDir(dir));

  it('writes the content 0600 and leaves no temp file', async () => {
    const file = path.join(dir, 'state.json');
    await writeFileAtomic(file, '{"a":1}\n');
    expect(await fs.readFile(file, 'utf8')).toBe('{"a":1}\n');
    expect(await modeOf(file)).toBe(0o600);
    expect(await fs.readdir(dir)).toEqual(['state.json']);
  });

  it('replaces the whole file, never a prefix of old and new', async () => {
    const file = path.join(dir, 'state.json');
    await writeFileAtomic(file, 'x'.repeat(100_000));
    await writeFileAtomic(file, 'short');
    expect(await fs.readFile(file, 'utf8')).toBe('short');
  });

  it('keeps the old file and removes its temp file when the rename fails', async () => {
    const file = path.join(dir, 'state.json');
    await writeFileAtomic(file, 'old');
    const rename = jest
      .spyOn(fs, 'rename')
      .mockRejectedValueOnce(Object.assign(new Error('disk gone'), { code: 'EIO' }));
    const error = await caught(() => writeFileAtomic(file, 'new'));
    expect(rename).toHaveBeenCalledTimes(1);
    expect(error.code).toBe('STATE_UNWRITABLE');
    expect(await fs.readFile(file, 'utf8')).toBe('old');
    expect(await fs.readdir(dir)).toEqual(['state.json']);
  });

  it('writes the temp file completely and fsyncs it before it takes the name, then fsyncs the directory', async () => {
    const file = path.join(dir, 'state.json');
    const events: string[] = [];
    const probe = await fs.open(path.join(root, 'probe'), 'w');
    const fileHandleProto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
    await probe.close();
    const realSync = fileHandleProto.sync;
    jest.spyOn(fileHandleProto, 'sync').mockImplementation(async function (this: any) {
      events.push('fsync');
      return realSync.call(this);
    });
    const realRename = fs.rename.bind(fs);
    jest.spyOn(fs, 'rename').mockImplementation(async (from, to) => {
      // What a crash at this instant would leave under the temp name:
      events.push(`rename ${path.basename(String(from))} holding ${JSON.stringify(await fs.readFile(from, 'utf8'))}`);
      return realRename(from, to);
    });
    await writeFileAtomic(file, 'complete content');
    expect(events).toHaveLength(3);
    expect(events[0]).toBe('fsync');
    expect(events[1]).toMatch(/^rename \.state\.json\.tmp-[0-9a-f]{12} holding "complete content"$/);
    expect(events[2]).toBe('fsync'); // the directory, so the rename survives a power loss
  });

  it('refuses to write through a symlink and leaves its target alone', async () => {
    const target = path.join(root, 'victim');
    await fs.writeFile(target, 'precious');
    const file = path.join(dir, 'state.json');
    await fs.symlink(target, file);
    const error = await caught(() => writeFileAtomic(file, 'overwrite'));
    expect(error.code).toBe('STATE_SYMLINK');
    expect(error.hint).toContain('rm');
    expect(await fs.readFile(target, 'utf8')).toBe('precious');
    expect((await fs.lstat(file)).isSymbolicLink()).toBe(true);
  });

  it('refuses to replace a file that others can read', async () => {
    const file = path.join(dir, 'state.json');
    await fs.writeFile(file, 'x', { mode: 0o644 });
    await fs.chmod(file, 0o644);
    const error = await caught(() => writeFileAtomic(file, 'y'));
    expect(error.code).toBe('STATE_PERMISSIONS');
    expect(error.hint).toContain(`chmod 600 ${shellQuote(file)}`);
  });
});

describe('reading', () => {
  beforeEach(() => ensureStateDir(dir));

  it('returns undefined for a missing file', async () => {
    expect(await readJsonFile(path.join(dir, 'none.json'))).toBeUndefined();
    expect(await readPrivateFile(path.join(dir, 'none.json'))).toBeUndefined();
  });

  it('parses JSON', async () => {
    const file = path.join(dir, 'x.json');
    await writeFileAtomic(file, '{"b":[1,2]}');
    expect(await readJsonFile(file)).toEqual({ b: [1, 2] });
  });

  it('names the file when it is not JSON', async () => {
    const file = path.join(dir, 'x.json');
    await writeFileAtomic(file, '{"b":[1,');
    const error = await caught(() => readJsonFile(file));
    expect(error.code).toBe('STATE_CORRUPT');
    expect(error.message).toContain(file);
  });

  it('refuses a symlinked file', async () => {
    const target = path.join(root, 'other.json');
    await fs.writeFile(target, '{}', { mode: 0o600 });
    const file = path.join(dir, 'x.json');
    await fs.symlink(target, file);
    expect((await caught(() => readJsonFile(file))).code).toBe('STATE_SYMLINK');
  });

  it('refuses a world-readable file', async () => {
    const file = path.join(dir, 'x.json');
    await fs.writeFile(file, '{}');
    await fs.chmod(file, 0o604);
    expect((await caught(() => readJsonFile(file))).code).toBe('STATE_PERMISSIONS');
  });
});

describe('helpers', () => {
  beforeEach(() => ensureStateDir(dir));

  it('removeOrphanedTempFiles removes only the temp files of that target', async () => {
    const file = path.join(dir, 'state.json');
    await fs.writeFile(path.join(dir, '.state.json.tmp-aaaaaaaaaaaa'), '{"trunc', { mode: 0o600 });
    await fs.writeFile(path.join(dir, '.audit.jsonl.head.tmp-bbbbbbbbbbbb'), 'x', { mode: 0o600 });
    await fs.writeFile(file, '{}', { mode: 0o600 });
    const removed = await removeOrphanedTempFiles(file);
    expect(removed.map((p) => path.basename(p))).toEqual(['.state.json.tmp-aaaaaaaaaaaa']);
    expect((await fs.readdir(dir)).sort()).toEqual(['.audit.jsonl.head.tmp-bbbbbbbbbbbb', 'state.json']);
  });

  it('writeNewPrivateFile never overwrites: it picks the next free name', async () => {
    const base = path.join(dir, 'copy');
    const first = await writeNewPrivateFile(base, 'one');
    const second = await writeNewPrivateFile(base, 'two');
    expect(first).toBe(base);
    expect(second).toBe(`${base}-1`);
    expect(await fs.readFile(first, 'utf8')).toBe('one');
    expect(await fs.readFile(second, 'utf8')).toBe('two');
    expect(await modeOf(second)).toBe(0o600);
  });

  it('shellQuote quotes what a shell would split or expand', () => {
    expect(shellQuote('/home/a/.local/state/ociaccess')).toBe('/home/a/.local/state/ociaccess');
    expect(shellQuote("/tmp/it's here")).toBe(`'/tmp/it'\\''s here'`);
  });
});
