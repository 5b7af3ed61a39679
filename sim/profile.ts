/**
 * A profile is one module's personality: identity strings, boot URCs, spellings, limits and the
 * latency of every modelled step. Every guess the model makes lives here, so a user who learns
 * the real module does otherwise changes a value, not code. Profiles inherit and override.
 */
import { Ns } from './kernel.js';
import type { FinalWord } from '../protocol/results.js';

/** A modelled delay: base plus uniform seeded jitter in [0, jitter]. */
export interface Latency {
  base: Ns;
  jitter: Ns;
}

/**
 * Every modelled step that has a latency of its own. A group that adds a step adds its key here
 * and its value to each profile; a key missing from a profile, or an override naming a key not
 * listed here, fails when the profile is resolved — never a silent fallback to `simple`.
 */
export const LATENCY_KEYS = [
  'simple',
  'reset',
  'cfun.off',
  'cfun.on',
  'cgatt',
  'cgact',
  'cipshut',
  'cops',
  'cops.scan',
  'fs.create',
  'fs.write.prompt',
  'fs.write.commit',
  'fs.mkdir',
  'fs.rmdir',
  'fs.del',
  'fs.read',
  'fs.ls',
  'fs.info',
  'ssl.cfg',
  'mqtt.connect.tcp',
  'mqtt.connect.tls',
  'mqtt.connect.fail',
  'mqtt.connack',
  'mqtt.suback',
  'mqtt.puback',
  'mqtt.pubrec',
  'mqtt.pubcomp',
  'mqtt.unsuback',
  'mqtt.pubex.prompt',
  'mqtt.deliver',
  'mqtt.closed',
  'tcp.ciicr',
  'tcp.connect',
  'tcp.connect.fail',
  'tcp.send.prompt',
  'tcp.send',
  'tcp.deliver',
  'tcp.closed',
  'sms.cpms',
  'sms.prompt',
  'sms.submit',
  'sms.store',
  'sms.read',
  'sms.list',
  'sms.delete',
  'sms.deliver',
  'sms.statusReport',
  'phone.ussd',
  'phone.pb',
] as const;

export type LatencyKey = (typeof LATENCY_KEYS)[number];

/** Message storages of 27.005 (AT+CPMS): the SIM's EF_SMS, the module's own flash. */
export type SmsStorage = 'SM' | 'ME';

/** TE character sets of AT+CSCS (behaviour §27). */
export type Cscs = 'GSM' | 'IRA' | 'UCS2';

export interface BootUrc {
  text: string;
  /** Model time after power-on (or after the reset's OK) at which the line is printed. */
  at: Ns;
}

