/** Scenario files and the runner (`modemsim run`, tests). */
export { loadScenario, loadScenarioFile, scenarioFromObject, ScenarioError } from './load.js';
export { runScenario } from './runner.js';
export { runFaultTimeline, loadFaultTimelineFile, playServedTimeline } from './timeline.js';
export type { FaultTimelineOptions, FaultTimelineResult } from './timeline.js';
export type { RunOptions, ScenarioResult, StepResult } from './runner.js';
export { StepFailure } from './failure.js';
export { traceLines } from './trace.js';
export type { ScenarioTraceRecord } from './trace.js';
export { parseDuration, formatDuration } from './duration.js';
export type * from './types.js';
