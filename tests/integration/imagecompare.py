"""Byte comparison of two images of the same format, ignoring only the
fields qemu-img fills with random or time-dependent values."""
import os
import re
import struct


def _masked(data: bytearray, spans):
    for start, length in spans:
        data[start:start + length] = b"\0" * length
    return data


def _vpc_spans(data):
    spans = []
    for footer in (len(data) - 512, 0):
        if data[footer:footer + 8] == b"conectix":
            # timestamp, checksum, unique id
            spans += [(footer + 24, 4), (footer + 64, 4), (footer + 68, 16)]
    return spans


def _vhdx_spans(data):
    spans = []
    for header in (0x10000, 0x20000):
        # checksum, sequence number, file write GUID, data write GUID
        spans += [(header + 4, 4), (header + 8, 8), (header + 16, 16), (header + 32, 16)]
    # Region table entry 2 (metadata): its file offset; the page 83 data
    # (virtual disk id) is the third metadata item.
    metadata = struct.unpack_from("<Q", data, 0x30000 + 16 + 32 + 16)[0]
    spans.append((metadata + 0x10000 + 16, 16))
    return spans + _vhdx_log_spans(data)


def _vhdx_log_spans(data):
    """Log entries a write left (convert): each carries the log GUID qemu
    drew for it, and a checksum over it."""
    spans = []
    log_length, log_offset = struct.unpack_from("<IQ", data, 0x10000 + 68)
    for sector in range(log_offset, min(log_offset + log_length, len(data)), 4096):
        if data[sector:sector + 4] == b"loge":
            # checksum, log GUID
            spans += [(sector + 4, 4), (sector + 32, 16)]
    return spans


def _vmdk_normalise(data: bytearray):
    if data[:4] != b"KDMV":
        return data
    desc_sector, desc_sectors = struct.unpack_from("<QQ", data, 28)
    start, end = desc_sector * 512, (desc_sector + desc_sectors) * 512
    text = bytes(data[start:end])
    text = re.sub(rb"\nCID=[0-9a-f]+\n", b"\nCID=*\n", text)
    return data[:start] + text.ljust(end - start, b"\0") + data[end:]


def normalised(fmt: str, raw: bytes) -> bytes:
    data = bytearray(raw)
    if fmt == "vpc":
        return bytes(_masked(data, _vpc_spans(data)))
    if fmt == "vhdx":
        return bytes(_masked(data, _vhdx_spans(data)))
    if fmt == "vmdk":
        return bytes(_vmdk_normalise(data))
    return bytes(data)


def same_content(a, b, chunk=1 << 20):
    """Whether two files hold the same bytes, skipping what is a hole in
    both (a converted 1 GiB disk of zeroes is read in no time)."""
    if os.path.getsize(a) != os.path.getsize(b):
        return False
    size = os.path.getsize(a)

    def next_data(fd, pos):
        try:
            return os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:  # ENXIO: only a hole from here on
            return size

    fa, fb = os.open(a, os.O_RDONLY), os.open(b, os.O_RDONLY)
    try:
        pos = 0
        while pos < size:
            data = min(next_data(fa, pos), next_data(fb, pos))
            if data > pos:
                pos = data
                continue
            n = min(chunk, size - pos)
            if os.pread(fa, n, pos) != os.pread(fb, n, pos):
                return False
            pos += n
        return True
    finally:
        os.close(fa)
        os.close(fb)


def first_difference(a: bytes, b: bytes):
    if len(a) != len(b):
        return f"sizes differ: {len(a)} vs {len(b)}"
    for i in range(0, len(a), 4096):
        if a[i:i + 4096] != b[i:i + 4096]:
            for j in range(i, min(i + 4096, len(a))):
                if a[j] != b[j]:
                    return f"first difference at byte {j:#x}: {a[j]:#04x} vs {b[j]:#04x}"
    return None
