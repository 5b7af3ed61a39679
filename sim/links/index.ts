export type { Link } from './link.js';
export { PtyLink, PtyInUseError, SocatMissingError, SOCAT_MISSING, findOnPath, ptyLockPath } from './pty.js';
export type { PtyLinkOptions } from './pty.js';
export { TcpLink } from './tcp.js';
export type { TcpLinkOptions } from './tcp.js';
export { StdioLink } from './stdio.js';
export type { StdioLinkOptions } from './stdio.js';
export { parseSerialSpec, createLink, SerialSpecError } from './spec.js';
export type { SerialSpec, LinkOptions } from './spec.js';
