// The tarball reader on its own: what it accepts (npm's package/ layout, pax and GNU long names) and
// every way a hostile archive is refused, each with the message an administrator would read.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { installLimits } from '../../../runtime/install/install-errors.ts';
import { readTarball, writeArchive } from '../../../runtime/install/tar.ts';
import { tarBuffer, tgz, tmpDir } from './install-helpers.ts';

const limits = installLimits();
const read = (buf: Buffer, over = {}) => readTarball(buf, installLimits(over), 'pkg.tgz');

describe('tar reader', () => {
  it("reads an npm-style tarball, strips the shared 'package/' folder, and writes plain files", async () => {
    const archive = await read(tgz([
      { name: 'package/', type: '5' },
      { name: 'package/index.js', data: 'module.exports = 1;' },
      { name: 'package/templates/admin.html', data: '<div/>' },
      { name: 'package/configure.js', data: 'module.exports = {};' },
    ]));
    expect(archive.strippedPrefix).toBe('package');
    expect(archive.files.map((f) => f.path)).toEqual(['configure.js', 'index.js', 'templates/admin.html']);
    const dir = path.join(tmpDir('tar'), 'out');
    writeArchive(archive, dir);
    expect(fs.readFileSync(path.join(dir, 'templates/admin.html'), 'utf8')).toBe('<div/>');
    expect(fs.statSync(path.join(dir, 'index.js')).mode & 0o777).toBe(0o644);
  });

  it('keeps paths as they are when the entries share no top folder, and reads pax and GNU long names', async () => {
    const long = `${'deep/'.repeat(30)}file.js`;
    const archive = await read(tgz([
      { name: './configure.js', data: 'c' },
      { name: 'ignored-by-pax', data: 'p', pax: { path: long } },
      { name: 'ignored-by-gnu', data: 'g', gnuLongName: `gnu/${long}` },
    ]));
    expect(archive.strippedPrefix).toBeNull();
    expect(archive.files.map((f) => [f.path, f.data.toString()])).toEqual([['configure.js', 'c'], [long, 'p'], [`gnu/${long}`, 'g']]);
  });

  it('refuses a path that escapes the package folder', async () => {
    await expect(read(tgz([{ name: 'package/../../etc/cron.d/evil', data: 'x' }]))).rejects.toThrow(
      /pkg\.tgz: entry "package\/\.\.\/\.\.\/etc\/cron\.d\/evil" escapes the package folder: its path has a '\.\.' segment; nothing was installed/);
    await expect(read(tgz([{ name: 'x', data: 'x', pax: { path: 'package/a/../../../b' } }]))).rejects.toThrow(/escapes the package folder/);
    await expect(read(tgz([{ name: '/etc/passwd', data: 'x' }]))).rejects.toThrow(/entry "\/etc\/passwd" has an absolute path/);
    await expect(read(tgz([{ name: 'C:/Windows/x', data: 'x' }]))).rejects.toThrow(/drive-letter path/);
    await expect(read(tgz([{ name: 'package\\..\\x', data: 'x' }]))).rejects.toThrow(/contains a backslash/);
  });

  it('refuses symlinks, hardlinks, devices and FIFOs, naming the entry and its target', async () => {
    await expect(read(tgz([{ name: 'package/index.js', data: 'x' }, { name: 'package/config', type: '2', linkname: '/etc/shadow' }]))).rejects.toMatchObject({
      code: 'unsafe_archive',
      message: 'pkg.tgz: entry "package/config" is a symbolic link (to "/etc/shadow"); plugin packages may hold only regular files and folders; nothing was installed',
    });
    await expect(read(tgz([{ name: 'package/h', type: '1', linkname: 'package/index.js' }]))).rejects.toThrow(/entry "package\/h" is a hard link \(to "package\/index\.js"\)/);
    await expect(read(tgz([{ name: 'package/tty', type: '3' }]))).rejects.toThrow(/is a character device/);
    await expect(read(tgz([{ name: 'package/disk', type: '4' }]))).rejects.toThrow(/is a block device/);
    await expect(read(tgz([{ name: 'package/pipe', type: '6' }]))).rejects.toThrow(/is a FIFO/);
    await expect(read(tgz([{ name: 'package/sparse', type: 'S' }]))).rejects.toThrow(/tar type 'S', which is not supported/);
  });

  it('refuses a path given twice, or as both file and folder', async () => {
    await expect(read(tgz([{ name: 'package/index.js', data: 'reviewed' }, { name: 'package/index.js', data: 'swapped' }]))).rejects.toThrow(
      /entry "package\/index\.js" appears twice; a later copy would silently replace the one that was reviewed/);
    await expect(read(tgz([{ name: 'package/a', data: '1' }, { name: 'package/a/b', data: '2' }]))).rejects.toThrow(/'package\/a' is both a file and a folder/);
  });

  it('enforces the file count, file size and total size limits', async () => {
    const files = Array.from({ length: 6 }, (_, i) => ({ name: `package/f${i}.js`, data: 'x'.repeat(100) }));
    await expect(read(tgz(files), { maxFiles: 5 })).rejects.toMatchObject({ code: 'too_large', message: 'pkg.tgz: the package has more than 5 files; nothing was installed' });
    await expect(read(tgz([{ name: 'package/big.js', data: 'x'.repeat(2048) }]), { maxFileBytes: 1024 })).rejects.toThrow(
      /file "package\/big\.js" is 2048 bytes; the limit per file is 1024 bytes/);
    await expect(read(tgz(files), { maxTotalBytes: 450 })).rejects.toThrow(/the files add up to more than 450 bytes unpacked/);
    await expect(read(Buffer.alloc(64, 1), { maxTarballBytes: 32 })).rejects.toThrow(/the tarball is 64 bytes; the limit is 32 bytes/);
  });

  it('stops a decompression bomb at the ratio limit without inflating it', async () => {
    const bomb = zlib.gzipSync(tarBuffer([{ name: 'package/zeros', data: Buffer.alloc(8 * 1024 * 1024) }]));
    expect(bomb.length).toBeLessThan(20_000);
    await expect(read(bomb)).rejects.toThrow(/unpacks to more than 100 times its compressed size \(.* → over 1 MiB\): a decompression bomb/);
    // The same archive passes once the ratio allows it (and the size limits do).
    await expect(read(bomb, { maxCompressionRatio: 5000 })).resolves.toMatchObject({ files: [{ path: 'zeros' }] });
  });

  it('refuses what is not a gzip tarball, and damaged headers', async () => {
    await expect(read(Buffer.from('PK\u0003\u0004 this is a zip file, not a tgz'))).rejects.toThrow(/is not a gzip-compressed tarball \(\.tgz\)/);
    const tar = tarBuffer([{ name: 'package/index.js', data: 'x' }]);
    tar[10] ^= 0xff;
    await expect(read(zlib.gzipSync(tar))).rejects.toThrow(/corrupt tar header at byte 0: checksum mismatch/);
    const cut = tarBuffer([{ name: 'package/index.js', data: 'y'.repeat(2000) }]).subarray(0, 1024);
    await expect(read(zlib.gzipSync(cut))).rejects.toThrow(/the archive is truncated/);
    expect(limits.maxFiles).toBe(2000);
  });
});
