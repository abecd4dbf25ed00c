// Comparing docker's text with strata's when relative times move between two runs.

/** Relative times ("2 minutes ago", "Up About a minute") masked as T. */
export function maskTimes(s: string): string {
  return s.replace(/Less than a second|About an? (second|minute|hour)|\d+ (seconds?|minutes?|hours?|days?|weeks?|months?|years?)\b/g, 'T');
}

/** A table as cells per line, times masked (docker's tabwriter pads with 3+ spaces; no cell compared holds two in a row). */
export function tableCells(text: string): string[][] {
  return text
    .trimEnd()
    .split('\n')
    .map((line) => line.split(/ {2,}/).map((c) => maskTimes(c.trim())));
}
