// Refusing option keys a function does not know, with the likely intended name: a typo would
// otherwise turn a setting off in silence. Shared by the plugin, its decorators and the providers.

/** How far apart two names may be for one to be offered as the other's spelling. */
const TYPO_DISTANCE = 2

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1))
      diagonal = above
    }
  }
  return row[b.length]!
}

/**
 * Refuses any member of `options` not in `known`, with a TypeError that names it and offers the
 * likely intended one: from `renamed` (an old name: `{ mapping: 'toClaims' }`), else the closest
 * known name.
 */
export function checkKnownOptions(options: object, known: readonly string[], path: string, renamed: Readonly<Record<string, string>> = {}): void {
  for (const name of Object.keys(options)) {
    if (known.includes(name)) continue
    const suggestion = Object.hasOwn(renamed, name)
      ? renamed[name]
      : known.map((candidate) => [candidate, distance(name.toLowerCase(), candidate.toLowerCase())] as const)
        .filter(([, d]) => d <= TYPO_DISTANCE).sort((a, b) => a[1] - b[1])[0]?.[0]
    throw new TypeError(`${path}: unknown option "${name}"${suggestion === undefined ? '' : `, did you mean ${suggestion}?`}`)
  }
}
