import { pino } from 'pino';
import { heapAfterGcMb } from './fuzz.js';
const h0 = heapAfterGcMb();
for (let i = 0; i < 5000; i++) pino({ level: 'silent' });
const h1 = heapAfterGcMb();
for (let i = 0; i < 5000; i++) pino({ level: 'silent' }, { write: () => undefined });
const h2 = heapAfterGcMb();
console.log(`5000 × pino({level:'silent'}): +${(h1 - h0).toFixed(2)} MB kept; 5000 × with a no-op stream: +${(h2 - h1).toFixed(2)} MB`);
