/** Ends a scenario step; the message reads `expected …, got …`. */
export class StepFailure extends Error {}
