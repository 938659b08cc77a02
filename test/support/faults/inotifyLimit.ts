// Fixture: a lowered fs.inotify.max_user_watches, plus a Go program that runs into it (ENOSPC),
// like a file watcher (gopls, air, …) on a big tree.
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The sysctl fs.inotify.max_user_watches. It is per user: all of root's processes share it. */
export const MAX_USER_WATCHES_PATH = '/proc/sys/fs/inotify/max_user_watches';

/** Exit status of the watcher program when inotify_add_watch fails with ENOSPC. */
export const WATCHER_EXIT_ENOSPC = 2;
/** Exit status of the watcher program on any other error. */
export const WATCHER_EXIT_OTHER = 1;

export interface LoweredInotifyWatches {
  /** Value found before we changed it (and that restore() writes back). */
  previous: number;
  /** Value now in force. */
  current: number;
  /** Writes `previous` back; safe to call twice. */
  restore: () => Promise<void>;
}

/** Current fs.inotify.max_user_watches. */
export async function readMaxUserWatches(): Promise<number> {
  return Number((await readFile(MAX_USER_WATCHES_PATH, 'utf8')).trim());
}

/**
 * Inotify watches currently held by processes whose real uid is `uid` (the limit is charged per
 * user), counted from /proc/PID/fdinfo. Lets a test pick a limit just above what is in use.
 */
export async function countInotifyWatches(uid = 0): Promise<number> {
  let total = 0;
  for (const pid of (await readdir('/proc')).filter((n) => /^\d+$/.test(n))) {
    try {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) !== uid) continue;
      for (const fd of await readdir(`/proc/${pid}/fdinfo`)) {
        const info = await readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8').catch(() => '');
        total += info.match(/^inotify wd:/gm)?.length ?? 0;
      }
    } catch {
      // the process exited while we looked: it holds no watches any more
    }
  }
  return total;
}

/** Sets fs.inotify.max_user_watches to `n` (system-wide, for every user) until restore(). */
export async function lowerInotifyWatches(n: number): Promise<LoweredInotifyWatches> {
  if (!Number.isInteger(n) || n < 1) throw new Error(`max_user_watches must be a positive integer, got ${n}`);
  const previous = await readMaxUserWatches();
  let restored = false;
  // A single write either happens or not, so there is no partial state to roll back.
  await writeFile(MAX_USER_WATCHES_PATH, `${n}\n`);
  return {
    previous,
    current: n,
    restore: async () => {
      if (restored) return;
      await writeFile(MAX_USER_WATCHES_PATH, `${previous}\n`);
      restored = true;
    },
  };
}

const WATCHER_MAIN = `// Watcher: creates N directories and adds an inotify watch on each, the way file watchers do.
// Written by gostall's test fixtures; uses only the standard library (no golang.org/x/sys).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

func main() {
	n := flag.Int("n", __NDIRS__, "number of directories to create and watch")
	root := flag.String("root", "watched", "directory under which to create them")
	flag.Parse()

	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC)
	if err != nil {
		fmt.Fprintln(os.Stderr, "inotify_init1:", err)
		os.Exit(${WATCHER_EXIT_OTHER})
	}
	defer syscall.Close(fd)

	for i := 0; i < *n; i++ {
		dir := filepath.Join(*root, fmt.Sprintf("d%05d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "mkdir:", err)
			os.Exit(${WATCHER_EXIT_OTHER})
		}
		if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_CREATE|syscall.IN_DELETE|syscall.IN_MODIFY); err != nil {
			fmt.Fprintf(os.Stderr, "inotify_add_watch %s: %v (after %d watches)\\n", dir, err, i)
			if errors.Is(err, syscall.ENOSPC) {
				os.Exit(${WATCHER_EXIT_ENOSPC})
			}
			os.Exit(${WATCHER_EXIT_OTHER})
		}
	}
	fmt.Printf("watching %d directories\\n", *n)
}
`;

/**
 * Writes a standalone Go module (go.mod + main.go) into `dir` whose program creates `nDirs`
 * directories (flag -n, under flag -root, default ./watched) and watches each one; it exits
 * WATCHER_EXIT_ENOSPC when the watch limit is hit.
 */
export async function writeWatcherProgram(
  dir: string,
  nDirs: number,
): Promise<{ dir: string; goModPath: string; mainPath: string }> {
  if (!Number.isInteger(nDirs) || nDirs < 0) throw new Error(`nDirs must be a non-negative integer, got ${nDirs}`);
  await mkdir(dir, { recursive: true });
  const goModPath = join(dir, 'go.mod');
  const mainPath = join(dir, 'main.go');
  await writeFile(goModPath, 'module example.com/watcher\n\ngo 1.19\n');
  await writeFile(mainPath, WATCHER_MAIN.replace('__NDIRS__', String(nDirs)));
  return { dir, goModPath, mainPath };
}