export interface Profile {
  name: string;
  description: string;
  identity: {
    manufacturer: string;
    model: string;
    revision: string;
    imei: string;
    imsi: string;
    iccid: string;
    /** ATI lines. */
    ati: string[];
  };
  uart: {
    defaultBaud: number;
    rates: number[];
  };
  /** The modem control lines, as a host with them attached (the serialport binding) sees them. */
  lines: {
    /** A DTR drop at power-on settings (AT&D): `ignore` (&D0/&D1) or `hangup` (&D2: the MQTT link closes silently). */
    dtrDrop: 'ignore' | 'hangup';
    /** AT&C at power-on: 0 DCD always on, 1 DCD on while the data bearer is up. */
    dcd: 0 | 1;
    /** AT+IFC at power-on: <dce_by_dte>,<dte_by_dce>; 2 = RTS holds the module's output / CTS holds the host's. */
    ifc: [0 | 2, 0 | 2];
    /** RI is asserted this long for each URC that pulses it (0 = never). */
    riPulse: Ns;
    /** The URCs that pulse RI: `all`, or those starting with one of these texts. */
    riUrcs: 'all' | string[];
  };
  defaults: {
    echo: boolean;
    cmee: 0 | 1 | 2;
  };
  limits: {
    /** Longest command line (behaviour §3). */
    lineBuffer: number;
    /** Lines queued while a command runs; more are answered ERROR. */
    pendingLines: number;
    mqttPayload: number;
    /**
     * An inbound PUBLISH longer than mqttPayload: `truncate` prints its first mqttPayload bytes
     * (with that length), `drop` prints nothing; either way the trace says so (behaviour §15).
     */
    mqttInboundOversize: 'truncate' | 'drop';
    mqttTopic: number;
    mqttClientField: number;
    cacheSlots: number;
    fsCapacity: number;
    fsWriteMax: number;
    fsNameMax: number;
    /** Message slots of each SMS storage (AT+CPMS <total>; the SIM's EF_SMS record count). */
    smsSlots: number;
    /** Bytes a CMGS/CMGW prompt takes (hex of a PDU, or text) before it gives up on the input. */
    smsInput: number;
    /** Entries of each phonebook (AT+CPBS <total>, AT+CPBR=? range). */
    phonebookSlots: number;
  };
  boot: {
    /** Lines printed after power-on or reset, in order. */
    urcs: BootUrc[];
    /** Time from a reset command's OK to power-on of the new boot. */
    resetDelay: Ns;
  };
  network: {
    /** From power-on (CFUN=1) to the SIM being ready. */
    simReady: Latency;
    /** From SIM ready / CFUN=1 / coverage back to registered. */
    register: Latency;
    /** From registration to attached with the default PDP context (cid 1) active. */
    defaultPdp: Latency;
    /** From registration to the network time URC (`spellings.nitz`). */
    nitz: Latency;
    /**
     * How long CGATT=1, CGACT=1 and COPS=0 wait for a registration that does not come before
     * they give up with +CME ERROR: 30 (below the manual's 108 s maximum response time).
     */
    procedureTimeout: Ns;
    /** Home network identity. */
    operator: { longName: string; shortName: string; numeric: string };
    /** AT+COPS? operator format at power-on: 0 long, 1 short, 2 numeric. */
    copsFormat: 0 | 1 | 2;
    /** Quoted hex location area / tracking area code and cell id of the serving cell. */
    lac: string;
    ci: string;
    /** 7 = E-UTRAN. */
    act: number;
    /** APN the network assigns when a context asks for none. */
    apn: string;
    /** Default context address; context n gets this address plus n - 1. */
    ipBase: string;
    /** IPv6 address (dotted-decimal, 16 bytes) of IPV6/IPV4V6 contexts; last byte plus n - 1. */
    ipv6Base: string;
    /** Signal at the antenna (CSQ units) and bit error rate. */
    rssi: number;
    ber: number;
    /** Seeded per-read variation of rssi, ± this many steps (0 = steady). */
    rssiSpread: number;
    /**
     * The network's clock (NITZ, and the SMSC's time stamps): UTC at model time 0, and the
     * local zone in quarter hours (27.007 AT+CCLK: +32 = UTC+8).
     */
    time: { utc: string; zoneQuarters: number };
  };
  sms: {
    /** Storages AT+CPMS lists and accepts (a listed one must work: behaviour §27). */
    storages: SmsStorage[];
    /** AT+CSCS at power-on. */
    cscs: Cscs;
    /** AT+CNMI at power-on: <mode>,<mt>,<bm>,<ds>,<bfr>. */
    cnmi: [number, number, number, number, number];
    /** AT+CSMP at power-on: <fo>,<vp>,<pid>,<dcs>. */
    csmp: [number, number, number, number];
    /** The SIM's service centre address (AT+CSCA at power-on). */
    sca: { address: string; type: number };
    /** What a +CMS ERROR prints under AT+CMEE=0: itself (27.005) or a plain ERROR. */
    cmsUnderCmee0: 'cms' | 'error';
    /** TP-MR of the first message sent from a fresh SIM (then +1 per message, mod 256). */
    firstMr: number;
    /** From the CMGS/CMGW prompt to ERROR when the input never ends. */
    inputTimeout: Ns;
    /** With AT+CSMS=1, how long a +CMT waits for AT+CNMA before CNMI <mt>,<ds> fall to 0. */
    cnmaTimeout: Ns;
  };
  phone: {
    /** AT+CBC values: charge state (0 on battery), level %, and voltage in mV. */
    battery: { bcs: number; bcl: number; mv: number };
    /** <m> of AT+CLIP?: CLIP provisioning at the network (1 provisioned). */
    clipProvisioned: number;
    /** The RTC at power-on, before the network time arrives (ISO UTC). */
    rtcAtPowerOn: string;
    /** USSD replies by request string; `*` answers any other. */
    ussdReplies: Record<string, string>;
    /** Phonebook storages AT+CPBS lists and accepts; "SM" is kept on the SIM. */
    phonebooks: string[];
  };
  spellings: {
    /** URC(s) printed when the network deactivates a PDP context; `{cid}` is replaced. */
    pdpDeact: string[];
    /** URC(s) printed when the module activates a context (boot, CGATT, CGACT); `{cid}` is replaced. */
    pdpAct: string[];
    /** URC(s) printed when AT+CGACT=0 deactivates a context; `{cid}` is replaced. */
    mePdpDeact: string[];
    /** URC(s) printed when the network detaches the module. */
    nwDetach: string[];
    /** URC(s) printed on registration (`^MODE: 17,17`, `+E_UTRAN Service`). */
    registered: string[];
    /** URC(s) printed when registration is lost. */
    deregistered: string[];
    /** Network time URC(s) printed after registration. */
    nitz: string[];
    /** Fields in a +CGDCONT read line: 6 (manual, with d_comp,h_comp) or 4 (real EC7xx log). */
    cgdcontFields: 4 | 6;
    /** Final result of AT+CIPSHUT (behaviour §9). */
    shutOk: FinalWord;
    /** Read form of AT+CMEE (the manual prints a space before the colon). */
    cmeeRead: string;
    /** The `STATE: <state>` line printed before `CONNECT FAIL` when MIPSTART fails (behaviour §11). */
    mqttConnectFailState: string;
    /** The whole AT+CSCS=? line (behaviour §27). */
    cscsTest: string;
    /** The AT+CBC line; `{bcs}`, `{bcl}`, `{mv}` are replaced (behaviour §30). */
    cbc: string;
    /** URC(s) printed when an incoming SMS finds its storage full (behaviour §29). */
    smsFull: string[];
    /** Whether `CLOSED` follows MDISCONNECT when the broker closes the connection (behaviour §17). */
    mqttClosedAfterDisconnect: boolean;
    /** URC(s) for an acknowledgement (SUBACK, UNSUBACK, PUBACK, PUBCOMP) the session ended without (behaviour §17). */
    mqttAckLost: string[];
  };
  /** Latency per modelled step (`simple`, `fs.mkdir`, `mqtt.connack` ...). */
  latency: Record<LatencyKey, Latency>;
}

