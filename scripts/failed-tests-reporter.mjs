// A node:test reporter that writes one JSON array: the tests that failed, each with its file and
// its path of suite names, and the first line of its error. Suites that failed only because a
// test in them did are left out: the test is named.
export default async function* failedTests(source) {
  const paths = new Map()
  const failed = []
  for await (const event of source) {
    if (event.type !== 'test:start' && event.type !== 'test:fail') continue
    const { name, nesting, file } = event.data
    const key = file ?? ''
    const path = paths.get(key) ?? []
    path.length = nesting
    path.push(name)
    paths.set(key, path)
    if (event.type !== 'test:fail') continue
    const error = event.data.details?.error
    if (error?.failureType === 'subtestsFailed') continue
    const message = String(error?.cause?.message ?? error?.message ?? error ?? '').split('\n').find((line) => line.trim() !== '') ?? ''
    failed.push({ file: file ?? null, test: path.join(' > '), error: message.trim() })
  }
  yield `${JSON.stringify(failed, null, 2)}\n`
}
