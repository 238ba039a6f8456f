#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>: a few valid inputs per target, in the
byte layout each property in src/properties reads (the first byte picks the mode). Run
from anywhere; it rewrites only the seed-* files."""
import base64, hashlib, json, os, struct, time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def frame(opcode, payload, fin=True, mask=b"\x37\xfa\x21\x3d"):
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        head = bytes([b0, 0x80 | n])
    elif n <= 0xFFFF:
        head = bytes([b0, 0x80 | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, 0x80 | 127]) + struct.pack(">Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


u32 = lambda n: struct.pack("<I", n)
u64 = lambda n: struct.pack("<Q", n)

# ws_reader: max_frame selector, mode (odd: raw), style, leftover, chunk seed, stream.
join = json.dumps({"type": "join", "room": "general"}).encode()
chat = json.dumps({"type": "chat", "room": "general", "content": "hi", "client_id": "c1"}).encode()
streams = {
    "join-chat": frame(1, join) + frame(1, chat),
    "ping-pong-close": frame(9, b"hb") + frame(10, b"") + frame(8, struct.pack(">H", 1000) + b"bye"),
    "fragmented": frame(1, b'{"type":', fin=False) + frame(0, b'"join",', fin=False) + frame(0, b'"room":"dev"}'),
    "len16": frame(2, bytes(range(256)) * 2),
    "unmasked": bytes([0x81, 0x02]) + b"hi",
    "huge-announced": bytes([0x82, 0xFF]) + struct.pack(">Q", 1 << 40) + b"\x00\x00\x00\x00" + b"x" * 64,
}
for i, (name, stream) in enumerate(streams.items()):
    write("ws_reader", "raw-" + name, bytes([5, 1, [0, 1, 7, 200][i % 4]]) + u32(i * 5) + u64(0x9E3779B97F4A7C15 * (i + 1) % (1 << 64)) + stream)
for i in range(4):
    write("ws_reader", "built-%d" % i, bytes([i * 2 + 1, 0]) + bytes((i * 37 + j * 11) % 256 for j in range(48)))

# ws_handshake: key length (u32 % 80), key, then origin bytes.
key = b"dGhlIHNhbXBsZSBub25jZQ=="
write("ws_handshake", "rfc-key", u32(len(key)) + key + bytes([0, 0, 0, 0, 0, 0]))
write("ws_handshake", "hosts", u32(8) + b"AAAAAAAA" + bytes([1, 1, 12]) + b"chat" + bytes([2, 8]) + b"evil.exa" + b"\x01")
write("ws_handshake", "empty", b"")

# chat_protocol: mode (odd: raw text), then text.
frames = [
    join, chat,
    b'{"type":"delete","room":"general","id":5,"client_id":"d1"}',
    b'{"type":"typing","room":"dev"}',
    b'{"type":"chat","room":"Bad Room","content":"x","client_id":"c8"}',
    b'{"type":"chat","room":"general","content":"a\\u0000b","client_id":"c9"}',
    b'{"type":"dance"}',
]
for i, f in enumerate(frames):
    write("chat_protocol", "raw-%d" % i, b"\x01" + f)
write("chat_protocol", "built-0", b"\x00" + bytes(range(0, 64)))

# bus_envelope: mode (odd: raw payload), then the payload.
envs = [
    b'n1\nchat\ngeneral\n42\n{"type":"chat","content":"two\\nlines"}',
    b"n1\njoin\ngeneral\nann\n{}",
    b"n1\naccount_closed\n\neve\n{}",
    b"n1\nsession_ended\n\nZm9vYmFy\n{}",
    b"n1\nheartbeat\n\n\n{}",
]
for i, e in enumerate(envs):
    write("bus_envelope", "raw-%d" % i, b"\x01" + e)
write("bus_envelope", "built-0", b"\x00" + bytes(range(1, 40)))

# feed_query: mode (odd: raw query string), then the string.
for i, q in enumerate([b"room=general", b"room=general&limit=10&before=5", b"room=dev&after=0&limit=500", b"room=general&before=1&after=2", b"room=%20x&limit=%2B3"]):
    write("feed_query", "raw-%d" % i, b"\x01" + q)
write("feed_query", "built-0", b"\x00" + bytes(range(2, 50)))

# token_verifier: mode 0 is a raw string: a token signed by the properties' fixed key
# (seed [7; 32], issuer chatapp), valid for 100 years; modes 1-3 forge or mutate.
sk = Ed25519PrivateKey.from_private_bytes(bytes([7] * 32))
pk = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
kid = hashlib.sha256(pk).hexdigest()[:16]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=")
now = int(time.time())
header = b64(json.dumps({"typ": "JWT", "alg": "EdDSA", "kid": kid}, separators=(",", ":")).encode())
claims = b64(json.dumps({"sub": "42", "username": "alice", "iat": now, "exp": now + 100 * 365 * 86400, "aud": "chatapp:access", "iss": "chatapp"}, separators=(",", ":")).encode())
token = header + b"." + claims + b"." + b64(sk.sign(header + b"." + claims))
write("token_verifier", "raw-signed", b"\x00" + token)
write("token_verifier", "raw-junk", b"\x00eyJhbGciOiJub25lIn0.e30.")
for i in range(1, 4):
    write("token_verifier", "mutate-%d" % i, bytes([i, i * 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37]))
