#!/usr/bin/env node
/** The `sluice` executable. All logic lives in program.ts so tests can run it in process too. */
import { runCli } from './program.js';

runCli(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error('sluice: internal error:', err);
    process.exitCode = 1;
  },
);
