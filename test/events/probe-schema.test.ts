// The record format is defined once, in src/events/schema.ts: this test reads the probe text
// and fails when a printf, a syscall id, a class boundary or a size in the probe drifts away
// from what the parser expects.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  BUCKET_BOUNDS_NS,
  FD_SYSCALLS,
  FIELDS,
  PROBE_STRLEN,
  SYSCALLS,
  classOfSyscall,
  type RecordTag,
} from '../../src/events/schema.js';

import { FIRST_SYSCALL_PARAM, PROBE_SYSCALLS } from '../../src/vocabulary/syscalls.js';

const PROBE_PATH = fileURLToPath(new URL('../../probes/linux/gostall.bt', import.meta.url));
const RUNNER_PATH = fileURLToPath(new URL('../../src/probe-runner/bpftrace.ts', import.meta.url));

/** The probe without comments (so that commented-out code cannot satisfy a check). */
function probeText(): string {
  return readFileSync(PROBE_PATH, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');
}

interface Printf {
  format: string;
  args: string[];
  line: number;
}

/** Splits an argument list at top-level commas (calls and indexing nest). */
function splitArgs(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(' || ch === '[') depth++;
    if (ch === ')' || ch === ']') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

/** Every printf call of the probe: its format string and its arguments. */
function printfs(text: string): Printf[] {
  const out: Printf[] = [];
  const re = /printf\("((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    // Arguments run from after the format to the parenthesis that closes printf(.
    let depth = 1;
    let i = m.index + 'printf('.length;
    const start = m.index + m[0].length;
    for (; i < text.length && depth > 0; i++) {
      const ch = text[i];
      if (ch === '"') {
        i++;
        while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      } else if (ch === '(') depth++;
      else if (ch === ')') depth--;
    }
    const rest = text.slice(start, i - 1).replace(/^\s*,/, '');
    out.push({ format: m[1]!, args: splitArgs(rest), line: text.slice(0, m.index).split('\n').length });
  }
  return out;
}

/** Conversions of a format string, in order (%% excluded). */
function conversions(format: string): string[] {
  return [...format.matchAll(/%(%|[-0-9.]*(?:llu|lld|lu|ld|hhu|hu|u|d|x|s|r|c|p))/g)]
    .map((m) => m[1]!)
    .filter((c) => c !== '%');
}

/** Fields whose values are strings: printed escaped with %r so a TAB or newline cannot break a line. */
const ESCAPED_FIELDS = new Set(['comm', 'filename', 'chunk', 'path']);
/** Strings bpftrace itself formats (ntop): no raw bytes possible. */
const PLAIN_STRING_FIELDS = new Set(['address']);

const records = printfs(probeText()).filter((p) => /^[A-Z]\\t/.test(p.format));

describe('the probe prints exactly the records src/events/schema.ts defines', () => {
  it('finds the record printfs of the probe', () => {
    expect(records.length).toBeGreaterThanOrEqual(Object.keys(FIELDS).length);
  });

  it('prints every record type the schema defines, and no other', () => {
    const printed = new Set(records.map((r) => r.format[0]));
    expect([...printed].sort()).toEqual(Object.keys(FIELDS).sort());
  });

  for (const r of records) {
    const tag = r.format[0] as RecordTag;
    describe(`printf of ${tag} at line ${r.line}`, () => {
      const body = r.format.replace(/\\n$/, '');
      const fields = body.split('\\t').slice(1);
      const names = FIELDS[tag] as readonly string[] | undefined;

      it('ends with a newline and has the field count of the schema', () => {
        expect(r.format.endsWith('\\n')).toBe(true);
        expect(names, `tag ${tag} is not in FIELDS`).toBeDefined();
        expect(fields.length).toBe(names!.length);
      });

      it('passes one argument per conversion', () => {
        expect(r.args.length).toBe(conversions(r.format).length);
      });

      it('prints strings escaped and numbers as numbers', () => {
        fields.forEach((field, i) => {
          const name = names![i]!;
          if (ESCAPED_FIELDS.has(name)) {
            // Empty (a call without a path) or one or more %r conversions only.
            expect(field, `${tag}.${name}`).toMatch(/^(%r)*$/);
          } else if (PLAIN_STRING_FIELDS.has(name)) {
            expect(field, `${tag}.${name}`).toBe('%s');
          } else {
            // %llu/%lld for 64-bit values (%d truncates them in bpftrace 0.17), %d for 32-bit ids, or a literal.
            expect(field, `${tag}.${name}`).toMatch(/^(%llu|%lld|%d|-?\d+)$/);
          }
        });
      });

      it('prints 64-bit quantities with %llu or %lld', () => {
        fields.forEach((field, i) => {
          const name = names![i]!;
          if (name === 'ts' || /Ns$/.test(name) || name === 'offset' || name === 'argvLen') {
            expect(field, `${tag}.${name}`).toMatch(/^%ll[ud]$/);
          }
        });
      });
    });
  }
});

describe('the probe and the schema agree on ids and sizes', () => {
  const text = probeText();
  // `if ($id == $N) { $sc = K; $a = $aI; }` in the raw_syscalls entry hook, where $aI = args->args[I]
  const enterHooks = [...text.matchAll(/\$id == \$(\d+)\) \{ (?:if \(\$a0 != 0\) \{ )?\$sc = (\d+);(?: \$a = \$a(\d);)?/g)]
    .map((m) => ({ name: PROBE_SYSCALLS[Number(m[1]) - FIRST_SYSCALL_PARAM]!, id: Number(m[2]), argIndex: m[3] === undefined ? undefined : Number(m[3]) }));

  it('gives every traced syscall the id SYSCALLS names it by, from its own number parameter', () => {
    expect(text).toMatch(/\$a0 = args->args\[0\];\s*\$a1 = args->args\[1\];/);
    expect(enterHooks.length).toBe(Object.keys(SYSCALLS).length);
    for (const h of enterHooks) expect(SYSCALLS[h.id], `${h.name} uses id ${h.id}`).toBe(h.name);
  });

  it('the agent set hooks each syscall on its own tracepoint with the id SYSCALLS names it by (all but the reads)', () => {
    // @e[tid] = (start, path pointer or fd, run-queue delay, id)
    const hooks = [...text.matchAll(/tracepoint:syscalls:sys_enter_(\w+) \/@tracked\[pid\]\/ \{ @e\[tid\] = \(nsecs, \(uint64\)(args->(\w+)|0), \*\(uint64 \*\)\(\(uint64\)curtask \+ \$78\), \(uint64\)(\d+)\); \}/g)]
      .map((m) => ({ name: m[1]!, id: Number(m[4]), arg: m[3] }));
    for (const h of hooks) expect(SYSCALLS[h.id], `${h.name} uses id ${h.id}`).toBe(h.name);
    expect(hooks.map((h) => h.name).sort()).toEqual(Object.values(SYSCALLS).filter((n) => n !== 'read' && n !== 'pread64').sort());
    for (const h of hooks) {
      if (FD_SYSCALLS.has(h.id)) expect(h.arg, h.name).toBe('fd');
      else if (h.arg !== undefined) expect(h.arg, h.name).toMatch(/^(filename|pathname|oldname)$/);
    }
    // every one of them has an exit in the shared exit block
    for (const h of hooks) expect(text, h.name).toContain(`tracepoint:syscalls:sys_exit_${h.name}`);
    // close drops a traced process's fd name (the map looked up once: no predicate)
    expect(text).toMatch(/tracepoint:syscalls:sys_enter_close\s*\{\s*\$k = @tracked\[pid\];\s*if \(\$k\) \{[^}]*delete\(@fdpathA\[pid, \$fd/);
  });

  it('takes every number parameter it is given, and drops the fd names at close', () => {
    const used = [...text.matchAll(/\$id == \$(\d+)\)/g)].map((m) => Number(m[1]));
    expect(used).toEqual(PROBE_SYSCALLS.map((_, i) => FIRST_SYSCALL_PARAM + i));
    const closeParam = FIRST_SYSCALL_PARAM + PROBE_SYSCALLS.indexOf('close');
    expect(text).toMatch(new RegExp(`\\$id == \\$${closeParam}\\) \\{\\s*\\$k = [^}]*delete\\(@fdpathA\\[pid, \\$a0`));
  });

  it('records an fd (argument 0) for exactly the FD_SYSCALLS, and the path argument for the others', () => {
    const fdIds = enterHooks.filter((h) => h.argIndex === 0 && h.name !== 'execve').map((h) => h.id);
    expect(fdIds.sort((a, b) => a - b)).toEqual([...FD_SYSCALLS].sort((a, b) => a - b));
    // execve(filename, …) and the *at(dirfd, path, …) calls
    for (const h of enterHooks.filter((x) => !FD_SYSCALLS.has(x.id) && x.argIndex !== undefined)) {
      expect(h.argIndex, h.name).toBe(h.name === 'execve' ? 0 : 1);
    }
  });

  it('sums syscalls into the classes classOfSyscall uses', () => {
    const cls = /\$cls\s*=\s*([^;]+);/.exec(text)![1]!;
    const bounds = [...cls.matchAll(/\$sc\s*<\s*(\d+)/g)].map((m) => Number(m[1]));
    expect(bounds).toEqual([10, 20, 30, 40]);
    // Just below and at each bound the schema switches class too.
    const classes = bounds.flatMap((b) => [classOfSyscall(b - 1), classOfSyscall(b)]);
    for (let i = 0; i < classes.length; i += 2) expect(classes[i]).not.toBe(classes[i + 1]);
  });

  it('buckets latencies at BUCKET_BOUNDS_NS', () => {
    // calls under the first bound are not bucketed (most calls: a map update saved); the
    // others go to buckets 1..3 at the remaining bounds
    expect(text).toContain(`if ($blocked >= ${BUCKET_BOUNDS_NS[0]}) {`);
    const buckets = [...text.matchAll(/\$blocked < (\d+) \? (\d) :/g)];
    expect(buckets.map((m) => Number(m[1]))).toEqual(BUCKET_BOUNDS_NS.slice(1));
    expect(buckets.map((m) => Number(m[2]))).toEqual([1, 2]);
    // and the A record prints them in that order, the first as the calls not in the others
    expect(text).toMatch(/\$b1 = @bk\[tid, \$c, 1\]; \$b2 = @bk\[tid, \$c, 2\]; \$b3 = @bk\[tid, \$c, 3\];/);
    expect(text).toMatch(/\$ac\.4, \$ac\.0 - \$b1 - \$b2 - \$b3, \$b1, \$b2, \$b3\);/);
  });

  it('reads paths of PROBE_STRLEN bytes, and the runner sets BPFTRACE_STRLEN to match', () => {
    for (const m of text.matchAll(/buf\(\$(path|fn), (\d+)\)/g)) expect(Number(m[2])).toBe(PROBE_STRLEN);
    // The fd path is kept in two halves that add up to the same length.
    const halves = [...text.matchAll(/@fdpath[AB]\[.*\]\s*=\s*buf\(.*, (\d+)\);/g)];
    expect(halves.length).toBe(2);
    expect(halves.reduce((n, m) => n + Number(m[1]), 0)).toBe(PROBE_STRLEN);
    expect(readFileSync(RUNNER_PATH, 'utf8')).toContain(`BPFTRACE_STRLEN: '${PROBE_STRLEN}'`);
  });
});
