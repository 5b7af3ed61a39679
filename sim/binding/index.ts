/** The serialport binding: in-process modems behind `modemsim://NAME` paths. */
export { ModemBinding, ModemRegistry, createModemBinding, modemPath, PATH_PREFIX } from './binding.js';
export { ModemBindingPort, ModemPortError, HOST_RX_HIGH, HOST_RX_LOW, HOST_RX_LIMIT } from './port.js';
export { UartReceiver, bitEdge, bitMiddle } from './resample.js';
export type { LineFrame, Sampled } from './resample.js';
