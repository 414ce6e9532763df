#!/usr/bin/env python3
"""Writes the seed corpora of the session-level fuzz targets (tests/fuzz/corpus/<name>/ for
negotiate, session_setup, tree_connect, error, misc): the Windows messages of Microsoft's
"SMB 3.1.1 Pre-authentication integrity in Windows 10" test vector, messages built field by
field per MS-SMB2 2.2.2 - 2.2.10, and edge cases. Re-running rewrites the seed-*.bin files and
leaves other files (crash inputs kept as regressions) alone."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def le16(v): return struct.pack('<H', v)
def le32(v): return struct.pack('<I', v)
def le64(v): return struct.pack('<Q', v)
def u16(s): return s.encode('utf-16-le')
def pad(b, a): return b + b'\0' * (-len(b) % a)


def header(command, status=0):
    """64-byte response header, MS-SMB2 2.2.1.2."""
    return (le32(0x424d53fe) + le16(64) + le16(1) + le32(status) + le16(command) + le16(1) +
            le32(1) + le32(0) + le64(7) + le32(0) + le32(1) + le64(0x1122334455667788) +
            b'\0' * 16)


BLOG_NEGOTIATE_RESPONSE = bytes.fromhex(
    "FE534D4240000100000000000000010001000000000000000100000000000000FFFE000000000000"
    "000000000000000000000000000000000000000000000000410001001103020039CBCAF329714942"
    "BDCE5D60F09AB3FB2F000000000080000000800000008000D8DAE5ADCBAED00109094AB095AED001"
    "80004001C00100006082013C06062B0601050502A08201303082012CA01A3018060A2B0601040182"
    "3702021E060A2B06010401823702020AA282010C048201084E45474F455854530100000000000000"
    "60000000700000007C7CC0FD06D6362D02DDE1CF343BFE292900F49750B4AA97934D9C4296B26E51"
    "FD370471B235E15A50DAE15BD5489C87000000000000000060000000010000000000000000000000"
    "5C33530DEAF90D4DB2EC4AE3786EC3084E45474F4558545303000000010000004000000098000000"
    "7C7CC0FD06D6362D02DDE1CF343BFE295C33530DEAF90D4DB2EC4AE3786EC3084000000058000000"
    "3056A05430523027802530233121301F06035504031318546F6B656E205369676E696E6720507562"
    "6C6963204B65793027802530233121301F06035504031318546F6B656E205369676E696E67205075"
    "626C6963204B6579010026000000000001002000010060A3C3B95C3C7CCD51EC536648D9B3AC74C4"
    "83CA5B65385A251117BEB30712E50000020004000000000001000200")

BLOG_SESSION_SETUP_RESPONSE = bytes.fromhex(
    "FE534D4240000100160000C00100010001000000000000000200000000000000FFFE000000000000"
    "190000000010000000000000000000000000000000000000090000004800B300A181B03081ADA003"
    "0A0101A10C060A2B06010401823702020AA281970481944E544C4D53535000020000000C000C0038"
    "00000015828AE20D1D8BA31179D008000000000000000050005000440000000A0092270000000F53"
    "005500540033003100310002000C0053005500540033003100310001000C00530055005400330031"
    "00310004000C0053005500540033003100310003000C0053005500540033003100310007000800A1"
    "A1F5ADCBAED00100000000")


def neg_context(ctype, data):
    """SMB2_NEGOTIATE_CONTEXT, MS-SMB2 2.2.3.1."""
    return le16(ctype) + le16(len(data)) + le32(0) + data


def negotiate_response(dialect, contexts, token=b'', sec_off=None):
    """NEGOTIATE response, MS-SMB2 2.2.4: token then 8-aligned contexts."""
    buf = token
    ctx_off = 0
    if contexts:
        buf = pad(buf, 8)  # the buffer starts at 128, so this aligns the first context
        ctx_off = 128 + len(buf)
        for i, c in enumerate(contexts):
            buf += c if i == len(contexts) - 1 else pad(c, 8)
    body = (le16(65) + le16(1) + le16(dialect) + le16(len(contexts)) + bytes(range(16)) +
            le32(0x7F) + le32(0x800000) * 3 + le64(0x01D0AECBADE5DAD8) + le64(0) +
            le16(128 if sec_off is None else sec_off) + le16(len(token)) + le32(ctx_off))
    return header(0) + body + buf


PREAUTH = neg_context(1, le16(1) + le16(32) + le16(1) + bytes(range(32)))
CIPHER = neg_context(2, le16(1) + le16(4))
SIGNING = neg_context(8, le16(1) + le16(2))
TRANSPORT = neg_context(6, le32(1))
COMPRESSION = neg_context(3, le16(1) + le16(0) + le32(0) + le16(0))
RDMA = neg_context(7, le16(1) + le16(0) + le32(0) + le16(1))
NETNAME = neg_context(5, u16("server"))


def symlink_data(sub, prt, unparsed=0, flags=1):
    """Symbolic Link Error Response, MS-SMB2 2.2.2.2.1."""
    path = u16(sub) + u16(prt)
    rest = (le32(0x4C4D5953) + le32(0xA000000C) + le16(12 + len(path)) + le16(unparsed) +
            le16(0) + le16(len(u16(sub))) + le16(len(u16(sub))) + le16(len(u16(prt))) +
            le32(flags) + path)
    return le32(len(rest)) + rest


def error_response(status, data=b'', contexts=None, command=5):
    """ERROR response, MS-SMB2 2.2.2, plain or with 3.1.1 error contexts (2.2.2.1)."""
    if contexts is not None:
        data = b''
        for i, (eid, d) in enumerate(contexts):
            c = le32(len(d)) + le32(eid) + d
            data += c if i == len(contexts) - 1 else pad(c, 8)
    count = len(contexts) if contexts else 0
    return header(command, status) + le16(9) + bytes([count, 0]) + le32(len(data)) + (
        data if data else b'\0')


def seeds():
    s = {}
    neg = s.setdefault('negotiate', {})
    neg['blog-311'] = BLOG_NEGOTIATE_RESPONSE
    neg['all-contexts'] = negotiate_response(
        0x0311, [PREAUTH, CIPHER, SIGNING, TRANSPORT, COMPRESSION, RDMA, NETNAME], b'\x60\x00tok')
    neg['no-contexts'] = negotiate_response(0x0311, [])
    neg['unknown-context'] = negotiate_response(0x0311, [PREAUTH, neg_context(0x1234, b'xyz')])
    neg['duplicate'] = negotiate_response(0x0311, [PREAUTH, PREAUTH])
    neg['smb302'] = negotiate_response(0x0302, [], b'\x60\x03abc')
    neg['bad-cipher-count'] = negotiate_response(0x0311, [PREAUTH, neg_context(2, le16(2) +
                                                                           le16(4) + le16(2))])
    # The encoder half reads [n][dialects][flags][netname].
    neg['encoder-input'] = bytes([2]) + le16(0x0302) + le16(0x0311) + b'\xff' + b'srv.example'
    neg['encoder-bad-utf8'] = bytes([1]) + le16(0x0311) + b'\x20' + b'bad\xc0\x80'

    ss = s.setdefault('session_setup', {})
    ss['blog-more-processing'] = BLOG_SESSION_SETUP_RESPONSE
    ss['empty-token'] = header(1) + le16(9) + le16(1) + le16(0) + le16(0) + b'\0'
    ss['token'] = header(1) + le16(9) + le16(4) + le16(72) + le16(5) + b'\xa1\x03\x0a\x01\x00'
    ss['offset-in-header'] = header(1) + le16(9) + le16(0) + le16(8) + le16(4) + b'\0'

    tc = s.setdefault('tree_connect', {})
    tc['disk'] = header(3) + le16(16) + b'\x01\x00' + le32(0x8030) + le32(8) + le32(0x1F01FF)
    tc['pipe'] = header(3) + le16(16) + b'\x02\x00' + le32(0) + le32(0) + le32(0x12019F)
    tc['unc-path'] = b'\\\\server\\share'
    tc['unicode-path'] = '\\\\sérveur\\𝄞'.encode('utf-8')
    tc['bad-structure-size'] = header(3) + le16(9) + b'\x01\x00' + le32(0) + le32(0) + le32(0)

    er = s.setdefault('error', {})
    er['plain'] = error_response(0xC0000034)
    er['short-8-byte-body'] = header(5, 0xC0000034) + le16(9) + b'\0\0' + le32(0)
    er['buffer-too-small'] = error_response(0xC0000023, le32(256), command=16)
    er['symlink-plain'] = error_response(0x8000002D, symlink_data('\\??\\C:\\target', 'C:\\target', 8))
    er['symlink-context'] = error_response(0x8000002D, contexts=[
        (0x72645253, b'\x30\x00\x00\x00'), (0, symlink_data('..\\dir', '..\\dir', 0))])
    er['context-count-overflow'] = header(5, 0xC0000034) + le16(9) + b'\x03\x00' + le32(8) + le32(0) * 2
    er['pending-interim'] = error_response(0x00000103)
    er['raw-symlink-data'] = symlink_data('a', 'b')

    mi = s.setdefault('misc', {})
    mi['echo'] = header(13) + le16(4) + le16(0)
    mi['logoff'] = header(2) + le16(4) + le16(0)
    mi['ascii'] = b'hello'
    mi['utf8-mixed'] = 'é€𝄞'.encode('utf-8')
    mi['utf16-pair'] = '𝄞x'.encode('utf-16-le')
    mi['lone-surrogate'] = b'\x00\xd8a\x00'
    mi['overlong'] = b'\xc0\x80\xe0\x80\x80'
    mi['status-logon-failure'] = le32(0xC000006D)
    return s


def main():
    for target, files in seeds().items():
        d = os.path.join(HERE, 'corpus', target)
        os.makedirs(d, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(d, 'seed-' + name + '.bin'), 'wb') as f:
                f.write(data)


if __name__ == '__main__':
    main()
