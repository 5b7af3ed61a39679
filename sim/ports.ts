/**
 * The narrow interfaces groups offer each other. A group asks for a peer's port by name in its
 * factory and sees only that interface; the modem provides the ports of the module itself
 * (`module`). A group of the user's own may add ports by merging into `PortMap`.
 */
import type { BridgeOptions } from './bridge/options.js';
import type { PdpSnapshot, TcpipState } from './network/pdp-context.js';
import type { TlsParams } from './ssl/tls.js';
import type { Cscs } from './profile.js';
import type { SmsCenter } from './sms/center.js';
import type { LineSettings } from '../protocol/format.js';
import type { SavedSettings } from '../fs-model/nvram.js';

/** AT+CFUN: 0 minimum, 1 full, 4 flight. */
export type Cfun = 0 | 1 | 4;

/** Radio and registration, as the packet domain and the engine read them (network offers it). */
export interface RadioState {
  readonly cfun: Cfun;
  readonly registered: boolean;
  /** Registration completed (the packet domain attaches then). */
  onRegistered(fn: () => void): void;
  /** Registration ended; `network` = the network's doing (contexts then go with +PDP DEACT). */
  onRegistrationLost(fn: (cause: 'network' | 'module') => void): void;
}

/** The data bearer, as IP services read it (pdp offers it). */
export interface Bearer {
  /** MIPSTART (and any IP connection) may run. */
  readonly dataReady: boolean;
  /** `dataReady` turned false (network deactivation, detach, CFUN=0 …), before any URC. */
  onBearerLost(fn: () => void): void;
  /** AT+CIPSHUT closed every IP connection. */
  onShut(fn: () => void): void;
  /** The state of the module's TCP connection (AT+CIPSTART) for AT+CIPSTATUS; undefined: none. */
  showLinkState(fn: () => TcpipState | undefined): void;
  snapshot(): PdpSnapshot;
}

/** Files of the flash image, read by other groups (certificates for TLS; fs offers it). */
export interface FlashFiles {
  /** Throws FlashError when the file is missing or the name is bad. */
  read(name: string): Uint8Array;
}

/** TLS client options of an SSL context (ssl offers it). */
export interface TlsProvider {
  tlsOptionsFor(ctxId: number, servername: string): TlsParams;
}

/** The module's UART as its settings commands see it (AT+IPR, AT&W). */
export interface UartSettings {
  readonly baud: number;
  setBaud(rate: number): void;
  /** Run `fn` once every byte already queued has left. */
  whenTxDrained(fn: () => void): void;
}

/** The module itself (the modem offers it): power, saved settings, the UART. */
export interface ModuleControl {
  /** Reboot after the current output has left: RAM state lost, flash kept. */
  reboot(): void;
  /** Settings saved with AT&W. */
  savedSettings(): Partial<LineSettings>;
  /** AT&W: these settings and the UART's rate survive reboots. */
  saveSettings(s: Pick<LineSettings, 'echo' | 'verbose' | 'quiet' | 'cmee'>): void;
  /** ATZ (false: what AT&W stored) or AT&F (true: factory): the other groups' parts too. */
  restoreProfile(factory: boolean): void;
  readonly uart: UartSettings;
}

/**
 * The user profile AT&W stores, as groups other than system keep their part in it (the modem
 * offers it): one write holds every part, so a kill never leaves half a profile.
 */
export interface StoredProfile {
  /** What AT&W stored last. */
  saved(): SavedSettings;
  /** AT&W stores what `part()` returns along with the line settings. */
  storeAlso(part: () => Partial<SavedSettings>): void;
  /** ATZ (`saved`: what AT&W stored) and AT&F (undefined: the profile's defaults). */
  onRestore(fn: (saved: SavedSettings | undefined) => void): void;
}

/** Whether the UART takes input yet (system offers it: not before RDY). */
export interface InputGate {
  readonly accepting: boolean;
}

/** The TE character set of AT+CSCS, for every string that crosses the UART (sms offers it). */
export interface TeCharset {
  readonly cscs: Cscs;
}

/** The names of the commands the module answers, in table order, for AT+CLAC (the modem offers it). */
export interface CommandNames {
  names(): readonly string[];
}

export interface PortMap {
  module: ModuleControl;
  storedProfile: StoredProfile;
  radio: RadioState;
  bearer: Bearer;
  flash: FlashFiles;
  tls: TlsProvider;
  inputGate: InputGate;
  /** Where IP links go (the modem's options: embedded broker, routes, pass-through). */
  bridge: BridgeOptions;
  charset: TeCharset;
  commandNames: CommandNames;
  /** The simulated SMSC (sms offers it): what the module sent, and messages towards it. */
  smsCenter: SmsCenter;
}

export type PortName = keyof PortMap;

export class MissingPortError extends Error {}

/** The ports offered so far, in registry order. */
export class Ports {
  private readonly offered: Partial<PortMap> = {};

  provide<K extends PortName>(name: K, port: PortMap[K]): void {
    if (this.offered[name] !== undefined) throw new Error(`port ${name} offered twice`);
    this.offered[name] = port;
  }

  /** A port offered earlier; a group asking for one nobody offered fails the modem's build. */
  need<K extends PortName>(name: K, by: string): PortMap[K] {
    const p: Partial<PortMap>[K] = this.offered[name];
    if (p === undefined) throw new MissingPortError(`group ${by} needs port ${name}, which no group before it offers`);
    return p;
  }

  has(name: PortName): boolean {
    return this.offered[name] !== undefined;
  }
}
