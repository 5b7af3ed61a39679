/**
 * One PDP context (cid 1..15): its definition from AT+CGDCONT and, while active, the addresses
 * and APN the network gave it.
 */
import type { Profile } from '../profile.js';

export const PDP_TYPES = ['IP', 'IPV6', 'IPV4V6', 'PPP', 'Non-IP'] as const;
export type PdpType = (typeof PDP_TYPES)[number];

export const MAX_CID = 15;
/** The context the module activates by itself at attach (LTE default bearer). */
export const DEFAULT_CID = 1;

/** The spelling the module uses for a type typed in any case, or undefined if unknown. */
export function pdpTypeOf(text: string): PdpType | undefined {
  return PDP_TYPES.find((t) => t.toUpperCase() === text.toUpperCase());
}

/** `a.b.c.d` (or the 16-byte dotted form) with the last byte raised by `offset`, wrapping. */
function offsetAddress(base: string, offset: number): string {
  const parts = base.split('.').map(Number);
  const i = parts.length - 1;
  parts[i] = (parts[i]! + offset) % 256;
  return parts.join('.');
}

export function isIpv4(text: string): boolean {
  const p = text.split('.');
  return p.length === 4 && p.every((x) => /^\d{1,3}$/.test(x) && Number(x) <= 255);
}

export interface PdpContextSnapshot {
  cid: number;
  type: PdpType;
  apn: string;
  active: boolean;
  ipv4?: string;
  ipv6?: string;
}

export class PdpContext {
  active = false;
  ipv4: string | undefined;
  ipv6: string | undefined;
  /** APN in use while active (the network's when the definition left it empty). */
  private activeApn: string | undefined;

  constructor(
    readonly cid: number,
    public type: PdpType = 'IP',
    public apn = '',
    /** Address asked for in CGDCONT; the model always lets the network choose. */
    public requestedAddress = '',
    public dComp = 0,
    public hComp = 0,
  ) {}

  activate(net: Profile['network']): void {
    const off = this.cid - 1;
    this.active = true;
    this.activeApn = this.apn || net.apn;
    this.ipv4 = this.type === 'IP' || this.type === 'PPP' || this.type === 'IPV4V6' ? offsetAddress(net.ipBase, off) : undefined;
    this.ipv6 = this.type === 'IPV6' || this.type === 'IPV4V6' ? offsetAddress(net.ipv6Base, off) : undefined;
  }

  deactivate(): void {
    this.active = false;
    this.activeApn = undefined;
    this.ipv4 = undefined;
    this.ipv6 = undefined;
  }

  /** `+CGDCONT: 1,"IP","cmiot","10.126.200.230",0,0` (4 or 6 fields, per profile). */
  cgdcontLine(fields: 4 | 6): string {
    const addr = this.ipv4 ?? this.ipv6 ?? (this.requestedAddress || '0.0.0.0');
    const head = `+CGDCONT: ${this.cid},"${this.type}","${this.activeApn ?? this.apn}","${addr}"`;
    return fields === 6 ? `${head},${this.dComp},${this.hComp}` : head;
  }

  /** `+CGPADDR: 1,"10.126.200.230"`; only the cid while inactive (27.007 §10.1.14). */
  cgpaddrLine(): string {
    const addrs = [this.ipv4, this.ipv6].filter((a): a is string => a !== undefined).map((a) => `"${a}"`);
    return `+CGPADDR: ${[String(this.cid), ...addrs].join(',')}`;
  }

  snapshot(): PdpContextSnapshot {
    return {
      cid: this.cid,
      type: this.type,
      apn: this.activeApn ?? this.apn,
      active: this.active,
      ...(this.ipv4 !== undefined && { ipv4: this.ipv4 }),
      ...(this.ipv6 !== undefined && { ipv6: this.ipv6 }),
    };
  }
}

/** Single-link TCPIP states (M p.156); this model moves between IP INITIAL and PDP DEACT. */
export type TcpipState =
  | 'IP INITIAL'
  | 'IP START'
  | 'IP CONFIG'
  | 'IP GPRSACT'
  | 'IP STATUS'
  | 'TCP CONNECTING'
  | 'CONNECT OK'
  | 'TCP CLOSING'
  | 'TCP CLOSED'
  | 'PDP DEACT';

export interface PdpSnapshot {
  attached: boolean;
  contexts: PdpContextSnapshot[];
  tcpipState: TcpipState;
  dataReady: boolean;
}
