import { ms, sec } from '../kernel.js';
import { Profile } from '../profile.js';

const l = (baseMs: number, jitterMs = 0) => ({ base: ms(baseMs), jitter: ms(jitterMs) });

/**
 * Luat Air724UG (RDA8910, firmware AirM2M_720U_V…_LTE_AT). Boot lines and timings follow
 * decisions §5 and the real AT+RESET log (OK ~24 ms, RDY ~1.5 s after OK).
 */
export const air724ug: Profile = {
  name: 'air724ug',
  description: 'Luat Air724UG Cat.1 (RDA8910), AT firmware AirM2M_720U',
  identity: {
    manufacturer: 'AirM2M',
    model: 'Air724UG',
    revision: 'AirM2M_720U_V3.2.1_LTE_AT',
    imei: '864713058376410',
    imsi: '460041234567890',
    iccid: '89860412345678901234',
    ati: ['AirM2M_720U_V3.2.1_LTE_AT'],
  },
  uart: {
    defaultBaud: 115200,
    rates: [600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600],
  },
  defaults: { echo: true, cmee: 1 },
  limits: {
    lineBuffer: 10240,
    pendingLines: 4,
    mqttPayload: 1360,
    mqttTopic: 256,
    mqttClientField: 256,
    cacheSlots: 4,
    fsCapacity: 256 * 1024,
    fsWriteMax: 10240,
    fsNameMax: 64,
  },
  boot: {
    urcs: [
      { text: 'RDY', at: ms(1500) },
      { text: '+CFUN: 1', at: ms(1800) },
      { text: '+CPIN: READY', at: ms(2000) },
      { text: 'SMS READY', at: ms(2600) },
    ],
    resetDelay: ms(30),
  },
  network: {
    simReady: l(2000),
    register: l(2400, 600),
    defaultPdp: l(400, 200),
    nitz: l(300, 100),
    procedureTimeout: sec(100),
    operator: { longName: 'CHINA MOBILE', shortName: 'CMCC', numeric: '46000' },
    copsFormat: 2,
    lac: '1863',
    ci: '00a2c315',
    act: 7,
    apn: 'cmiot',
    ipBase: '10.126.200.230',
    ipv6Base: '36.14.4.108.140.129.135.84.0.1.0.1.82.198.143.152',
    rssi: 24,
    ber: 99,
    rssiSpread: 0,
  },
  spellings: {
    pdpDeact: ['+PDP DEACT'],
    pdpAct: [],
    mePdpDeact: [],
    nwDetach: [],
    registered: [],
    deregistered: [],
    nitz: [],
    cgdcontFields: 6,
    shutOk: 'SHUT OK',
    cmeeRead: '+CMEE: ',
    mqttConnectFailState: 'STATE: TCP CLOSED',
  },
  latency: {
    simple: l(2, 2),
    reset: l(24),
    'cfun.off': l(300, 100),
    'cfun.on': l(200, 100),
    cgatt: l(150, 100),
    cgact: l(250, 150),
    cipshut: l(120, 60),
    cops: l(300, 100),
    'cops.scan': l(3000, 1000),
    'fs.create': l(20, 10),
    'fs.write.prompt': l(26, 4),
    'fs.write.commit': l(4, 2),
    'fs.mkdir': l(40, 10),
    'fs.rmdir': l(30, 10),
    'fs.del': l(20, 10),
    'fs.read': l(4, 2),
    'fs.ls': l(6, 4),
    'fs.info': l(3, 2),
    'ssl.cfg': l(3, 2),
    'mqtt.connect.tcp': l(150, 100),
    'mqtt.connect.tls': l(1400, 900),
    /** refused or unreachable: the stack's connect attempt, then the URC */
    'mqtt.connect.fail': l(300, 200),
    'mqtt.connack': l(220, 30),
    'mqtt.suback': l(60, 40),
    'mqtt.puback': l(60, 40),
    'mqtt.pubrec': l(60, 40),
    'mqtt.pubcomp': l(60, 40),
    'mqtt.unsuback': l(60, 40),
    'mqtt.pubex.prompt': l(10, 5),
    'mqtt.deliver': l(10, 10),
    'mqtt.closed': l(20, 10),
  },
};

export const RESET_TO_RDY = sec(1.5);
