/**
 * An example driver of the kind modemsim is for, written against `@serialport/stream` as it
 * would be against a module on a USB serial adapter — the model to copy for a driver of your
 * own and its tests (driver.test.ts).
 *
 * It follows the Luat manual's MQTT flow (AT, AT+CGATT? until attached, AT+MCONFIG,
 * AT+MIPSTART → CONNECT OK, AT+MCONNECT → CONNACK OK, AT+MSUB → SUBACK), publishes with
 * AT+MPUB, hands `+MSUB:` messages to `onMessage`, polls AT+MQTTSTATU, and recovers by the
 * manual's two tables:
 * - `CLOSED` (the TCP link dropped): AT+MQTTSTATU reads 0, then MIPSTART again;
 * - `+PDP DEACT` (the network released the bearer): AT+CIPSHUT → SHUT OK, bring the context
 *   back (AT+CGACT=1,1; else AT+CFUN=0 / AT+CFUN=1), wait until it is active, then MIPSTART.
 *
 * The port is named by its path alone: `modemsim://NAME` opens an in-process modem through
 * modemsim's binding, anything else (`/dev/ttyUSB0`, a socat pty) the native one. In your own
 * project the import below reads `from 'modemsim'`.
 */
import { SerialPortStream } from '@serialport/stream';
import { autoDetect } from '@serialport/bindings-cpp';
import type { BindingInterface } from '@serialport/bindings-interface' with { 'resolution-mode': 'require' };
import { ModemBinding } from '../../sim/index.js';

export interface DriverConfig {
  clientId: string;
  /** Subscribed to, and published to. */
  topic: string;
  /** What MIPSTART asks for (modemsim routes any destination to its broker). */
  brokerHost?: string;
  brokerPort?: number;
  keepaliveS?: number;
  /** Wall time an answer may take before the driver gives up on it. */
  answerTimeoutMs?: number;
  /**
   * How the driver waits between retries and polls. A wall timer by default, as on hardware; a
   * test on modemsim's free clock passes the model's (`testModem.sleep`), so a poll period is
   * model time and the run is the same on every machine.
   */
  sleep?: (ms: number) => Promise<void>;
  /** Called with each line the driver reads, for logs. */
  onLine?: (line: string) => void;
}

export interface Received {
  topic: string;
  payload: string;
}

/** Final result codes: what ends an answer. */
const FINAL = /^(OK|ERROR|SHUT OK|\+CME ERROR: \d+)$/;

const wallSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Pending {
  command: string;
  echoed: boolean;
  raw: string;
  resolve: (raw: string) => void;
  /** Give up on it (its timer no longer holds the process). */
  cancel: () => void;
}

interface LineWaiter {
  test: (line: string) => boolean;
  resolve: (line: string) => void;
}

export class ExampleDriver {
  /** Every `+MSUB` message received, in order. */
  readonly received: Received[] = [];
  /** Recoveries done, by the URC that started them (`CLOSED`, `+PDP DEACT`, `poll`). */
  readonly recoveries: string[] = [];
  /** Each command and its exact answer, echo included. */
  readonly exchanges: Array<{ command: string; answer: string }> = [];
  onMessage: (m: Received) => void = () => undefined;
  private readonly port: SerialPortStream<BindingInterface>;
  private readonly cfg: Required<Omit<DriverConfig, 'onLine'>> & Pick<DriverConfig, 'onLine'>;
  private partial = '';
  private pending: Pending | undefined;
  private waiters: LineWaiter[] = [];
  /** URCs the flow waits for (CONNECT OK, CONNACK OK, SUBACK …) that came before it asked. */
  private urcs: string[] = [];
  /** Commands run one at a time: the flow, the polls and the recoveries share one UART. */
  private queue: Promise<unknown> = Promise.resolve();
  private connected = false;
  private closing = false;
  /** The recovery running or queued, so a second URC of the same loss does not start another. */
  private recovering: Promise<void> | undefined;

  constructor(
    readonly path: string,
    config: DriverConfig,
  ) {
    this.cfg = { brokerHost: 'mqtt.example.com', brokerPort: 1883, keepaliveS: 60, answerTimeoutMs: 10_000, sleep: wallSleep, ...config };
    const binding: BindingInterface = path.startsWith('modemsim://') ? ModemBinding : autoDetect();
    this.port = new SerialPortStream({ binding, path, baudRate: 115200, autoOpen: false });
    this.port.on('data', (d: Buffer) => this.feed(d.toString('latin1')));
  }

