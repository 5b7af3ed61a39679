import { DeepPartial, Profile, checkLatencyTable, mergeProfile } from '../profile.js';
import { air724ug } from './air724ug.js';
import { air780e } from './air780e.js';

export const profiles: Readonly<Record<string, Profile>> = { air724ug, air780e };

export function resolveProfile(name = 'air724ug', overrides?: DeepPartial<Profile>): Profile {
  const base = profiles[name];
  if (!base) throw new Error(`unknown profile ${name} (known: ${Object.keys(profiles).join(', ')})`);
  const p = mergeProfile(base, overrides);
  checkLatencyTable(p);
  return p;
}
