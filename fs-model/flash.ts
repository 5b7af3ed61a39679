/**
 * The module's flash file system as pure storage (no AT knowledge): names, directories,
 * capacity, and writes that survive a kill at any instant. On disk it is a directory (the
 * image root, `<dataDir>/flash`); without a data directory it is a map in memory with the same
 * behaviour.
 *
 * Space is charged the way the module's block file system charges it (see FLASH_BLOCK_SIZE):
 * in whole blocks, with a block for every file and directory before any content, so the number
 * of entries is bounded by the capacity and so is what the image costs the host.
 *
 * Names come from the serial side, so they are treated as hostile: a name is parsed into
 * segments of a safe character set before anything touches the host, every host path is
 * checked to stay under the root, and symlinks inside the image are refused.
 */
import { constants, closeSync, fstatSync, lstatSync, mkdirSync, openSync, readSync, readdirSync, realpathSync, rmdirSync, unlinkSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { atomicWriteFileSync, syncDir } from './atomic.js';

export type FlashErrorCode =
  /** The name is outside the safe set (the AT layer answers 765). */
  | 'bad-name'
  | 'not-found'
  | 'not-dir'
  | 'is-dir'
  | 'exists'
  | 'not-empty'
  | 'no-space'
  /** Something on the host side is not what the image allows (a symlink, a device file). */
  | 'unsafe';

export class FlashError extends Error {
  constructor(
    readonly code: FlashErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'FlashError';
  }
}

export interface FlashOptions {
  /**
   * Bytes of flash the file system can allocate (profile `fsCapacity`); only whole blocks of it
   * are usable, which is what an empty image's AT+FSMEM reports.
   */
  capacity: number;
  /** Longest name as given, in bytes (profile `fsNameMax`). */
  nameMax: number;
  /** Allocation unit in bytes; FLASH_BLOCK_SIZE unless a profile says otherwise. */
  blockSize?: number;
}

/**
 * The Air724UG (RDA8910 / UNISOC 8910) keeps its user files on SFFS, the vendor's block file
 * system over a flash block device: the 8910 SDK's fs_mount.c mounts `TYPE_SFFS` on an
 * `FBD1`/`FBD2` flash block device at "/" (CONFIG_FS_SYS_MOUNT_POINT), and sffs.h documents
 * ENOSPC for `sffsMkDir` and `sffsOpen(O_CREAT)` and a `sffsFileBlockNeeded()` that turns a file
 * size into a block count. So every entry costs blocks and content is counted in whole blocks.
 * The logical block size itself comes from the partition table, which was not at hand: 512 bytes
 * is an assumption, not a measurement on a module, hence the `blockSize` option.
 */
export const FLASH_BLOCK_SIZE = 512;
/**
 * Blocks a file holds before its first byte (its header: name, size, block list). This is what
 * makes an empty file cost flash; content then takes whole blocks of its own.
 */
export const FILE_HEADER_BLOCKS = 1;
/** Blocks a directory holds: the block its entries live in. The root is part of the format. */
export const DIR_BLOCKS = 1;

/** Whole blocks for `size` bytes of content. */
function contentBlocks(size: number, blockSize: number): number {
  return Math.ceil(size / blockSize);
}

/** What a file of `size` bytes holds: its header and its content. */
function fileBlocks(size: number, blockSize: number): number {
  return FILE_HEADER_BLOCKS + contentBlocks(size, blockSize);
}

/** Every entry under the root: the number of directories and each file's size. */
interface Census {
  dirs: number;
  fileSizes: number[];
}

export interface FlashEntry {
  name: string;
  dir: boolean;
  size: number;
}

export type WriteMode = 'replace' | 'append';

/** A parsed module path: segments under the image root (empty = the root). */
export interface FlashPath {
  readonly segments: readonly string[];
}

/**
 * One segment: printable ASCII without the characters host file systems or the path syntax
 * give a meaning to. A leading `.` is refused: it rules out `.`/`..` and keeps the names of the
 * atomic writer's temp files (`.<name>.<pid>.<n>.tmp`) out of the module's name space.
 */
const SEGMENT = /^[^.\x00-\x20\x7f-\uffff\\/:*?"<>|][^\x00-\x1f\x7f-\uffff\\/:*?"<>|]*$/;
const TEMP_FILE = /^\..+\.(\d+)\.\d+\.tmp$/;

/**
 * Module paths: `name`, `/name`, `/dir/name`, `C:/name`, `C:/USER/FTP/name` (drive C is the
 * local flash). Returns undefined for anything outside the safe set.
 */
export function parseFlashPath(name: string, nameMax: number): FlashPath | undefined {
  // AT lines are bytes read as latin1, so length is the byte count
  if (name.length === 0 || name.length > nameMax) return undefined;
  let rest = name;
  if (/^[cC]:/.test(rest)) {
    rest = rest.slice(2);
    if (rest !== '' && !rest.startsWith('/')) return undefined;
  }
  const segments = rest.split('/');
  // one leading and one trailing slash are allowed; empty segments inside are not
  if (segments[0] === '') segments.shift();
  if (segments.length > 0 && segments[segments.length - 1] === '') segments.pop();
  for (const s of segments) if (!SEGMENT.test(s)) return undefined;
  return { segments };
}

export function formatFlashPath(p: FlashPath): string {
  return '/' + p.segments.join('/');
}

type Kind = 'file' | 'dir';

/** Storage under the image semantics; paths are already validated. */
interface Backend {
  kind(segs: readonly string[]): Kind | undefined;
  size(segs: readonly string[]): number;
  read(segs: readonly string[]): Uint8Array;
  /** Whole-file replace; atomic across a kill on disk. */
  write(segs: readonly string[], data: Uint8Array): void;
  unlink(segs: readonly string[]): void;
  mkdir(segs: readonly string[]): void;
  rmdir(segs: readonly string[]): void;
  list(segs: readonly string[]): FlashEntry[];
  /** Every visible entry below the root, to charge an image that already exists. */
  census(): Census;
}

class MemoryBackend implements Backend {
  private readonly files = new Map<string, Uint8Array>();
  private readonly dirs = new Set<string>(['']);
  private key = (segs: readonly string[]): string => segs.join('/');

  kind(segs: readonly string[]): Kind | undefined {
    const k = this.key(segs);
    if (this.dirs.has(k)) return 'dir';
    return this.files.has(k) ? 'file' : undefined;
  }
  size(segs: readonly string[]): number {
    return this.files.get(this.key(segs))?.length ?? 0;
  }
  read(segs: readonly string[]): Uint8Array {
    return this.files.get(this.key(segs))?.slice() ?? new Uint8Array(0);
  }
  write(segs: readonly string[], data: Uint8Array): void {
    this.files.set(this.key(segs), data.slice());
  }
  unlink(segs: readonly string[]): void {
    this.files.delete(this.key(segs));
  }
  mkdir(segs: readonly string[]): void {
    this.dirs.add(this.key(segs));
  }
  rmdir(segs: readonly string[]): void {
    this.dirs.delete(this.key(segs));
  }
  list(segs: readonly string[]): FlashEntry[] {
    const prefix = segs.length ? this.key(segs) + '/' : '';
    const out: FlashEntry[] = [];
    const direct = (k: string): string | undefined => {
      if (!k.startsWith(prefix) || k === '') return undefined;
      const rest = k.slice(prefix.length);
      return rest !== '' && !rest.includes('/') ? rest : undefined;
    };
    for (const d of this.dirs) {
      const n = direct(d);
      if (n !== undefined) out.push({ name: n, dir: true, size: 0 });
    }
    for (const [f, data] of this.files) {
      const n = direct(f);
      if (n !== undefined) out.push({ name: n, dir: false, size: data.length });
    }
    return out;
  }
  census(): Census {
    return { dirs: this.dirs.size - 1, fileSizes: [...this.files.values()].map((d) => d.length) };
  }
}

class DiskBackend implements Backend {
  readonly root: string;

  constructor(root: string) {
    mkdirSync(root, { recursive: true });
    // the root itself may be reached through a symlink the user chose; inside it, none
    this.root = realpathSync(root);
    this.removeStaleTemps(this.root);
  }

  /** Host path of a validated path, after checking every component on the way. */
  private host(segs: readonly string[]): string {
    const p = resolve(this.root, ...segs);
    if (p !== this.root && !p.startsWith(this.root + sep)) throw new FlashError('unsafe', 'path leaves the image');
    let cur = this.root;
    for (let i = 0; i < segs.length; i++) {
      cur = join(cur, segs[i]!);
      const st = lstatSync(cur, { throwIfNoEntry: false });
      if (!st) break;
      if (st.isSymbolicLink()) throw new FlashError('unsafe', 'symlink inside the image');
      if (!st.isFile() && !st.isDirectory()) throw new FlashError('unsafe', 'not a file or directory');
      if (st.isFile() && i < segs.length - 1) throw new FlashError('not-dir', `/${segs.slice(0, i + 1).join('/')} is a file`);
    }
    return p;
  }

  kind(segs: readonly string[]): Kind | undefined {
    const st = lstatSync(this.host(segs), { throwIfNoEntry: false });
    if (!st) return undefined;
    return st.isDirectory() ? 'dir' : 'file';
  }
  size(segs: readonly string[]): number {
    return lstatSync(this.host(segs)).size;
  }
  read(segs: readonly string[]): Uint8Array {
    const fd = openSync(this.host(segs), constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const size = fstatSync(fd).size;
      const buf = Buffer.alloc(size);
      let off = 0;
      while (off < size) {
        const n = readSync(fd, buf, off, size - off, off);
        if (n === 0) break;
        off += n;
      }
      return buf.subarray(0, off);
    } finally {
      closeSync(fd);
    }
  }
  write(segs: readonly string[], data: Uint8Array): void {
    atomicWriteFileSync(this.host(segs), data);
  }
  unlink(segs: readonly string[]): void {
    const p = this.host(segs);
    unlinkSync(p);
    syncDir(join(p, '..'));
  }
  mkdir(segs: readonly string[]): void {
    const p = this.host(segs);
    mkdirSync(p);
    syncDir(join(p, '..'));
  }
  rmdir(segs: readonly string[]): void {
    const p = this.host(segs);
    rmdirSync(p);
    syncDir(join(p, '..'));
  }
  list(segs: readonly string[]): FlashEntry[] {
    const dir = this.host(segs);
    const out: FlashEntry[] = [];
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      // temp files of an interrupted write, and anything a host user put there with a name the
      // module could not have, stay invisible
      if (!SEGMENT.test(e.name)) continue;
      if (e.isDirectory()) out.push({ name: e.name, dir: true, size: 0 });
      else if (e.isFile()) out.push({ name: e.name, dir: false, size: lstatSync(join(dir, e.name)).size });
    }
    return out;
  }
  census(): Census {
    const out: Census = { dirs: 0, fileSizes: [] };
    // the same entries list() shows: a temp file or a host-made name is no module entry
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (!SEGMENT.test(e.name)) continue;
        if (e.isDirectory()) {
          out.dirs++;
          walk(join(dir, e.name));
        } else if (e.isFile()) out.fileSizes.push(lstatSync(join(dir, e.name)).size);
      }
    };
    walk(this.root);
    return out;
  }

  /** Temp files left by a killed writer (this process's own, or a dead process's). */
  private removeStaleTemps(dir: string): void {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory() && SEGMENT.test(e.name)) this.removeStaleTemps(p);
      const m = TEMP_FILE.exec(e.name);
      if (m && e.isFile() && !processAlive(Number(m[1]))) unlinkSync(p);
    }
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class FlashImage {
  readonly capacity: number;
  readonly nameMax: number;
  readonly blockSize: number;
  /** Blocks the file system can allocate: the whole blocks of `capacity`. */
  readonly totalBlocks: number;
  /** Host directory of the image; undefined for the in-memory image. */
  readonly root: string | undefined;
  private readonly backend: Backend;
  /**
   * Blocks held by entries, kept in step with every change instead of recounted: a recount
   * walks the whole tree, and a host filling the image would pay it once per command.
   */
  private usedBlocks: number;

  private constructor(backend: Backend, root: string | undefined, opts: FlashOptions) {
    const blockSize = opts.blockSize ?? FLASH_BLOCK_SIZE;
    this.backend = backend;
    this.root = root;
    this.capacity = opts.capacity;
    this.nameMax = opts.nameMax;
    this.blockSize = blockSize;
    this.totalBlocks = Math.floor(opts.capacity / blockSize);
    // an image written before entries were charged (or by a host user) may hold more than fits:
    // it then reports no space until enough is deleted, and nothing new is allocated
    const { dirs, fileSizes } = backend.census();
    this.usedBlocks = dirs * DIR_BLOCKS + fileSizes.reduce((n, size) => n + fileBlocks(size, blockSize), 0);
  }

  /** The image in directory `root` (created if needed), or in memory when `root` is undefined. */
  static open(root: string | undefined, opts: FlashOptions): FlashImage {
    // before the disk backend creates the root: a bad profile must not leave a directory behind
    const blockSize = opts.blockSize ?? FLASH_BLOCK_SIZE;
    if (!Number.isSafeInteger(blockSize) || blockSize < 1) throw new RangeError(`block size ${blockSize} is not a positive integer`);
    if (!Number.isSafeInteger(opts.capacity) || opts.capacity < 0) throw new RangeError(`capacity ${opts.capacity} is not a byte count`);
    if (root === undefined) return new FlashImage(new MemoryBackend(), undefined, opts);
    const disk = new DiskBackend(root);
    return new FlashImage(disk, disk.root, opts);
  }

  /** Parse a module path; throws `bad-name`. */
  path(name: string): FlashPath {
    const p = parseFlashPath(name, this.nameMax);
    if (!p) throw new FlashError('bad-name', `bad name ${JSON.stringify(name)}`);
    return p;
  }

  private filePath(name: string): readonly string[] {
    const p = this.path(name);
    if (p.segments.length === 0) throw new FlashError('is-dir', 'the root is a directory');
    return p.segments;
  }

  private requireParentDir(segs: readonly string[]): void {
    const parent = segs.slice(0, -1);
    const k = this.backend.kind(parent);
    if (k === undefined) throw new FlashError('not-found', `no directory /${parent.join('/')}`);
    if (k !== 'dir') throw new FlashError('not-dir', `/${parent.join('/')} is a file`);
  }

  private requireFile(segs: readonly string[]): void {
    const k = this.backend.kind(segs);
    if (k === undefined) throw new FlashError('not-found', `no file /${segs.join('/')}`);
    if (k === 'dir') throw new FlashError('is-dir', `/${segs.join('/')} is a directory`);
  }

  /** Throws `no-space` unless `blocks` more (negative: fewer) fit; the one test for every allocation. */
  private requireBlocks(blocks: number, what: string): void {
    const after = this.usedBlocks + blocks;
    if (blocks > 0 && after > this.totalBlocks) {
      throw new FlashError('no-space', `${what} needs ${after} of ${this.totalBlocks} blocks of ${this.blockSize} bytes`);
    }
  }

  private charge(blocks: number): void {
    // a host user may have shrunk or removed entries behind the image's back; never below empty
    this.usedBlocks = Math.max(0, this.usedBlocks + blocks);
  }

  exists(name: string): Kind | undefined {
    return this.backend.kind(this.path(name).segments);
  }

  /** Create an empty file; an existing file keeps its content (and costs nothing more). */
  create(name: string): void {
    const segs = this.filePath(name);
    const k = this.backend.kind(segs);
    if (k === 'file') return;
    if (k === 'dir') throw new FlashError('is-dir', `/${segs.join('/')} is a directory`);
    this.requireParentDir(segs);
    this.requireBlocks(FILE_HEADER_BLOCKS, `/${segs.join('/')}`);
    this.backend.write(segs, new Uint8Array(0));
    this.charge(FILE_HEADER_BLOCKS);
  }

  /** Blocks the content of an existing file changes by when `length` bytes are written. */
  private writeDelta(segs: readonly string[], length: number, mode: WriteMode): number {
    const old = this.backend.size(segs);
    const after = mode === 'replace' ? length : old + length;
    return contentBlocks(after, this.blockSize) - contentBlocks(old, this.blockSize);
  }

  /** Throws what `write` would throw for `length` bytes, without writing. */
  checkWrite(name: string, length: number, mode: WriteMode): void {
    const segs = this.filePath(name);
    this.requireFile(segs);
    this.requireBlocks(this.writeDelta(segs, length, mode), `/${segs.join('/')}`);
  }

  /** Replace the content, or append to it; the file must exist. All or nothing. */
  write(name: string, data: Uint8Array, mode: WriteMode): void {
    this.checkWrite(name, data.length, mode);
    const segs = this.filePath(name);
    const delta = this.writeDelta(segs, data.length, mode);
    if (mode === 'replace') this.backend.write(segs, data);
    else this.backend.write(segs, Buffer.concat([this.backend.read(segs), data]));
    this.charge(delta);
  }

  /** Up to `length` bytes from `offset` (the whole file by default). */
  read(name: string, offset = 0, length = Infinity): Uint8Array {
    const segs = this.filePath(name);
    this.requireFile(segs);
    const all = this.backend.read(segs);
    return all.subarray(Math.min(offset, all.length), Math.min(all.length, offset + length));
  }

  size(name: string): number {
    const segs = this.filePath(name);
    this.requireFile(segs);
    return this.backend.size(segs);
  }

  /** Delete a file; its header and content blocks are free again. */
  delete(name: string): void {
    const segs = this.filePath(name);
    this.requireFile(segs);
    const blocks = fileBlocks(this.backend.size(segs), this.blockSize);
    this.backend.unlink(segs);
    this.charge(-blocks);
  }

  mkdir(name: string): void {
    const segs = this.filePath(name);
    if (this.backend.kind(segs) !== undefined) throw new FlashError('exists', `/${segs.join('/')} exists`);
    this.requireParentDir(segs);
    this.requireBlocks(DIR_BLOCKS, `/${segs.join('/')}`);
    this.backend.mkdir(segs);
    this.charge(DIR_BLOCKS);
  }

  /** Remove an empty directory; its block is free again. */
  rmdir(name: string): void {
    const segs = this.filePath(name);
    const k = this.backend.kind(segs);
    if (k === undefined) throw new FlashError('not-found', `no directory /${segs.join('/')}`);
    if (k !== 'dir') throw new FlashError('not-dir', `/${segs.join('/')} is a file`);
    if (this.backend.list(segs).length > 0) throw new FlashError('not-empty', `/${segs.join('/')} is not empty`);
    this.backend.rmdir(segs);
    this.charge(-DIR_BLOCKS);
  }

  /** Entries of a directory, sorted by name (byte order). */
  list(name = '/'): FlashEntry[] {
    const segs = this.path(name).segments;
    const k = this.backend.kind(segs);
    if (k === undefined) throw new FlashError('not-found', `no directory /${segs.join('/')}`);
    if (k !== 'dir') throw new FlashError('not-dir', `/${segs.join('/')} is a file`);
    return this.backend.list(segs).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Bytes of flash the entries hold, in whole blocks (headers, directories and content). */
  used(): number {
    return this.usedBlocks * this.blockSize;
  }

  /** Bytes of whole free blocks: what AT+FSMEM reports. */
  free(): number {
    return Math.max(0, this.totalBlocks - this.usedBlocks) * this.blockSize;
  }
}
