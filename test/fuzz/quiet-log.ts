/**
 * One silent logger for every modem and broker the fuzzer and the soak create. sim/log.ts's
 * silentLogger() opens a pino destination on stdout per call that is never released (≈1.4 KB
 * of heap per modem; reported, sim/log.ts is not ours): with it, a campaign of 14,000 modems
 * would show that as heap growth instead of the model's own.
 */
import { pino } from 'pino';
import type { Logger } from '../../sim/log.js';

export const QUIET: Logger = pino({ level: 'silent' }, { write: () => undefined });
