import { ms } from '../kernel.js';
import { DeepPartial, Profile, mergeProfile } from '../profile.js';
import { air724ug } from './air724ug.js';

const l = (baseMs: number, jitterMs = 0) => ({ base: ms(baseMs), jitter: ms(jitterMs) });

/** Luat Air780E (EC618, firmware AirM2M_780E_V11xx_LTE_AT): the boot log of behaviour §24. */
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
    // ^MODE, +E_UTRAN Service, +CGEV: ME PDN ACT and +NITZ come from the network model
    // (spellings below), on the network timing: ~5.3 s after RDY in the real AT+RESET log.
    urcs: [{ text: 'RDY', at: ms(1500) }],
  },
  network: {
    simReady: l(1600),
    register: l(5000, 400),
    defaultPdp: l(90, 40),
    nitz: l(200, 60),
  },
  spellings: {
    pdpDeact: ['+CGEV: NW PDN DEACT {cid}'],
    pdpAct: ['+CGEV: ME PDN ACT {cid}'],
    mePdpDeact: ['+CGEV: ME PDN DEACT {cid}'],
    nwDetach: ['+CGEV: NW DETACH'],
    registered: ['^MODE: 17,17', '+E_UTRAN Service'],
    deregistered: ['^MODE: 0,0'],
    nitz: ['+NITZ: 2024/08/23,06:52:50+32,0'],
    cgdcontFields: 4,
    // the EC618 manual's AT+CBC prints the voltage in mV (gammu and gsmlib cannot parse it)
    cbc: '+CBC: {mv}',
  },
};

export const air780e: Profile = mergeProfile(air724ug, air780eOverrides);
