# A DNS server on 127.0.0.1:53 (run inside a test's own network namespace) that answers every
# query with one fixed response code: 3 = NXDOMAIN, 2 = SERVFAIL; 'silent' never answers.
# Nothing here ever sends traffic beyond the namespace's loopback.
import socket
import sys

mode = sys.argv[1]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(('127.0.0.1', 53))
print('ready', flush=True)
while True:
    data, peer = sock.recvfrom(4096)
    if mode == 'silent' or len(data) < 12:
        continue
    rcode = 3 if mode == 'nxdomain' else 2
    # same id and question; QR=1, RD copied, RA=1; no answers
    flags = 0x8000 | (data[2] & 0x01) << 8 | 0x0080 | rcode
    sock.sendto(data[:2] + flags.to_bytes(2, 'big') + data[4:6] + b'\x00\x00\x00\x00\x00\x00' + data[12:], peer)
