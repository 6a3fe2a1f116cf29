#!/usr/bin/env python3
"""Writes the hand-made seed inputs of the fuzz targets into Tests/FuzzCorpus/<target>/.

Each seed is named seed-<what>; inputs the fuzzer adds (libFuzzer names them by SHA-1)
sit beside them. The formats are described in Sources/WasmSandboxFuzzing."""
import hashlib
import json
import os
import struct
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "FuzzCorpus")


def write(target, name, data):
    directory = os.path.join(root, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "seed-" + name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# mcp-arguments: JSON objects as an MCP client sends them.
mcp = {
    "wat": {"language": "wat", "code": "(module)"},
    "js": {"language": "javascript", "code": "console.log(1)", "timeout_ms": 100},
    "python": {"language": "python", "code": "print(1)", "memory_mb": 64, "fuel": 1000},
    "wasm": {"language": "wasm", "code": "AGFzbQEAAAA="},
    "wasm-bad-base64": {"language": "wasm", "code": "!!!"},
    "wasm-empty": {"language": "wasm", "code": ""},
    "everything": {"language": "wat", "code": "(module)", "stdin": "abc", "args": ["a", "b"],
                   "env": [{"name": "A", "value": "1"}], "timeout_ms": 30000, "memory_mb": 1024, "fuel": 5,
                   "files": [{"name": "a.txt", "text": "x"}, {"name": "b.bin", "base64": "AAE="}]},
    "files-bad": {"language": "wat", "code": "", "files": [{"name": "a"}, 3]},
    "files-bad-base64": {"language": "wat", "code": "", "files": [{"name": "a", "base64": "%"}]},
    "args-mixed": {"language": "wat", "code": "", "args": ["a", 1]},
    "env-bad": {"language": "wat", "code": "", "env": [{"name": "A", "value": 1}]},
    "env-map": {"language": "wat", "code": "", "env": {"A": "1"}},
    "nulls": {"language": "javascript", "code": "1", "stdin": None, "args": None, "env": None, "files": None,
              "timeout_ms": None, "memory_mb": None, "fuel": None, "session_id": None},
    "clamped": {"language": "wat", "code": "", "timeout_ms": 99999999, "memory_mb": 99999, "fuel": 10 ** 18},
    "fractional": {"language": "wat", "code": "", "timeout_ms": 1.5},
    "whole-double": {"language": "wat", "code": "", "memory_mb": 2.0},
    "negative": {"language": "wat", "code": "", "timeout_ms": -1},
    "zero": {"language": "wat", "code": "", "fuel": 0},
    "string-number": {"language": "wat", "code": "", "timeout_ms": "5"},
    "null-limit": {"language": "wat", "code": "", "memory_mb": None},
    "unknown": {"language": "wat", "code": "", "extra": True},
    "no-language": {"code": ""},
    "no-code": {"language": "python"},
    "bad-language": {"language": "cobol", "code": ""},
    "language-number": {"language": 1, "code": ""},
    "empty": {},
}
for name, value in mcp.items():
    write("mcp-arguments", name, json.dumps(value))
write("mcp-arguments", "not-object", "[1, 2]")

# disk-cache: mode byte, then a file (even) or control bytes + payload (odd).
MAGIC = b"WSBXMOD1"
engine = hashlib.sha256(b"fuzz engine").digest()
key = hashlib.sha256(b"fuzz module").digest()


def cache_file(payload):
    return MAGIC + engine + key + hashlib.sha256(payload).digest() + struct.pack("<Q", len(payload)) + payload


write("disk-cache", "raw-empty", b"\0")
write("disk-cache", "raw-magic", b"\0" + MAGIC)
write("disk-cache", "raw-header-zeros", b"\0" + MAGIC + bytes(104))
write("disk-cache", "raw-valid", b"\0" + cache_file(b"\0asm\1\0\0\0"))
write("disk-cache", "raw-valid-empty", b"\0" + cache_file(b""))
write("disk-cache", "raw-wrong-engine", b"\0" + MAGIC + key + key + cache_file(b"")[72:])
write("disk-cache", "raw-long-length", b"\0" + cache_file(b"ab")[:104] + struct.pack("<Q", 2 ** 64 - 1) + b"ab")
write("disk-cache", "raw-truncated", b"\0" + cache_file(b"abcdef")[:-1])
for kind in range(5):
    for position in (0, 7, 50, 111, 300):
        write("disk-cache", f"built-{kind}-{position}", bytes([1, kind, position >> 8, position & 255]) + b"payload")

# wasi-shadows: flags (bit 0 workspace, bits 1-2 calls - 1), then per call a function
# index and its arguments, then guest memory from address 0.
FUNCTIONS = ["fd_write", "poll_oneoff", "random_get", "fd_pwrite", "fd_allocate", "fd_filestat_set_size",
             "path_open", "path_create_directory", "path_symlink", "path_link", "fd_seek"]
I64 = {("fd_pwrite", 3), ("fd_allocate", 1), ("fd_allocate", 2), ("fd_filestat_set_size", 1),
       ("path_open", 5), ("path_open", 6), ("fd_seek", 1)}


def call(name, *arguments):
    data = bytes([FUNCTIONS.index(name)])
    for index, value in enumerate(arguments):
        data += struct.pack("<q", value) if (name, index) in I64 else struct.pack("<i", value)
    return data


def memory(*pieces):
    """(address, bytes) pairs laid out in one image."""
    image = bytearray()
    for address, data in pieces:
        image.extend(bytes(max(0, address + len(data) - len(image))))
        image[address:address + len(data)] = data
    return bytes(image)


def program(name, calls, image, workspace=False):
    flags = (1 if workspace else 0) | (len(calls) - 1) << 1
    write("wasi-shadows", name, bytes([flags]) + b"".join(calls) + image)


# Memory used by most seeds: an iovec at 16 -> "hello" at 32; a path "a.txt" at 48 and
# "b.txt" at 56; results at 8.
common = memory((16, struct.pack("<II", 32, 5)), (32, b"hello"), (48, b"a.txt"), (56, b"b.txt"))
program("stdout", [call("fd_write", 1, 16, 1, 8)], common)
program("stderr", [call("fd_write", 2, 16, 1, 8)], common)
program("write-bad-fd", [call("fd_write", 9, 16, 1, 8)], common)
program("write-too-many-iovecs", [call("fd_write", 1, 16, 5000, 8)], common)
program("write-iovec-outside", [call("fd_write", 1, 65532, 1, 8)], common)
program("write-result-outside", [call("fd_write", 1, 16, 1, 65534)], common)
program("write-huge-length", [call("fd_write", 1, 100, 1, 8)], memory((100, struct.pack("<II", 0, 0xFFFFFFFF))))
program("random", [call("random_get", 64, 32)], common)
program("random-outside", [call("random_get", 65500, 100)], common)
program("random-negative", [call("random_get", -1, -1)], common)
subscription = struct.pack("<QB7xIIQQH6x", 7, 0, 1, 0, 1_000_000, 0, 0)
program("poll-clock", [call("poll_oneoff", 0, 64, 1, 8)], memory((0, subscription)))
program("poll-abstime", [call("poll_oneoff", 0, 64, 1, 8)],
        memory((0, struct.pack("<QB7xIIQQH6x", 7, 0, 0, 0, 1, 0, 1))))
program("poll-fd", [call("poll_oneoff", 0, 64, 1, 8)], memory((0, struct.pack("<QB7xI36x", 9, 1, 0))))
program("poll-zero", [call("poll_oneoff", 0, 64, 0, 8)], common)
program("poll-out-outside", [call("poll_oneoff", 0, 65530, 1, 8)], memory((0, subscription)))
program("poll-in-outside", [call("poll_oneoff", 65500, 64, 2, 8)], common)
program("poll-many", [call("poll_oneoff", 0, 64, 1025, 8)], common)
program("pwrite-stdout", [call("fd_pwrite", 1, 16, 1, 0, 8)], common)
# Runs with a workspace: the preopened workspace is descriptor 3, the first file opened 4.
RIGHTS = (1 << 29) - 1
open_a = call("path_open", 3, 0, 48, 5, 1, RIGHTS, RIGHTS, 0, 12)
program("ws-stdout", [call("fd_write", 1, 16, 1, 8)], common, workspace=True)
program("ws-create-write", [open_a, call("fd_write", 4, 16, 1, 8)], common, workspace=True)
program("ws-pwrite", [open_a, call("fd_pwrite", 4, 16, 1, 100, 8)], common, workspace=True)
program("ws-pwrite-far", [open_a, call("fd_pwrite", 4, 16, 1, 1 << 40, 8)], common, workspace=True)
program("ws-seek-write", [open_a, call("fd_seek", 4, 1 << 30, 0, 8), call("fd_write", 4, 16, 1, 8)], common,
        workspace=True)
program("ws-allocate", [open_a, call("fd_allocate", 4, 0, 1000)], common, workspace=True)
program("ws-allocate-over", [open_a, call("fd_allocate", 4, 0, 5000)], common, workspace=True)
program("ws-allocate-offset", [open_a, call("fd_allocate", 4, 1 << 40, 1)], common, workspace=True)
program("ws-set-size", [open_a, call("fd_filestat_set_size", 4, 4000)], common, workspace=True)
program("ws-set-size-negative", [open_a, call("fd_filestat_set_size", 4, -1)], common, workspace=True)
program("ws-mkdir", [call("path_create_directory", 3, 48, 5)], common, workspace=True)
program("ws-symlink", [call("path_symlink", 48, 5, 3, 56, 5)], common, workspace=True)
program("ws-link", [open_a, call("path_link", 3, 0, 48, 5, 3, 56, 5)], common, workspace=True)
program("ws-open-outside", [call("path_open", 3, 0, 65530, 100, 1, RIGHTS, RIGHTS, 0, 12)], common, workspace=True)
program("ws-write-twice",
        [open_a, call("fd_write", 4, 200, 1, 8), call("fd_write", 4, 200, 1, 8), call("fd_write", 4, 200, 1, 8)],
        memory((48, b"a.txt"), (200, struct.pack("<II", 1000, 2000))), workspace=True)
print("seeds written under", os.path.normpath(root), file=sys.stderr)
