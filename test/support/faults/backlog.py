#!/usr/bin/python3
"""TCP listener on 127.0.0.1 whose accept queue fills up and is never drained.

Test fixture for gostall (see tcpFaults.ts). listen(0) leaves room for a single
pending connection; once a client occupies it, the kernel drops every further
SYN, so new connects stall and retransmit their SYN (Linux 6.18: every
1 s for 5 s, then at 7, 11, 19 ... s; ETIMEDOUT after ~131 s).

Protocol: prints {"port": N} on stdout once listening. Reads commands from
stdin, one per line:
  accept  accept one pending connection, close it, print "accepted"
EOF on stdin, SIGTERM, or --max-seconds elapsed: exit.
"""

import argparse
import json
import signal
import socket
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--max-seconds', type=int, default=300,
                        help='exit after this long even if nobody stops us')
    args = parser.parse_args()

    # Bounded in time: a forgotten helper must not keep a port stalled forever.
    signal.alarm(args.max_seconds)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    sock.listen(0)
    print(json.dumps({'port': sock.getsockname()[1]}), flush=True)

    for line in sys.stdin:
        if line.strip() == 'accept':
            conn, _ = sock.accept()
            conn.close()
            print('accepted', flush=True)


if __name__ == '__main__':
    main()
