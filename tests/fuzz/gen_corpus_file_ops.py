#!/usr/bin/env python3
"""Writes the seed corpora of the SMB2 file-operation fuzz targets (tests/fuzz/corpus/<name>/):
valid messages built field by field per MS-SMB2 / MS-FSCC, plus edge cases. Run from anywhere;
re-running rewrites the seed-*.bin files and leaves other files (crash inputs) alone."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def u8(v): return struct.pack('<B', v)
def le16(v): return struct.pack('<H', v)
def le32(v): return struct.pack('<I', v)
def le64(v): return struct.pack('<Q', v)
def u16(s): return s.encode('utf-16-le')
def pad(b, a): return b + b'\0' * (-len(b) % a)


FID = le64(0x0102030405060708) + le64(0x1112131415161718)
LEASE_KEY = bytes(range(1, 17))


def header(command):
    """64-byte response header, MS-SMB2 2.2.1.2."""
    return (le32(0x424d53fe) + le16(64) + le16(1) + le32(0) + le16(command) + le16(1) +
            le32(1) + le32(0) + le64(7) + le32(0) + le32(1) + le64(0x1122334455667788) +
            b'\0' * 16)


def context(name, data, last):
    """SMB2_CREATE_CONTEXT, MS-SMB2 2.2.13.2: name at 16, data 8-aligned after it."""
    name_off = 16
    data_off = (name_off + len(name) + 7) & ~7 if data else 0
    body = pad(le32(0) + le16(name_off) + le16(len(name)) + le16(0) + le16(data_off) +
               le32(len(data)) + name, 8) + data
    if not last:
        body = pad(body, 8)
        body = le32(len(body)) + body[4:]
    return body


def create_response(contexts):
    body = (le16(89) + u8(0xFF) + u8(0) + le32(2) + le64(1) + le64(2) + le64(3) + le64(4) +
            le64(4096) + le64(1234) + le32(0x20) + le32(0) + FID)
    ctx = b''.join(context(n, d, i == len(contexts) - 1) for i, (n, d) in enumerate(contexts))
    off = 64 + len(body) + 8 if ctx else 0
    return header(5) + body + le32(off) + le32(len(ctx)) + ctx


def lease_v2(): return LEASE_KEY + le32(7) + le32(2) + le64(0) + bytes(range(0xa0, 0xb0)) + le16(9) + le16(0)
def lease_v1(): return LEASE_KEY + le32(3) + le32(0) + le64(0)


def output_response(command, buf, off=0x48):
    return header(command) + le16(9) + le16(off if buf else 0) + le32(len(buf)) + buf


def dirent_idboth(name, fid, last):
    """FILE_ID_BOTH_DIR_INFORMATION, MS-FSCC 2.4.17."""
    n = u16(name)
    e = (le32(0) + le32(0) + le64(1) + le64(2) + le64(3) + le64(4) + le64(1000) + le64(4096) +
         le32(0x20) + le32(len(n)) + le32(0) + u8(4) + u8(0) + pad(u16('AB'), 24) + le16(0) +
         le64(fid) + n)
    if not last:
        e = pad(e, 8)
        e = le32(len(e)) + e[4:]
    return e


def dirent_idfull(name, fid, last):
    """FILE_ID_FULL_DIR_INFORMATION, MS-FSCC 2.4.18."""
    n = u16(name)
    e = (le32(0) + le32(0) + le64(1) + le64(2) + le64(3) + le64(4) + le64(10) + le64(4096) +
         le32(0x10) + le32(len(n)) + le32(0) + le32(0) + le64(fid) + n)
    if not last:
        e = pad(e, 8)
        e = le32(len(e)) + e[4:]
    return e


def notify(entries):
    out = b''
    for i, (action, name) in enumerate(entries):
        n = u16(name)
        e = le32(0) + le32(action) + le32(len(n)) + n
        if i + 1 < len(entries):
            e = pad(e, 4)
            e = le32(len(e)) + e[4:]
        out += e
    return out


def ea_list(eas):
    out = b''
    for i, (flags, name, value) in enumerate(eas):
        e = le32(0) + u8(flags) + u8(len(name)) + le16(len(value)) + name + b'\0' + value
        if i + 1 < len(eas):
            e = pad(e, 4)
            e = le32(len(e)) + e[4:]
        out += e
    return out


def streams(entries):
    out = b''
    for i, (name, size) in enumerate(entries):
        n = u16(name)
        e = le32(0) + le32(len(n)) + le64(size) + le64(4096) + n
        if i + 1 < len(entries):
            e = pad(e, 8)
            e = le32(len(e)) + e[4:]
        out += e
    return out


def ioctl_response(ctl, out):
    return (header(11) + le16(49) + le16(0) + le32(ctl) + FID + le32(0x70) + le32(0) +
            le32(0x70) + le32(len(out)) + le32(0) + le32(0) + out)


def symlink(target, flags):
    n = u16(target)
    return (le32(0xA000000C) + le16(12 + 2 * len(n)) + le16(0) + le16(len(n)) + le16(len(n)) +
            le16(0) + le16(len(n)) + le32(flags) + n + n)


def patch(b, off, new):
    return b[:off] + new + b[off + len(new):]


BASIC = le64(1) + le64(2) + le64(3) + le64(4) + le32(0x21) + le32(0)
STANDARD = le64(8192) + le64(7000) + le32(1) + u8(0) + u8(0) + le16(0)

seeds = {
    'create': {
        'all-contexts': create_response([(b'RqLs', lease_v2()), (b'DH2Q', le32(60000) + le32(0)),
                                         (b'MxAc', le32(0) + le32(0x1f01ff)),
                                         (b'QFid', le64(0x4242) + le64(0x77) + b'\0' * 16)]),
        'lease-v1': create_response([(b'RqLs', lease_v1())]),
        'durable-v1-unknown': create_response([(b'DHnQ', b'\0' * 8),
                                               (bytes(range(0x90, 0xa0)), le32(0o755))]),
        'no-contexts': create_response([]),
        'bad-next': patch(create_response([(b'MxAc', le32(0) + le32(1)),
                                           (b'QFid', b'\0' * 32)]), 0x98, le32(33)),
        'header-only': header(5),
    },
    'close': {
        'close-postquery': header(6) + le16(60) + le16(1) + le32(0) + le64(1) + le64(2) +
                           le64(3) + le64(4) + le64(8192) + le64(5000) + le32(0x10),
        'flush': header(7) + le16(4) + le16(0),
        'set-info': header(17) + le16(2),
        'error-response': header(6) + le16(9) + u8(0) + u8(0) + le32(0) + u8(0),
    },
    'read': {
        'data': header(8) + le16(17) + u8(0x50) + u8(0) + le32(100) + le32(0) + le32(0) +
                bytes(range(100)),
        'padded': header(8) + le16(17) + u8(0x58) + u8(0) + le32(3) + le32(0) + le32(0) +
                  b'\0' * 8 + b'abc',
        'empty': header(8) + le16(17) + u8(0) + u8(0) + le32(0) + le32(0) + le32(0),
        'offset-in-header': header(8) + le16(17) + u8(0x10) + u8(0) + le32(4) + le32(0) +
                            le32(0),
    },
    'write': {
        'response': header(9) + le16(17) + le16(0) + le32(65536) + le32(0) + le16(0) + le16(0),
        'payload': bytes(range(256)) * 4,
        'empty': b'',
    },
    'lock': {
        'response': header(10) + le16(4) + le16(0),
        'elements': b''.join(le64(i * 100) + le64(10) + le32(2) for i in range(5)),
    },
    'oplock_break': {
        'oplock': header(18) + le16(24) + u8(1) + u8(0) + le32(0) + FID,
        'lease-notify': header(18) + le16(44) + le16(5) + le32(1) + LEASE_KEY + le32(7) +
                        le32(1) + le32(0) + le32(0x12) + le32(3),
        'lease-response': header(18) + le16(36) + le16(0) + le32(0) + LEASE_KEY + le32(1) +
                          le64(0),
        'bad-size': header(18) + le16(25) + b'\0' * 40,
    },
    'change_notify': {
        'rename': output_response(15, notify([(4, 'old'), (5, 'newname')])),
        'three': output_response(15, notify([(1, 'a'), (2, 'bb'), (3, 'ccc')])),
        'raw': notify([(1, 'x'), (3, 'yz')]),
        'bad-next': output_response(15, le32(22) + notify([(1, 'abcd'), (2, 'e')])[4:]),
    },
    'query_directory': {
        'idboth': output_response(14, dirent_idboth('.', 5, False) +
                                  dirent_idboth('hello.txt', 6, False) +
                                  dirent_idboth('z', 7, True)),
        'idfull': output_response(14, dirent_idfull('dir', 1, False) +
                                  dirent_idfull('file', 2, True)),
        'raw-idboth': dirent_idboth('..', 1, True),
        'name-overrun': output_response(14, dirent_idfull('abc', 1, True)[:-2]),
        'empty': output_response(14, b''),
    },
    'query_info': {
        'internal': output_response(16, le64(0x42)),
        'all': output_response(16, BASIC + STANDARD + le64(0x99) + le32(0) + le32(0x1f01ff) +
                               le64(0) + le32(0) + le32(0) + le32(len(u16('\\d\\f'))) +
                               u16('\\d\\f')),
        'network-open': output_response(16, le64(1) + le64(2) + le64(3) + le64(4) +
                                        le64(4096) + le64(10) + le32(0x80) + le32(0)),
        'fs-full-size': output_response(16, le64(1000000) + le64(250000) + le64(300000) +
                                        le32(8) + le32(512)),
        'fs-attribute': output_response(16, le32(7) + le32(255) + le32(8) + u16('NTFS')),
        'ea-list': output_response(16, ea_list([(0, b'user.one', b'value-1'),
                                                (0x80, b'b', b''),
                                                (0, b'user.three', b'3')])),
        'streams': output_response(16, streams([('::$DATA', 100), (':s:$DATA', 5)])),
        'raw-basic': BASIC,
        'raw-standard': STANDARD,
    },
    'ioctl': {
        'resume-key': ioctl_response(0x00140078, bytes(range(0x80, 0x98)) + le32(0)),
        'copychunk': ioctl_response(0x001480F2, le32(16) + le32(1048576) + le32(16777216)),
        'ranges': ioctl_response(0x000940CF, le64(0) + le64(4096) + le64(65536) + le64(100)),
        'symlink': ioctl_response(0x000900A8, symlink('..\\target', 1)),
        'raw-symlink': symlink('/abs/path', 0),
        'mount-point': ioctl_response(0x000900A8, le32(0xA0000003) + le16(8) + le16(0) +
                                      b'\0' * 8),
        'bad-output': patch(ioctl_response(0x000900A8, b'abcd'), 64 + 32, le32(0x6c)),
    },
}

for target, files in seeds.items():
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(d, 'seed-' + name + '.bin'), 'wb') as f:
            f.write(data)
print('wrote', sum(len(f) for f in seeds.values()), 'seeds')
