/**
 * The flash file system commands (manual chapter 11; behaviour §20–22) over the FlashImage of
 * fs-model/. A name outside the safe set answers 765; a well-formed request the image cannot
 * honour (missing file or directory, no space, not empty) answers 767.
 */
import { join } from 'node:path';
import { command, CommandContext, CommandSpec, switchCommand } from '../commands.js';
import { sec } from '../kernel.js';
import type { FlashFiles } from '../ports.js';
import { CommandGroup, Service, ServiceEnv, TimerSet } from '../service.js';
import { FlashError, FlashImage, WriteMode } from '../../fs-model/flash.js';
import { enumParam, intParam, stringParam, type StringSpec } from '../../protocol/params.js';
import { CmeCode } from '../../protocol/errors.js';

/**
 * `<inputtime>` may be up to 4294967295 s, far past what integer-nanosecond model time holds
 * exactly (2^53 ns ≈ 104 days); 30 days is forever for a host typing a file.
 */
const MAX_INPUT_TIME_S = 30 * 86_400;

export class FsService implements Service, FlashFiles {
  readonly name = 'fs';
  readonly commands: readonly CommandSpec[];
  /** The image: survives reboot (RAM state here is only FSREADHEAD). */
  readonly flash: FlashImage;
  private readonly timers: TimerSet;
  /** AT+FSREADHEAD: FSREAD prints a `+FSREAD: <len>` line before the data. */
  private readHead = false;

  constructor(private readonly env: ServiceEnv) {
    const { limits } = env.profile;
    this.flash = FlashImage.open(env.dataDir === undefined ? undefined : join(env.dataDir, 'flash'), {
      capacity: limits.fsCapacity,
      nameMax: limits.fsNameMax,
    });
    this.timers = new TimerSet(env.kernel);
    this.commands = this.declare();
  }

  read(name: string): Uint8Array {
    return this.flash.read(name);
  }

  powerOn(): void {
    this.readHead = false;
  }

  powerOff(): void {
    // a write whose bytes arrived but whose commit had not run yet is lost, as by a power cut
    this.timers.cancelAll();
  }

  /** Answer a failed flash operation: 765 for a bad name, 767 for everything else. */
  private fail(ctx: CommandContext, err: unknown): void {
    if (err instanceof FlashError) {
      this.env.log.debug({ cmd: ctx.name, code: err.code, reason: err.message }, 'flash refused');
      return ctx.cme(err.code === 'bad-name' ? CmeCode.invalidInput : CmeCode.operationFailed);
    }
    // a host I/O error (permissions, disk full): the module's "operation failed"
    this.env.log.warn({ cmd: ctx.name, err }, 'flash I/O error');
    ctx.cme(CmeCode.operationFailed);
  }

