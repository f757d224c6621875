"""Faults below HTTP, which the Authelia test double (a well-behaved TLS
server) cannot produce: a TCP listener that resets the connection in the
middle of the TLS handshake or answers the ClientHello with a fatal TLS alert,
and a DNS server that knows no name (NXDOMAIN).  Loopback only."""
import socket
import struct
import threading

# A TLS 1.2 record: alert (21), version 3.3, length 2, fatal (2), handshake_failure (40).
TLS_ALERT_HANDSHAKE_FAILURE = b"\x15\x03\x03\x00\x02\x02\x28"


class FaultListener:
    """Accepts on 127.0.0.1 and, once the client's first bytes (its ClientHello)
    arrive: "reset" closes with a TCP RST; "alert" sends a fatal TLS alert and
    closes.  connections counts the clients that came."""

    def __init__(self, behaviour):
        assert behaviour in ("reset", "alert")
        self.behaviour = behaviour
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        try:
            conn.settimeout(10)
            conn.recv(4096)  # the ClientHello
            if self.behaviour == "alert":
                conn.sendall(TLS_ALERT_HANDSHAKE_FAILURE)
            else:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.sock.close()


class NxDomainDns:
    """A UDP DNS server on address:53 answering every query NXDOMAIN (rcode 3);
    it records the names asked."""

    def __init__(self, address="127.0.0.78"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 53))
        self.queries = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                return
            i, labels = 12, []
            while i < len(data) and data[i]:
                labels.append(data[i + 1:i + 1 + data[i]].decode(errors="replace"))
                i += 1 + data[i]
            self.queries.append(".".join(labels).lower())
            qid = struct.unpack(">H", data[:2])[0]
            question = data[12:i + 5]
            self.sock.sendto(struct.pack(">HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question, peer)

    def close(self):
        self.sock.close()
