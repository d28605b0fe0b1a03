/**
 * The provider simulator: an HTTP server imitating OpenAI, Azure OpenAI, Anthropic, Gemini/Vertex and Veo,
 * with per-key limits, injected faults and statistics.
 */
export { startSimulator } from './server.js';
export type { Simulator } from './server.js';
export { FAULT_TYPES, simulatorOptionsSchema, resolveOptions } from './options.js';
export type { FaultType, SimulatorOptions, LatencyOptions } from './options.js';
export type { SimulatorStats, KeyStats, RequestLogEntry } from './stats.js';
export { mulberry32 } from './random.js';
