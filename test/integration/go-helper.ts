/**
 * A small Go program the integration tests run under gostall, built untraced with Debian's
 * Go before the tests start. It does one of a few things a test needs to measure against:
 *
 *   helper clock        prints its wall-clock readings (time.Now, CLOCK_REALTIME) around
 *                       running itself as a child that prints its own start and end
 *   helper stat PATH…   os.Stat every path (Go's stat is newfstatat)
 *   helper bytes N      writes N deterministic bytes covering every byte value to stdout
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { goEnv } from '../support/faults/goModule.js';

const execFileP = promisify(execFile);

const SOURCE = `package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"
)

func now() int64 { return time.Now().UnixNano() }

func main() {
	switch os.Args[1] {
	case "clock":
		fmt.Printf("driver-start %d\\n", now())
		cmd := exec.Command(os.Args[0], "clock-child")
		cmd.Stdout = os.Stdout
		spawn := now()
		if err := cmd.Run(); err != nil {
			panic(err)
		}
		reaped := now()
		fmt.Printf("spawn %d\\nreaped %d\\n", spawn, reaped)
		fmt.Printf("driver-end %d\\n", now())
	case "clock-child":
		fmt.Printf("child-start %d\\n", now())
		time.Sleep(200 * time.Millisecond)
		fmt.Printf("child-end %d\\n", now())
	case "stat":
		for _, p := range os.Args[2:] {
			if _, err := os.Stat(p); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
	case "bytes":
		n, _ := strconv.Atoi(os.Args[2])
		w := bufio.NewWriter(os.Stdout)
		x := uint32(2463534242)
		for i := 0; i < n; i++ {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			b := byte(x)
			if i%1024 < 256 {
				b = byte(i % 1024) // every byte value, NUL and \\r and \\n included
			}
			w.WriteByte(b)
		}
		w.Flush()
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}
`;

/** Builds the helper into dir/helper and returns its path. */
export async function buildGoHelper(dir: string): Promise<string> {
  const src = join(dir, 'helper-src');
  await mkdir(src, { recursive: true });
  await writeFile(join(src, 'go.mod'), 'module example.com/helper\n\ngo 1.19\n');
  await writeFile(join(src, 'main.go'), SOURCE);
  const bin = join(dir, 'helper');
  const env = { ...process.env, ...goEnv({ gocache: join(dir, 'helper-gocache'), gomodcache: join(dir, 'helper-gomodcache'), home: join(dir, 'helper-home') }) };
  await execFileP('go', ['build', '-o', bin, '.'], { cwd: src, env, timeout: 120_000 });
  return bin;
}

/** "name value" lines printed by `helper clock`, as bigints. */
export function parseClockLines(stdout: string): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const line of stdout.split('\n')) {
    const m = /^([a-z-]+) (\d+)$/.exec(line.trim());
    if (m) out[m[1]!] = BigInt(m[2]!);
  }
  return out;
}
