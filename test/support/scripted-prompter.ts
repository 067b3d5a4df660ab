import type { Prompter } from '../../src/context.js';

/** Answers prompts by matching their message; an unexpected prompt fails the test. */
export function scriptedPrompter(script: [RegExp, string | boolean][]): Prompter & { asked: string[] } {
  const asked: string[] = [];
  const answer = (message: string) => {
    asked.push(message);
    const index = script.findIndex(([pattern]) => pattern.test(message));
    if (index < 0) throw new Error(`unexpected prompt: ${message}`);
    const [, value] = script.splice(index, 1)[0]!;
    return value;
  };
  return {
    interactive: true,
    asked,
    async input(message, options) {
      const value = String(answer(message));
      const text = value === '' ? (options?.default ?? '') : value;
      const verdict = options?.validate?.(value);
      if (verdict !== undefined && verdict !== true)
        throw new Error(`answer "${value}" to "${message}" was refused: ${verdict}`);
      return text;
    },
    async confirm(message) {
      return Boolean(answer(message));
    },
    async select(message, choices) {
      const wanted = String(answer(message));
      const choice = choices.find((c) => String(c.value) === wanted);
      if (!choice) throw new Error(`no choice ${wanted} for ${message}`);
      return choice.value;
    },
  };
}
