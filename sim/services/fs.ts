/**
 * The flash file system commands (manual chapter 11; decisions §20–22) over the FlashImage of
 * fs-model/. A name outside the safe set answers 765; a well-formed request the image cannot
 * honour (missing file or directory, no space, not empty) answers 767.
 */
import { join } from 'node:path';
import { CommandContext, CommandSpec, Handler } from '../commands.js';
import { sec } from '../kernel.js';
import type { Modem } from '../modem.js';
import { Service, TimerSet } from '../service.js';
import { FlashError, FlashImage, WriteMode } from '../../fs-model/flash.js';
import { intParam, stringParam, type ParamValue, type StringSpec } from '../../protocol/params.js';
import { CmeCode } from '../../protocol/errors.js';

/**
 * `<inputtime>` may be up to 4294967295 s, far past what integer-nanosecond model time holds
 * exactly (2^53 ns ≈ 104 days); 30 days is forever for a host typing a file.
 */
const MAX_INPUT_TIME_S = 30 * 86_400;

export class FsService implements Service {
  readonly name = 'fs';
  readonly commands: readonly CommandSpec[];
  /** The image: survives reboot (RAM state here is only FSREADHEAD). */
  readonly flash: FlashImage;
  private readonly timers: TimerSet;
  /** AT+FSREADHEAD: FSREAD prints a `+FSREAD: <len>` line before the data. */
  private readHead = false;

