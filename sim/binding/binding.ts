/**
 * A `@serialport/bindings-interface` binding whose ports are in-process modems:
 *
 *   new SerialPortStream({ binding: ModemBinding, path: 'modemsim://dev0', baudRate: 115200 })
 *
 * Paths name modems in a registry (`modemsim://NAME`):
 * - `register(NAME, modem)` attaches a modem the caller built (and closes);
 * - `create(NAME, options)` builds one (free-running clock unless options say otherwise) and
 *   registers it; the caller closes it, or `closeAll()` does;
 * - opening a NAME nobody registered builds one with `defaults` (free-running clock); it is
 *   closed, and forgotten, when that port closes — a fresh open powers on a fresh module.
 * One port per modem at a time (one host per UART). `list()` names every registered modem and
 * every one built on open that is open now.
 */
import type { BindingInterface, OpenOptions, PortInfo } from '@serialport/bindings-interface' with { 'resolution-mode': 'require' };
import { createModem, type Modem, type ModemOptions } from '../modem.js';
import { ModemBindingPort, ModemPortError } from './port.js';

export const PATH_PREFIX = 'modemsim://';

/** The path a registered name opens as. */
export const modemPath = (name: string): string => PATH_PREFIX + name;

function nameOf(path: string): string {
  const m = /^modemsim:\/\/([^/\s]+)$/.exec(path);
  if (!m) throw new ModemPortError(`expected a path modemsim://NAME, got ${JSON.stringify(path)}`);
  return m[1]!;
}

interface Entry {
  modem: Modem;
  /** Built on open: closed with its port. */
  auto: boolean;
  /** Built here (create() or on open): closeAll() closes it. */
  owned: boolean;
  port: ModemBindingPort | undefined;
}

export class ModemRegistry implements BindingInterface<ModemBindingPort, OpenOptions, PortInfo> {
  private readonly entries = new Map<string, Entry>();
  /** Options of a modem built by opening an unregistered name (the clock defaults to `free`). */
  defaults: ModemOptions = {};

  /** Attach `modem` at modemsim://NAME; returns the path. */
  register(name: string, modem: Modem): string {
    const path = modemPath(name);
    nameOf(path);
    const old = this.entries.get(name);
    if (old !== undefined && old.modem !== modem) throw new ModemPortError(`${path} is registered already (unregister it first)`);
    this.entries.set(name, { modem, auto: false, owned: false, port: old?.port });
    return path;
  }

  /** Build a modem (free-running clock unless `opts.clock` says otherwise) and register it. */
  create(name: string, opts: ModemOptions = {}): Modem {
    const modem = createModem({ clock: 'free', ...opts });
    try {
      this.register(name, modem);
    } catch (err) {
      void modem.close();
      throw err;
    }
    this.entries.get(name)!.owned = true;
    return modem;
  }

  /** Forget a name (an open port on it stays open until closed). */
  unregister(name: string): void {
    this.entries.delete(name);
  }

  /** The modem behind a name, if any. */
  modem(name: string): Modem | undefined {
    return this.entries.get(name)?.modem;
  }

  /** The open port of a name, if any (for getLines() without the stream). */
  port(name: string): ModemBindingPort | undefined {
    return this.entries.get(name)?.port;
  }

  async list(): Promise<PortInfo[]> {
    return [...this.entries].map(([name, e]) => ({
      path: modemPath(name),
      manufacturer: e.modem.profile.identity.manufacturer,
      serialNumber: e.modem.profile.identity.imei,
      pnpId: undefined,
      locationId: undefined,
      productId: undefined,
      vendorId: undefined,
    }));
  }

  async open(options: OpenOptions): Promise<ModemBindingPort> {
    if (typeof options?.path !== 'string') throw new TypeError('"path" is not a string');
    if (typeof options.baudRate !== 'number' || !(options.baudRate > 0)) throw new TypeError(`"baudRate" must be a positive number: ${String(options.baudRate)}`);
    // the module's UART is 8N1 and has no XON/XOFF: refuse rather than pretend
    if ((options.dataBits ?? 8) !== 8 || (options.stopBits ?? 1) !== 1 || (options.parity ?? 'none') !== 'none') {
      throw new ModemPortError(`modemsim's UART is 8N1, got ${options.dataBits ?? 8}${(options.parity ?? 'none')[0]!.toUpperCase()}${options.stopBits ?? 1}`);
    }
    if (options.xon === true || options.xoff === true || options.xany === true) throw new ModemPortError('XON/XOFF flow control is not modelled (use rtscts)');
    const name = nameOf(options.path);
    let entry = this.entries.get(name);
    if (entry === undefined) {
      entry = { modem: createModem({ clock: 'free', ...this.defaults }), auto: true, owned: true, port: undefined };
      this.entries.set(name, entry);
    }
    if (entry.port !== undefined) throw new ModemPortError(`${options.path} is open already (one host per UART)`);
    if (entry.modem.isClosed) throw new ModemPortError(`${options.path}: its modem is closed`);
    const e = entry;
    const port = new ModemBindingPort(e.modem, options, async (p) => {
      if (e.port === p) e.port = undefined;
      if (e.auto) {
        if (this.entries.get(name) === e) this.entries.delete(name);
        await e.modem.close();
      }
    });
    e.port = port;
    await port.start();
    return port;
  }

  /** Close every open port, then every modem built here (by create() or on open). */
  async closeAll(): Promise<void> {
    const all = [...this.entries.values()];
    for (const e of all) await e.port?.close();
    for (const e of all) if (e.owned && !e.modem.isClosed) await e.modem.close();
    this.entries.clear();
  }
}

/** A registry of its own (tests that must not share names). */
export function createModemBinding(): ModemRegistry {
  return new ModemRegistry();
}

/** The process-wide binding: `new SerialPortStream({ binding: ModemBinding, path: 'modemsim://dev0', … })`. */
export const ModemBinding: ModemRegistry = createModemBinding();
