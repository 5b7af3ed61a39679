import { ms } from '../kernel.js';
import { DeepPartial, Profile, mergeProfile } from '../profile.js';
import { air724ug } from './air724ug.js';

/** Luat Air780E (EC618, firmware AirM2M_780E_V11xx_LTE_AT): the boot log of at-commands.md §9. */
export const air780eOverrides: DeepPartial<Profile> = {
  name: 'air780e',
  description: 'Luat Air780E Cat.1 (EC618), AT firmware AirM2M_780E',
  identity: {
    model: 'Air780E',
    revision: 'AirM2M_780E_V1169_LTE_AT',
    ati: ['AirM2M_780E_V1169_LTE_AT'],
  },
  limits: { mqttPayload: 4100 },
  boot: {
    urcs: [
      { text: 'RDY', at: ms(1500) },
      { text: '^MODE: 17,17', at: ms(6800) },
      { text: '+E_UTRAN Service', at: ms(6810) },
      { text: '+CGEV: ME PDN ACT 1', at: ms(6900) },
      { text: '+NITZ: 2024/08/23,06:52:50+32,0', at: ms(7000) },
    ],
  },
  spellings: { pdpDeact: ['+CGEV: NW PDN DEACT 1'] },
};

export const air780e: Profile = mergeProfile(air724ug, air780eOverrides);