export type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K];
};

export function mergeProfile<T>(base: T, over: DeepPartial<T> | undefined): T {
  if (!over) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) {
    const b = out[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)) {
      out[k] = mergeProfile(b, v as DeepPartial<typeof b>);
    } else if (v !== undefined) {
      out[k] = v;
    }
  }
  return out as T;
}

export function latencyOf(p: Profile, key: LatencyKey): Latency {
  return p.latency[key];
}

const KNOWN_LATENCY: ReadonlySet<string> = new Set(LATENCY_KEYS);

/** A resolved profile must have every latency key and no other (a typo in an override fails here). */
export function checkLatencyTable(p: Profile): void {
  const table: Readonly<Record<string, Latency | undefined>> = p.latency;
  const unknown = Object.keys(table).filter((k) => !KNOWN_LATENCY.has(k));
  if (unknown.length > 0) throw new Error(`profile ${p.name}: unknown latency key ${unknown.join(', ')} (known: ${LATENCY_KEYS.join(', ')})`);
  const missing = LATENCY_KEYS.filter((k) => table[k] === undefined);
  if (missing.length > 0) throw new Error(`profile ${p.name}: no latency for ${missing.join(', ')}`);
  for (const k of LATENCY_KEYS) {
    const l = table[k];
    if (!l || !Number.isInteger(l.base) || !Number.isInteger(l.jitter) || l.base < 0 || l.jitter < 0) {
      throw new Error(`profile ${p.name}: latency ${k} needs integer base and jitter >= 0 (ns)`);
    }
  }
}
