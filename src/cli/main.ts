#!/usr/bin/env node
/** The `sluice` executable. All logic lives in program.ts so tests can run it in process too. */
import { runCli } from './program.js';

// `sluice status … | head -1`: the reader has gone. Further output is dropped (the command still ends
// with its own exit code) instead of crashing on an unhandled EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}

runCli(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error('sluice: internal error:', err);
    process.exitCode = 1;
  },
);
