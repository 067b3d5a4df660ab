#!/usr/bin/env node
// Tiny on purpose: start-up time matters for a command people type often.
import { main } from '../dist/cli/main.js';
import { processContext } from '../dist/process-context.js';

const ctx = processContext();
process.exitCode = await main(process.argv.slice(2), ctx);