  /** Run `fn`; a flash error it throws becomes the module's answer (765 / 767). */
  private guard(ctx: CommandContext, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.fail(ctx, err);
    }
  }

  private declare(): CommandSpec[] {
    const { env } = this;
    const { limits } = env.profile;
    const flash = this.flash;
    const fileName = (): StringSpec<false> => stringParam('filename', limits.fsNameMax, { minLength: 1 });
    const nl = (): string => String.fromCharCode(env.line.settings.s3, env.line.settings.s4);
    return [
      command({
        name: '+FSCREATE',
        summary: 'Create an empty file (an existing file keeps its content)',
        source: 'M p.141; behaviour §20',
        params: [fileName()],
        latency: 'fs.create',
        test: [],
        set: (ctx, [name]) => this.guard(ctx, () => {
          flash.create(name);
          ctx.ok();
        }),
      }),
      command({
        name: '+FSWRITE',
        summary: 'Write raw bytes after `>`: mode 0 replaces the content, 1 appends; TimeOut writes nothing',
        source: 'M p.142; behaviour §21',
        params: [fileName(), enumParam('mode', [0, 1]), intParam('filesize', 1, limits.fsWriteMax), intParam('inputtime', 1, 4294967295)],
        test: [],
        set: (ctx, [name, mode, size, inputTime]) => this.guard(ctx, () => {
          const file = name;
          const wmode: WriteMode = mode === 1 ? 'append' : 'replace';
          const length = size;
          // refuse before the prompt, so the host does not send bytes for nothing
          flash.checkWrite(file, length, wmode);
          ctx.rawInput({
            length,
            promptDelay: env.latency('fs.write.prompt'),
            timeout: sec(Math.min(inputTime, MAX_INPUT_TIME_S)),
            onData: (c, data) => {
              this.timers.after(
                env.latency('fs.write.commit'),
                () => {
                  try {
                    flash.write(file, data, wmode);
                    c.ok();
                  } catch (err) {
                    this.fail(c, err);
                  }
                },
                'fs-write-commit',
              );
            },
            onTimeout: (c, partial) => {
              env.log.debug({ file, expected: length, got: partial.length }, 'FSWRITE input timed out');
              c.final({ kind: 'text', text: 'TimeOut' });
            },
          });
        }),
      }),
      command({
        name: '+FSREAD',
        summary: 'Read up to <filesize> bytes: mode 0 from the start, 1 from <position>',
        source: 'M p.146',
        params: [fileName(), enumParam('mode', [0, 1]), intParam('filesize', 1, limits.fsWriteMax), intParam('position', 0, 4294967295, true)],
        latency: 'fs.read',
        test: [],
        set: (ctx, [name, mode, size, position]) => this.guard(ctx, () => {
          const file = name;
          let offset = 0;
          if (mode === 1) {
            if (position === undefined) return ctx.cme(CmeCode.invalidInput);
            offset = position;
            // the manual: the position must be inside the file
            if (offset >= flash.size(file)) return ctx.cme(CmeCode.operationFailed);
          }
          const data = flash.read(file, offset, size);
          const end = nl();
          if (this.readHead) {
            ctx.info(`+FSREAD: ${data.length}`);
            if (data.length > 0) ctx.data(Buffer.concat([data, Buffer.from(end, 'latin1')]));
          } else if (data.length > 0) {
            ctx.data(Buffer.concat([Buffer.from(end, 'latin1'), data, Buffer.from(end, 'latin1')]));
          }
          ctx.ok();
        }),
      }),
      switchCommand({
        name: '+FSREADHEAD',
        summary: 'FSREAD output with (1) or without (0) a `+FSREAD: <len>` line before the data',
        source: 'M (FSREADHEAD, EC618 ≥ V1118)',
        test: [],
        show: (v) => `+FSREADHEAD: ${v}`,
        get: () => (this.readHead ? 1 : 0),
        set: (v) => (this.readHead = v === 1),
      }),
      command({
        name: '+FSDEL',
        summary: 'Delete a file',
        source: 'M p.143',
        params: [fileName()],
        latency: 'fs.del',
        test: [],
        set: (ctx, [name]) => this.guard(ctx, () => {
          flash.delete(name);
          ctx.ok();
        }),
      }),
      command({
        name: '+FSLS',
        summary: 'List a directory (exec: the root): one name per line, directories end with `\\`',
        source: 'M p.146; G-FS',
        params: [fileName()],
        latency: 'fs.ls',
        test: [],
        exec: (ctx) => this.guard(ctx, () => this.list(ctx, '/')),
        set: (ctx, [name]) => this.guard(ctx, () => this.list(ctx, name)),
      }),
      command({
        name: '+FSFLSIZE',
        summary: 'Size of a file in bytes',
        source: 'M p.144',
        params: [fileName()],
        latency: 'fs.info',
        test: [],
        set: (ctx, [name]) => this.guard(ctx, () => {
          ctx.info(`+FSFLSIZE: ${flash.size(name)}`);
          ctx.ok();
        }),
      }),
      {
        name: '+FSMEM',
        summary: 'Free bytes of the file system: fsCapacity minus whole 512-byte blocks (a header per file, its content, one per directory)',
        source: 'M p.145; G-FS',
        latency: 'fs.info',
        test: [],
        exec: (ctx) => this.guard(ctx, () => {
          ctx.info(`+FSMEM: ${flash.free()} bytes`);
          ctx.ok();
        }),
      },
      command({
        name: '+FSDRIVE',
        summary: 'Drive letter of the local flash (only <n>=0, drive C)',
        source: 'M p.145',
        params: [intParam('n', 0, 0)],
        test: [],
        set: (ctx) => {
          ctx.info('+FSDRIVE:C');
          ctx.ok();
        },
      }),
      command({
        name: '+FSMKDIR',
        summary: 'Create a directory (its parent must exist)',
        source: 'M p.144; G-FS',
        params: [fileName()],
        latency: 'fs.mkdir',
        test: [],
        set: (ctx, [name]) => this.guard(ctx, () => {
          flash.mkdir(name);
          ctx.ok();
        }),
      }),
      command({
        name: '+FSRMDIR',
        summary: 'Remove an empty directory',
        source: 'M p.144',
        params: [fileName()],
        latency: 'fs.rmdir',
        test: [],
        set: (ctx, [name]) => this.guard(ctx, () => {
          flash.rmdir(name);
          ctx.ok();
        }),
      }),
    ];
  }

  private list(ctx: CommandContext, dir: string): void {
    for (const e of this.flash.list(dir)) ctx.info(e.dir ? `${e.name}\\` : e.name);
    ctx.ok();
  }
}

export const fsGroup: CommandGroup<FsService> = {
  name: 'fs',
  manual: ['+FSCREATE', '+FSWRITE', '+FSREAD', '+FSREADHEAD', '+FSDEL', '+FSLS', '+FSFLSIZE', '+FSMEM', '+FSDRIVE', '+FSMKDIR', '+FSRMDIR'],
  create: ({ env, ports }) => {
    const s = new FsService(env);
    ports.provide('flash', s);
    return s;
  },
};
