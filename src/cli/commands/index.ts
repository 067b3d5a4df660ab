/** Every command, registered in the order `--help` lists them. */
import type { Command } from 'commander';
import type { Runner } from '../main.js';
import { registerAuth } from './auth.js';
import { registerRequest } from './request.js';
import { registerExtend } from './extend.js';
import { registerDecide } from './decide.js';
import { registerStatus } from './status.js';
import { registerList } from './list.js';
import { registerRevoke } from './revoke.js';
import { registerSweep } from './sweep.js';
import { registerAudit } from './audit.js';
import { registerDemo } from './demo.js';
import { registerEmulator } from './emulator.js';
import { registerDoctor } from './doctor.js';
import { registerNotify } from './notify.js';
import { registerInit } from './init.js';
import { registerCompletion } from './completion.js';
import { registerComplete } from './complete.js';

export function registerCommands(program: Command, run: Runner): void {
  registerInit(program, run);
  registerAuth(program, run);
  registerRequest(program, run);
  registerExtend(program, run);
  registerDecide(program, run);
  registerStatus(program, run);
  registerList(program, run);
  registerRevoke(program, run);
  registerSweep(program, run);
  registerAudit(program, run);
  registerDoctor(program, run);
  registerNotify(program, run);
  registerDemo(program, run);
  registerEmulator(program, run);
  registerCompletion(program, run);
  registerComplete(program, run);
}
