/**
 * Progress for long work (sweep): a bar redrawn in place on a terminal's
 * stderr, plain one-line messages otherwise (cron mail and CI logs stay
 * readable). Never on stdout, which holds the data.
 */
import type { Context } from '../context.js';
import type { Output } from './output.js';
import { stripControls } from '../core/text.js';

export interface ProgressStep {
  /** What is being done, e.g. "OCI-Temp-Admins: removing". */
  label: string;
  done: number;
  total: number;
}

export interface Progress {
  /** A quiet line (only when no bar is drawn). */
  message(text: string): void;
  step(step: ProgressStep): void;
  /** Clears the bar; call before printing anything else. */
  stop(): void;
}

const WIDTH = 24;
/** Redraws at most this often: a big sweep settles thousands of items. */
const REDRAW_MS = 80;

export function createProgress(ctx: Context, out: Output, options: { quiet: boolean }): Progress {
  const bar = Boolean(ctx.stderr.isTTY) && !options.quiet;
  let drawn = false;
  let lastDraw = 0;
  let lastLabel = '';
  const clear = () => {
    if (drawn) ctx.stderr.write('\r\u001b[K');
    drawn = false;
  };
  return {
    message(text) {
      if (!bar) out.info(text);
    },
    step({ label, done, total }) {
      if (!bar) return;
      const now = ctx.clock.now().getTime();
      if (label === lastLabel && done < total && now - lastDraw < REDRAW_MS) return;
      lastDraw = now;
      lastLabel = label;
      const ratio = total > 0 ? Math.min(1, done / total) : 0;
      const filled = Math.round(ratio * WIDTH);
      const counts = total > 1 ? ` ${done}/${total}` : '';
      // The bar is redrawn in place with our own escape codes; a label must hold none (a group's name could).
      const line = `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${stripControls(label)}${counts}`;
      const columns = ctx.stderr.columns ?? 80;
      ctx.stderr.write(`\r\u001b[K${line.slice(0, Math.max(10, columns - 1))}`);
      drawn = true;
    },
    stop: clear,
  };
}

/** The frames wait.ts and the spinner draw. */
export const SPINNER_FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
/** A call quicker than this shows nothing: a spinner that flashes is noise. */
export const SPINNER_DELAY_MS = 1000;
const SPINNER_FRAME_MS = 100;

/**
 * Runs `work`; when it takes longer than SPINNER_DELAY_MS and both stdout and
 * stderr are terminals (never piped, never with --json or --quiet), a spinner
 * and `label` turn on stderr until it settles, then the line is cleared. Its
 * sleeps are the clock's, aborted when the work settles: no timer outlives
 * the call.
 */
export async function withSpinner<T>(
  ctx: Context,
  out: Output,
  options: { quiet: boolean },
  label: string,
  work: () => Promise<T>,
): Promise<T> {
  if (!out.tty || out.json || options.quiet || !ctx.stderr.isTTY) return work();
  const settled = new AbortController();
  let drawn = false;
  const spin = async () => {
    await ctx.clock.sleep(SPINNER_DELAY_MS, settled.signal);
    for (let frame = 0; !settled.signal.aborted; frame += 1) {
      ctx.stderr.write(`\r\u001b[K${SPINNER_FRAMES[frame % SPINNER_FRAMES.length]} ${stripControls(label)}`);
      drawn = true;
      await ctx.clock.sleep(SPINNER_FRAME_MS, settled.signal);
    }
  };
  const spinning = spin();
  try {
    return await work();
  } finally {
    settled.abort();
    await spinning;
    if (drawn) ctx.stderr.write('\r\u001b[K');
  }
}
