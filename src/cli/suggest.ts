/**
 * "Did you mean …?" for a mistyped word: the rule commander uses for unknown
 * commands and options (its helper is not exported), so unknown config keys,
 * `help <unknown>` and `ociaccess version` are answered the same way.
 */

const MAX_DISTANCE = 3;
const MIN_SIMILARITY = 0.4;

/** Optimal string alignment distance (insertions, deletions, substitutions, adjacent swaps). */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > MAX_DISTANCE) return Math.max(a.length, b.length);
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d[i] = [i];
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let j = 1; j <= b.length; j++) {
    for (let i = 1; i <= a.length; i++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidates (ties all returned, sorted), or [] when none is close enough. */
export function similarWords(word: string, candidates: readonly string[]): string[] {
  let best: string[] = [];
  let bestDistance = MAX_DISTANCE;
  const bare = (text: string) => text.replace(/^--/, '');
  for (const candidate of new Set(candidates)) {
    if (bare(candidate).length <= 1) continue;
    // The distance is at least the difference in length: a far longer word (megabytes typed by
    // mistake) is skipped without building its distance table, which would take gigabytes.
    if (Math.abs(bare(word).length - bare(candidate).length) > bestDistance) continue;
    const distance = editDistance(bare(word).toLowerCase(), bare(candidate).toLowerCase());
    const length = Math.max(bare(word).length, bare(candidate).length);
    if ((length - distance) / length <= MIN_SIMILARITY) continue;
    if (distance < bestDistance) {
      bestDistance = distance;
      best = [candidate];
    } else if (distance === bestDistance) {
      best.push(candidate);
    }
  }
  return best.sort((a, b) => a.localeCompare(b));
}

/** "\n(Did you mean x?)" as commander prints it, or "". */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const similar = similarWords(word, candidates);
  if (similar.length === 0) return '';
  return similar.length === 1 ? `\n(Did you mean ${similar[0]}?)` : `\n(Did you mean one of ${similar.join(', ')}?)`;
}
