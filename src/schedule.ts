// One timer for many deadlines: a binary min-heap of deadlines and a single setTimeout for the
// earliest. Thousands of sockets expiring at different times cost one timer, not one each.

/** setTimeout's longest delay (about 24.8 days): a longer one fires at once, so it is armed in steps. */
const LONGEST_DELAY = 2 ** 31 - 1

export interface Deadline {
  readonly at: number
  cancelled: boolean
}

interface Entry extends Deadline {
  readonly run: () => void
}

export class DeadlineQueue {
  readonly #heap: Entry[] = []
  #timer: NodeJS.Timeout | undefined
  #timerAt = Infinity

  /** Pending deadlines (cancelled ones are dropped lazily). */
  get size(): number {
    return this.#heap.length
  }

  /** Whether a timer is armed (there is exactly one, or none). */
  get armed(): boolean {
    return this.#timer !== undefined
  }

  /** Runs `run` at `at` (ms since the epoch). Cancel with `deadline.cancelled = true`. */
  schedule(at: number, run: () => void): Deadline {
    const entry: Entry = { at, run, cancelled: false }
    const heap = this.#heap
    heap.push(entry)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (heap[parent]!.at <= at) break
      heap[i] = heap[parent]!
      i = parent
    }
    heap[i] = entry
    this.#arm()
    return entry
  }

  #pop(): Entry | undefined {
    const heap = this.#heap
    const top = heap[0]
    const last = heap.pop()
    if (top === undefined || last === undefined || heap.length === 0) return top
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= heap.length) break
      const right = left + 1
      const child = right < heap.length && heap[right]!.at < heap[left]!.at ? right : left
      if (heap[child]!.at >= last.at) break
      heap[i] = heap[child]!
      i = child
    }
    heap[i] = last
    return top
  }

  #arm(): void {
    while (this.#heap.length > 0 && this.#heap[0]!.cancelled) this.#pop()
    const next = this.#heap[0]
    if (next === undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
      this.#timerAt = Infinity
      return
    }
    if (this.#timer !== undefined && this.#timerAt <= next.at) return
    clearTimeout(this.#timer)
    this.#timerAt = next.at
    this.#timer = setTimeout(() => this.#fire(), Math.min(LONGEST_DELAY, Math.max(0, next.at - Date.now())))
    this.#timer.unref()
  }

  #fire(): void {
    this.#timer = undefined
    this.#timerAt = Infinity
    const now = Date.now()
    while (this.#heap.length > 0 && this.#heap[0]!.at <= now) {
      const entry = this.#pop()!
      if (!entry.cancelled) entry.run()
    }
    this.#arm()
  }

  clear(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#timerAt = Infinity
    this.#heap.length = 0
  }
}
