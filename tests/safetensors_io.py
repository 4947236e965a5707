"""Minimal safetensors reader/writer for the fixture generators (numpy only).

Debian packages no Python safetensors, so the generators use this instead.
The layout matches the reference writer's: 8-byte little-endian header
length, compact JSON header ("__metadata__" first, then the tensors in dict
order) padded with spaces so the data starts 8-byte aligned, then the
C-contiguous little-endian data of each tensor in turn.

    save("model.safetensors", {"conv1.weight": w}, {"earshot.labels": "[...]"})
    tensors, metadata = load("model.safetensors")
"""

import json
import os
import struct
import tempfile

import numpy as np

# safetensors dtype name -> little-endian numpy dtype. Only what
# core/safetensors.c reads (BF16 has no numpy dtype; I16 is not supported).
_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NAMES = {dt: name for name, dt in _DTYPES.items()}
_META = "__metadata__"
_HEADER_MAX = 16 << 20  # the C reader's cap


def _name_of(dtype):
    le = dtype.newbyteorder("<")  # big-endian input is stored little-endian
    for dt, name in _NAMES.items():
        if dt == le:
            return name
    raise ValueError(f"dtype {dtype} cannot be stored (supported: {', '.join(_DTYPES)})")


def save(path, tensors, metadata=None):
    """Writes tensors (name -> array) and metadata (str -> str) to path, atomically."""
    header = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"metadata {k!r}: keys and values must be str")
        header[_META] = dict(metadata)
    blobs, offset = [], 0
    for name, arr in tensors.items():
        if not isinstance(name, str) or name == _META:
            raise ValueError(f"tensor name {name!r} is not a str or is reserved")
        arr = np.asarray(arr)
        dtname = _name_of(arr.dtype)
        data = np.ascontiguousarray(arr, dtype=_DTYPES[dtname]).tobytes()
        header[name] = {
            "dtype": dtname,
            "shape": [int(d) for d in arr.shape],
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    if len(text) > _HEADER_MAX:
        raise ValueError(f"{path}: header of {len(text)} bytes exceeds 16 MiB")
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=os.path.basename(path) + ".tmp.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for b in blobs:
                f.write(b)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _no_duplicates(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r} in the header")
        out[k] = v
    return out


def _uints(v):
    return isinstance(v, list) and all(type(x) is int and x >= 0 for x in v)


def load(path):
    """Returns (tensors: dict name -> np.ndarray, metadata: dict str -> str).

    Checks what core/safetensors.c checks: header length, JSON, dtypes,
    shapes, offsets, and that the tensors cover the data section exactly.
    """
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise ValueError(f"{path}: {len(buf)} bytes is too short")
    (n,) = struct.unpack_from("<Q", buf)
    if n > _HEADER_MAX or 8 + n > len(buf):
        raise ValueError(f"{path}: header length {n} is too large for the file")
    header = json.loads(buf[8 : 8 + n].decode("utf-8"), object_pairs_hook=_no_duplicates)
    if not isinstance(header, dict):
        raise ValueError(f"{path}: header is not a JSON object")
    data = memoryview(buf)[8 + n :]
    metadata = header.pop(_META, {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(f"{path}: {_META} must map strings to strings")
    tensors, spans = {}, []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"{path}: tensor {name!r} must have dtype, shape and data_offsets")
        dtype = _DTYPES.get(info["dtype"]) if isinstance(info["dtype"], str) else None
        shape, offs = info["shape"], info["data_offsets"]
        if dtype is None:
            raise ValueError(f"{path}: tensor {name!r}: dtype {info['dtype']!r} is not supported")
        if not _uints(shape) or len(shape) > 8 or not _uints(offs) or len(offs) != 2:
            raise ValueError(f"{path}: tensor {name!r}: bad shape or data_offsets")
        begin, end = offs
        count = int(np.prod(shape, dtype=object))
        if not begin <= end <= len(data) or end - begin != count * dtype.itemsize:
            raise ValueError(f"{path}: tensor {name!r}: data_offsets {offs} do not fit")
        arr = np.frombuffer(data, dtype=dtype, count=count, offset=begin)
        tensors[name] = arr.reshape(shape).copy()
        spans.append((begin, end, name))
    at = 0
    for begin, end, name in sorted(spans):
        if begin != at:
            raise ValueError(f"{path}: tensor {name!r} overlaps another or leaves a hole")
        at = end
    if at != len(data):
        raise ValueError(f"{path}: {len(data) - at} trailing bytes belong to no tensor")
    return tensors, dict(metadata)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmpdir:
        p = os.path.join(tmpdir, "t.safetensors")
        want = {
            "conv1.weight": np.arange(6, dtype=np.float32).reshape(2, 3) - 2.5,
            "conv1.bias": np.array([0.5, -1e300, 3.0]),
            "step": np.array(123456789012345, dtype=np.int64),
            "empty": np.zeros((0, 4), dtype=np.float32),
            "idx": np.array([[-1, 2], [-3, 4]], dtype=np.int32),
            "fortran": np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4)),
            "big_endian": np.arange(3, dtype=">f4"),
        }
        meta = {"earshot.labels": '["dog", "cat"]', "format": "pt"}
        save(p, want, meta)
        got, got_meta = load(p)
        assert got_meta == meta
        assert list(got) == list(want)
        for k, v in want.items():
            assert got[k].shape == v.shape and np.array_equal(got[k], v), k
        raw = open(p, "rb").read()
        assert (8 + struct.unpack_from("<Q", raw)[0]) % 8 == 0

        # the very bytes tests/test_safetensors.c takes for the reference writer's
        save(p, {"a": np.array(-3, dtype=np.int64), "b": np.array([1.5, -2.0], np.float32)},
             {"format": "pt"})
        hdr = (b'{"__metadata__":{"format":"pt"},'
               b'"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]},'
               b'"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}')
        hdr += b" " * ((8 - len(hdr) % 8) % 8)
        ref = struct.pack("<Q", len(hdr)) + hdr + struct.pack("<q2f", -3, 1.5, -2.0)
        assert open(p, "rb").read() == ref
    print("safetensors_io: ok")
