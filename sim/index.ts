/**
 * modemsim's public API: build a modem in-process (tests, fixtures, embedding) or serve one on
 * a serial link, as the CLI does.
 */
export { createModem, Modem } from './modem.js';
export type { ModemOptions } from './modem.js';
export { HostPort, ExpectTimeout, FINAL_RESULT } from './host.js';
export type { Match } from './host.js';
export { Kernel, Priority, ms, sec, NS_PER_MS, NS_PER_S } from './kernel.js';
export type { Ns, TimerHandle, IoHold, KernelOptions } from './kernel.js';
export { VirtualClock, RealtimeClock } from './clock.js';
export type { ClockDriver, VirtualClockOptions } from './clock.js';
export { FreeRunningClock } from './free-clock.js';
export type { FreeClockOptions } from './free-clock.js';
export { Uart, byteTimeNs, FRAMING_8N1 } from './uart.js';
export type { UartFraming } from './uart.js';
export { Trace } from './trace.js';
export type { TraceRecord, TraceOptions } from './trace.js';
export { profiles, resolveProfile } from './profiles/index.js';
export { mergeProfile, latencyOf } from './profile.js';
export type { Profile, Latency, BootUrc, DeepPartial } from './profile.js';
export { createLogger, silentLogger } from './log.js';
export type { Logger } from './log.js';
export { serve, defaultSerial, DEFAULT_PTY, DEFAULT_TCP } from './serve.js';
export type { ServeOptions, ServeHooks, ReadyInfo, Served } from './serve.js';
export * as links from './links/index.js';
export type { Link } from './links/link.js';
export { startEmbeddedBroker, ensureCertificates } from './broker/index.js';
export type { EmbeddedBroker, EmbeddedBrokerOptions, BrokerCerts } from './broker/index.js';
export { mqttOptionsFromBroker, externalBroker, setupMqtt } from './mqtt/options.js';
export type { MqttServiceOptions, BrokerEndpoint, MqttRoute, SslContext } from './services/mqtt.js';
export type { TlsSetup } from './bridge/tls-context.js';
export type { DialTarget } from './bridge/routes.js';
export type { NetworkSnapshot } from './services/network.js';
export type { PdpSnapshot } from './services/pdp.js';
export type { CellChange } from './network/cell.js';
export type { SignalChange, SignalLevel } from './network/signal.js';
export { FlashImage } from '../fs-model/flash.js';
export { ModemFaults, FaultError, FaultSpecError, parseFault, FAULT_KINDS } from './faults/index.js';
export type { Fault, FaultKind, FaultArgs, FaultTarget, FaultBroker } from './faults/index.js';
export { runScenario, loadScenario, loadScenarioFile, scenarioFromObject, traceLines, ScenarioError } from './scenario/index.js';
export type { Scenario, Step, RunOptions, ScenarioResult, StepResult, ScenarioTraceRecord } from './scenario/index.js';
