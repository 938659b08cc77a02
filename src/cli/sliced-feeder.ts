/**
 * Lines fed to a consumer in slices of a few milliseconds, so that a burst of records does
 * not keep the event loop from the next reads (where `gostall run` takes each exec record's
 * /proc readings, which cannot wait: see run.ts). The first slice runs as soon as the read
 * that queued it is handled (a microtask), later ones after the next poll for I/O; the order
 * of the lines is kept. feedAll() feeds what is left at once, before the pipeline finishes.
 */
export const SLICE_MILLIS = 2;
/** The clock is looked at once per this many lines (a line takes a few microseconds). */
const LINES_PER_CLOCK_LOOK = 32;

export interface SlicedFeeder {
  push(line: string): void;
  feedAll(): void;
  /** lines queued and not yet fed */
  readonly pending: number;
}

export function createSlicedFeeder(consume: (line: string) => void, now: () => number = () => performance.now()): SlicedFeeder {
  let queue: string[] = [];
  let head = 0;
  let scheduled = false;
  /** Feeds from the head until the queue is empty or `until` has passed; a throw keeps the rest. */
  const feed = (until: number) => {
    try {
      while (head < queue.length) {
        consume(queue[head++]!);
        if (head % LINES_PER_CLOCK_LOOK === 0 && now() > until) break;
      }
    } finally {
      if (head === queue.length) {
        queue = [];
        head = 0;
      }
    }
  };
  const slice = () => {
    scheduled = false;
    try {
      feed(now() + SLICE_MILLIS);
    } finally {
      if (head < queue.length && !scheduled) {
        scheduled = true;
        setImmediate(slice);
      }
    }
  };
  return {
    push(line) {
      queue.push(line);
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(slice);
      }
    },
    feedAll: () => feed(Infinity),
    get pending() { return queue.length - head; },
  };
}