  constructor(readonly modem: Modem) {
    const { limits } = modem.profile;
    this.flash = FlashImage.open(modem.dataDir === undefined ? undefined : join(modem.dataDir, 'flash'), {
      capacity: limits.fsCapacity,
      nameMax: limits.fsNameMax,
    });
    this.timers = new TimerSet(modem.kernel);
    this.commands = this.declare();
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
      this.modem.log.debug({ cmd: ctx.name, code: err.code, reason: err.message }, 'flash refused');
      return ctx.cme(err.code === 'bad-name' ? CmeCode.invalidInput : CmeCode.operationFailed);
    }
    // a host I/O error (permissions, disk full): the module's "operation failed"
    this.modem.log.warn({ cmd: ctx.name, err }, 'flash I/O error');
    ctx.cme(CmeCode.operationFailed);
  }

  /** A handler whose flash errors become the module's answer (765 / 767). */
  private guarded(fn: Handler): Handler {
    return (ctx, values) => {
      try {
        fn(ctx, values);
      } catch (err) {
        this.fail(ctx, err);
      }
    };
  }

  private declare(): CommandSpec[] {
    const m = this.modem;
    const { limits } = m.profile;
    const flash = this.flash;
    const fileName = (): StringSpec => stringParam('filename', limits.fsNameMax, { minLength: 1 });
    const nl = (): string => String.fromCharCode(m.engine.settings.s3, m.engine.settings.s4);
    const str = (v: ParamValue): string => String(v);
    return [
      {
        name: '+FSCREATE',
        group: 'fs',
        summary: 'Create an empty file (an existing file keeps its content)',
        source: 'M p.141; decisions §20',
        params: [fileName()],
        latency: 'fs.create',
        test: [],
        set: this.guarded((ctx, [name]) => {
          flash.create(str(name));
          ctx.ok();
        }),
      },
      {
        name: '+FSWRITE',
        group: 'fs',
        summary: 'Write raw bytes after `>`: mode 0 replaces the content, 1 appends; TimeOut writes nothing',
        source: 'M p.142; decisions §21',
        params: [fileName(), intParam('mode', 0, 1), intParam('filesize', 1, limits.fsWriteMax), intParam('inputtime', 1, 4294967295)],
        test: [],
        set: this.guarded((ctx, [name, mode, size, inputTime]) => {
          const file = str(name);
          const wmode: WriteMode = mode === 1 ? 'append' : 'replace';
          const length = Number(size);
          // refuse before the prompt, so the host does not send bytes for nothing
          flash.checkWrite(file, length, wmode);
          ctx.rawInput({
            length,
            promptDelay: m.engine.latency('fs.write.prompt'),
            timeout: sec(Math.min(Number(inputTime), MAX_INPUT_TIME_S)),
            onData: (c, data) => {
              this.timers.after(
                m.engine.latency('fs.write.commit'),
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
              m.log.debug({ file, expected: length, got: partial.length }, 'FSWRITE input timed out');
              c.final({ kind: 'text', text: 'TimeOut' });
            },
          });
        }),
      },
      {
        name: '+FSREAD',
        group: 'fs',
        summary: 'Read up to <filesize> bytes: mode 0 from the start, 1 from <position>',
        source: 'M p.146',
        params: [fileName(), intParam('mode', 0, 1), intParam('filesize', 1, limits.fsWriteMax), intParam('position', 0, 4294967295, true)],
        latency: 'fs.read',
        test: [],
        set: this.guarded((ctx, [name, mode, size, position]) => {
          const file = str(name);
          let offset = 0;
          if (mode === 1) {
            if (position === undefined) return ctx.cme(CmeCode.invalidInput);
            offset = Number(position);
            // the manual: the position must be inside the file
            if (offset >= flash.size(file)) return ctx.cme(CmeCode.operationFailed);
          }
          const data = flash.read(file, offset, Number(size));
          const end = nl();
          if (this.readHead) {
            ctx.info(`+FSREAD: ${data.length}`);
            if (data.length > 0) ctx.data(Buffer.concat([data, Buffer.from(end, 'latin1')]));
          } else if (data.length > 0) {
            ctx.data(Buffer.concat([Buffer.from(end, 'latin1'), data, Buffer.from(end, 'latin1')]));
          }
          ctx.ok();
        }),
      },
      {
        name: '+FSREADHEAD',
        group: 'fs',
        summary: 'FSREAD output with (1) or without (0) a `+FSREAD: <len>` line before the data',
        source: 'M (FSREADHEAD, EC618 ≥ V1118)',
        params: [intParam('mode', 0, 1)],
        test: [],
        read: (ctx) => {
          ctx.info(`+FSREADHEAD: ${this.readHead ? 1 : 0}`);
          ctx.ok();
        },
        set: (ctx, [mode]) => {
          this.readHead = mode === 1;
          ctx.ok();
        },
      },
      {
        name: '+FSDEL',
        group: 'fs',
        summary: 'Delete a file',
        source: 'M p.143',
        params: [fileName()],
        latency: 'fs.del',
        test: [],
        set: this.guarded((ctx, [name]) => {
          flash.delete(str(name));
          ctx.ok();
        }),
      },
      {
        name: '+FSLS',
        group: 'fs',
        summary: 'List a directory (exec: the root): one name per line, directories end with `\\`',
        source: 'M p.146; G-FS',
        params: [fileName()],
        latency: 'fs.ls',
        test: [],
        exec: this.guarded((ctx) => this.list(ctx, '/')),
        set: this.guarded((ctx, [name]) => this.list(ctx, str(name))),
      },
      {
        name: '+FSFLSIZE',
        group: 'fs',
        summary: 'Size of a file in bytes',
        source: 'M p.144',
        params: [fileName()],
        latency: 'fs.info',
        test: [],
        set: this.guarded((ctx, [name]) => {
          ctx.info(`+FSFLSIZE: ${flash.size(str(name))}`);
          ctx.ok();
        }),
      },
      {
        name: '+FSMEM',
        group: 'fs',
        summary: 'Free bytes of the file system (profile fsCapacity minus file bytes)',
        source: 'M p.145; G-FS',
        latency: 'fs.info',
        test: [],
        exec: this.guarded((ctx) => {
          ctx.info(`+FSMEM: ${flash.free()} bytes`);
          ctx.ok();
        }),
      },
      {
        name: '+FSDRIVE',
        group: 'fs',
        summary: 'Drive letter of the local flash (only <n>=0, drive C)',
        source: 'M p.145',
        params: [intParam('n', 0, 0)],
        test: [],
        set: (ctx) => {
          ctx.info('+FSDRIVE:C');
          ctx.ok();
        },
      },
      {
        name: '+FSMKDIR',
        group: 'fs',
        summary: 'Create a directory (its parent must exist)',
        source: 'M p.144; G-FS',
        params: [fileName()],
        latency: 'fs.mkdir',
        test: [],
        set: this.guarded((ctx, [name]) => {
          flash.mkdir(str(name));
          ctx.ok();
        }),
      },
      {
        name: '+FSRMDIR',
        group: 'fs',
        summary: 'Remove an empty directory',
        source: 'M p.144',
        params: [fileName()],
        latency: 'fs.rmdir',
        test: [],
        set: this.guarded((ctx, [name]) => {
          flash.rmdir(str(name));
          ctx.ok();
        }),
      },
    ];
  }

  private list(ctx: CommandContext, dir: string): void {
    for (const e of this.flash.list(dir)) ctx.info(e.dir ? `${e.name}\\` : e.name);
    ctx.ok();
  }
}