  /** Open the port, wake the module, wait until attached, and bring the MQTT session up. */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.port.open((err) => (err ? reject(err) : resolve())));
    await this.exclusive(async () => {
      await this.wake();
      await this.waitAttached();
      await this.expectOk(`AT+MCONFIG="${this.cfg.clientId}","",""`);
      try {
        await this.connect();
      } catch (err) {
        // a CLOSED or +PDP DEACT in the middle of it: the recovery queued behind connects again
        if (this.recovering === undefined) throw err;
      }
    });
    await this.settled();
  }

  /** AT+MPUB at QoS 0; false when the module refused it (no session). */
  publish(payload: string): Promise<boolean> {
    return this.exclusive(async () => /\r\nOK\r\n$/.test(await this.command(`AT+MPUB="${this.cfg.topic}",0,0,"${payload}"`)));
  }

  /** AT+MQTTSTATU; a 0 while the driver thinks it is connected (a CLOSED it missed) reconnects. */
  async poll(): Promise<0 | 1 | 2> {
    const status = await this.exclusive(() => this.status());
    if (status === 0 && this.connected && this.recovering === undefined) await this.recover('poll');
    return status;
  }

  /**
   * The application's loop: every `everyMs` (through `sleep`) poll the link and publish
   * `reading-<n>`, until `durationMs` have passed. Returns how many publishes the module took.
   */
  async run(durationMs: number, everyMs: number): Promise<number> {
    let taken = 0;
    for (let t = 0, n = 0; t < durationMs && !this.closing; t += everyMs, n++) {
      await this.cfg.sleep(everyMs);
      await this.recovering;
      if ((await this.poll()) === 1 && (await this.publish(`reading-${n}`))) taken++;
    }
    return taken;
  }

  /** Resolves once a recovery (if any is running) is over. */
  async settled(): Promise<void> {
    while (this.recovering !== undefined) await this.recovering;
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.queue.catch(() => undefined);
    if (!this.port.isOpen) return;
    await new Promise<void>((resolve, reject) => this.port.close((err) => (err ? reject(err) : resolve())));
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** AT until OK: a module still booting drops what it is sent, and says SMS READY when ready. */
  private async wake(): Promise<void> {
    for (let i = 0; i < 10; i++) {
      const booted = this.nextLine((l) => l === 'SMS READY');
      const answer = this.command('AT', 2000).catch(() => undefined);
      const first = await Promise.race([answer, booted.then(() => 'booted')]);
      if (first !== undefined && first !== 'booted' && first.endsWith('OK\r\n')) return;
      // a command left unanswered would swallow the next one's answer
      this.pending?.cancel();
    }
    throw new Error(`${this.path}: no answer to AT`);
  }

  private async waitAttached(): Promise<void> {
    for (let i = 0; i < 120; i++) {
      if ((await this.command('AT+CGATT?')).includes('+CGATT: 1\r\n')) return;
      await this.cfg.sleep(1000);
    }
    throw new Error(`${this.path}: not attached after 120 tries`);
  }

  /** MIPSTART → CONNECT OK, MCONNECT → CONNACK OK, MSUB → SUBACK, then +MQTTSTATU :1. */
  private async connect(): Promise<void> {
    await this.expectOk(`AT+MIPSTART="${this.cfg.brokerHost}","${this.cfg.brokerPort}"`);
    await this.expectUrc(/^CONNECT (OK|FAIL)$/, 'CONNECT OK');
    await this.expectOk(`AT+MCONNECT=1,${this.cfg.keepaliveS}`);
    await this.expectUrc(/^CONNACK OK$|^ERROR$/, 'CONNACK OK');
    await this.expectOk(`AT+MSUB="${this.cfg.topic}",0`);
    await this.expectUrc(/^SUBACK$|^ERROR$/, 'SUBACK');
    const status = await this.status();
    if (status !== 1) throw new Error(`${this.path}: expected +MQTTSTATU :1 after SUBACK, got :${status}`);
    this.connected = true;
  }

  private async status(): Promise<0 | 1 | 2> {
    const m = /\+MQTTSTATU :([012])\r\n/.exec(await this.command('AT+MQTTSTATU'));
    if (m === null) throw new Error(`${this.path}: no +MQTTSTATU in the answer`);
    return m[1] === '1' ? 1 : m[1] === '2' ? 2 : 0;
  }

  /** The manual's recovery tables, run once per loss, after whatever command is in flight. */
  private recover(why: 'CLOSED' | '+PDP DEACT' | 'poll'): Promise<void> {
    if (this.recovering !== undefined) return this.recovering;
    this.connected = false;
    const done = this.exclusive(async () => {
      this.recoveries.push(why);
      if (why === '+PDP DEACT') {
        await this.expectFinal('AT+CIPSHUT', 'SHUT OK');
        await this.bearerBack();
      } else {
        const status = await this.status();
        if (status !== 0) await this.command('AT+MIPCLOSE');
      }
      await this.connect();
    });
    this.recovering = done.finally(() => (this.recovering = undefined));
    return this.recovering;
  }

  /** Route 1 (AT+CGACT=1,1), else route 2 (radio off and on); then wait until cid 1 is active. */
  private async bearerBack(): Promise<void> {
    await this.waitAttached();
    if (!/\r\nOK\r\n$/.test(await this.command('AT+CGACT=1,1'))) {
      await this.expectOk('AT+CFUN=0');
      await this.expectOk('AT+CFUN=1');
    }
    for (let i = 0; i < 60; i++) {
      if ((await this.command('AT+CGACT?')).includes('+CGACT: 1,1\r\n')) return;
      await this.cfg.sleep(1000);
    }
    throw new Error(`${this.path}: the data bearer did not come back`);
  }

  private async expectOk(command: string): Promise<void> {
    await this.expectFinal(command, 'OK');
  }

  private async expectFinal(command: string, final: string): Promise<void> {
    const answer = await this.command(command);
    if (!answer.endsWith(`\r\n${final}\r\n`)) throw new Error(`${this.path}: expected ${final} to ${command}, got ${JSON.stringify(answer)}`);
  }

  private async expectUrc(re: RegExp, want: string): Promise<void> {
    const line = await this.urc(re);
    if (line !== want) throw new Error(`${this.path}: expected ${want}, got ${line}`);
  }

  /** Write a command; resolves with the exact answer, echo through final result code. */
  private command(command: string, timeoutMs = this.cfg.answerTimeoutMs): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending === p) this.pending = undefined;
        reject(new Error(`${this.path}: no answer to ${command} in ${timeoutMs} ms`));
      }, timeoutMs);
      const p: Pending = {
        command,
        echoed: false,
        raw: '',
        resolve: (raw) => {
          clearTimeout(timer);
          this.exchanges.push({ command, answer: raw });
          resolve(raw);
        },
        cancel: () => {
          clearTimeout(timer);
          if (this.pending === p) this.pending = undefined;
          reject(new Error(`${this.path}: ${command} given up`));
        },
      };
      this.pending = p;
      this.port.write(Buffer.from(command + '\r', 'latin1'));
    });
  }

  /** The next URC matching `re`, taken from those that came already or waited for. */
  private urc(re: RegExp): Promise<string> {
    const i = this.urcs.findIndex((l) => re.test(l));
    if (i >= 0) return Promise.resolve(this.urcs.splice(i, 1)[0]!);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.path}: no URC matching ${re} in ${this.cfg.answerTimeoutMs} ms`)), this.cfg.answerTimeoutMs);
      void this.nextLine((l) => re.test(l)).then((l) => {
        clearTimeout(timer);
        const j = this.urcs.indexOf(l);
        if (j >= 0) this.urcs.splice(j, 1);
        resolve(l);
      });
    });
  }

  private nextLine(test: (line: string) => boolean): Promise<string> {
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  private feed(text: string): void {
    this.partial += text;
    let at: number;
    while ((at = this.partial.indexOf('\r\n')) >= 0) {
      const raw = this.partial.slice(0, at + 2);
      this.partial = this.partial.slice(at + 2);
      this.line(raw.slice(0, -2), raw);
    }
  }

  private line(text: string, raw: string): void {
    const p = this.pending;
    if (p !== undefined) {
      // the echo ends in the command's own \r; the answer starts there
      if (!p.echoed && text === p.command + '\r') p.echoed = true;
      if (p.echoed) {
        p.raw += raw;
        if (FINAL.test(text)) {
          this.pending = undefined;
          p.resolve(p.raw);
          return;
        }
      }
    }
    if (text === '') return;
    this.cfg.onLine?.(text);
    this.urcLine(text);
    for (const w of [...this.waiters]) {
      if (!w.test(text)) continue;
      this.waiters = this.waiters.filter((x) => x !== w);
      w.resolve(text);
    }
  }

  private urcLine(text: string): void {
    if (/^(CONNECT (OK|FAIL)|CONNACK OK|SUBACK)$/.test(text)) this.urcs.push(text);
    const msub = /^\+MSUB: "([^"]*)",(\d+) byte,(.*)$/.exec(text);
    if (msub !== null) {
      const m = { topic: msub[1]!, payload: msub[3]! };
      this.received.push(m);
      this.onMessage(m);
    }
    if (this.closing) return;
    if (text === 'CLOSED') void this.recover('CLOSED').catch(() => undefined);
    if (text === '+PDP DEACT') void this.recover('+PDP DEACT').catch(() => undefined);
  }
}
