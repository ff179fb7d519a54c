"""Print every IPv4 packet on eth0 for a while: direction, TCP ports and flags, TLS record sizes.

    python bench/wire_capture.py SECONDS MY_IP      # inside a lab host (root; AF_PACKET)

Used by `mesh_bench.py --capture` to show what an idle push-pull round puts on the wire. TLS 1.3
hides record types, but sizes tell requests, responses and HTTP/2 PINGs (34-byte records) apart.
"""

from __future__ import annotations

import socket
import struct
import sys
import time


def main() -> None:
    secs, me = float(sys.argv[1]), sys.argv[2]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))  # ETH_P_ALL
    s.bind(("eth0", 0))
    s.settimeout(0.2)
    t0 = time.time()
    tot = {"out": [0, 0], "in": [0, 0]}
    while time.time() - t0 < secs:
        try:
            pkt = s.recv(65535)
        except socket.timeout:
            continue
        if len(pkt) < 34 or pkt[12:14] != b"\x08\x00":
            continue  # not IPv4 (IPv6 router/MLD chatter)
        ihl, proto = (pkt[14] & 15) * 4, pkt[23]
        d = "out" if socket.inet_ntoa(pkt[26:30]) == me else "in"
        tot[d][0] += 1
        tot[d][1] += len(pkt)
        line = f"{time.time() - t0:7.3f} {d:3} len={len(pkt)}"
        if proto == 6:
            t = 14 + ihl
            sp, dp = struct.unpack("!HH", pkt[t:t + 4])
            payload = pkt[t + (pkt[t + 12] >> 4) * 4:]
            recs, i = [], 0
            while i + 5 <= len(payload):
                n = struct.unpack("!H", payload[i + 3:i + 5])[0]
                recs.append(n)
                i += 5 + n
            line += f" tcp {sp}->{dp} flags={pkt[t + 13]:02x} tls={recs}"
        else:
            line += f" proto={proto}"
        print(line)
    print(f"total out {tot['out'][0]} packets {tot['out'][1]} B, in {tot['in'][0]} packets {tot['in'][1]} B")


if __name__ == "__main__":
    main()
