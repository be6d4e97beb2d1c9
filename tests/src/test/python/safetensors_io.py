"""Pure-Python safetensors reader/writer (numpy only; no `safetensors` package needed).

File layout (https://github.com/huggingface/safetensors):
    8 bytes   little-endian unsigned 64-bit header length N
    N bytes   UTF-8 JSON object:
                {"__metadata__": {str: str},                       (optional)
                 "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
    rest      raw little-endian tensor data; offsets are relative to the start of this buffer

Writer conventions (match the reference Rust implementation, and the Java side of this project):
    * tensors are laid out in the buffer in name order (Python string order == code-point order),
      back to back with no padding, and listed in the header in the same order;
    * "__metadata__" (when given) is the first key of the header;
    * the JSON is compact (no spaces) and then padded with spaces so that N is a multiple of 8.
The reader accepts any key order, any (non-overlapping or not) offsets inside the buffer and an
optional "__metadata__"; it rejects headers that are malformed or point outside the buffer.

API:
    tensors, metadata = read(path)          # dict name -> np.ndarray (writable copies), dict str->str
    tensors = load(path)                    # just the tensors
    write(path, tensors, metadata=None, dtypes=None)
    encode(tensors, metadata=None, dtypes=None) -> bytes ; decode(data: bytes) -> (tensors, metadata)
BF16 tensors are read as float32; write a float array as BF16 by passing dtypes={name: "BF16"}.
"""

import json
import struct

import numpy as np

__all__ = ["SafetensorsError", "read", "load", "write", "encode", "decode", "DTYPES"]

# safetensors dtype -> (numpy dtype used for the raw bytes, bytes per element)
DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # raw bits; converted to float32 on read
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"),
    "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("u1"),  # one byte per element, 0 or 1
}

# numpy kind/itemsize -> safetensors dtype for the writer
_NP_TO_ST = {
    ("f", 8): "F64", ("f", 4): "F32", ("f", 2): "F16",
    ("i", 8): "I64", ("i", 4): "I32", ("i", 2): "I16", ("i", 1): "I8",
    ("u", 8): "U64", ("u", 4): "U32", ("u", 2): "U16", ("u", 1): "U8",
    ("b", 1): "BOOL",
}

_MAX_HEADER = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    pass


def _prod(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _bf16_bits_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _f32_to_bf16_bits(x):
    """Round-to-nearest-even float32 -> bfloat16 bits (NaN kept as a quiet NaN)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    u = x.view(np.uint32).astype(np.uint64)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(x)
    if nan.any():
        rounded = rounded.copy()
        rounded[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)
    return rounded


# ----------------------------------------------------------------------------- reading

def decode(data):
    """Parse safetensors bytes -> (dict name -> np.ndarray, metadata dict)."""
    data = memoryview(data)
    if len(data) < 8:
        raise SafetensorsError("file too short for a safetensors header (%d bytes)" % len(data))
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER or 8 + n > len(data):
        raise SafetensorsError("header length %d is invalid for a file of %d bytes" % (n, len(data)))
    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError("header is not valid UTF-8 JSON: %s" % e)
    if not isinstance(header, dict):
        raise SafetensorsError("header JSON must be an object")
    buf = data[8 + n:]
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise SafetensorsError("__metadata__ must map strings to strings")
    tensors = {}
    for name, info in header.items():
        if not isinstance(info, dict):
            raise SafetensorsError("tensor %r: header entry must be an object" % name)
        for key in ("dtype", "shape", "data_offsets"):
            if key not in info:
                raise SafetensorsError("tensor %r: header entry lacks %r" % (name, key))
        dt = info["dtype"]
        if dt not in DTYPES:
            raise SafetensorsError("tensor %r: unsupported dtype %r" % (name, dt))
        shape = info["shape"]
        if not isinstance(shape, list) or not all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
            raise SafetensorsError("tensor %r: bad shape %r" % (name, shape))
        offs = info["data_offsets"]
        if (not isinstance(offs, list) or len(offs) != 2
                or not all(isinstance(o, int) and not isinstance(o, bool) for o in offs)):
            raise SafetensorsError("tensor %r: bad data_offsets %r" % (name, offs))
        begin, end = offs
        npdt = DTYPES[dt]
        count = _prod(shape)
        if begin < 0 or end < begin or end > len(buf):
            raise SafetensorsError("tensor %r: data_offsets %r outside the %d-byte data buffer"
                                   % (name, offs, len(buf)))
        if end - begin != count * npdt.itemsize:
            raise SafetensorsError("tensor %r: %d bytes for shape %r of %s (expected %d)"
                                   % (name, end - begin, shape, dt, count * npdt.itemsize))
        arr = np.frombuffer(buf, dtype=npdt, count=count, offset=begin).reshape(shape)
        if dt == "BF16":
            arr = _bf16_bits_to_f32(arr)
        elif dt == "BOOL":
            if count and arr.max() > 1:
                raise SafetensorsError("tensor %r: BOOL values must be 0 or 1" % name)
            arr = arr.astype(np.bool_)
        else:
            arr = arr.astype(npdt.newbyteorder("="), copy=True)
        tensors[name] = np.array(arr, order="C", copy=True)  # keeps 0-d scalars 0-d
    return tensors, metadata


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        return decode(data)
    except SafetensorsError as e:
        raise SafetensorsError("%s: %s" % (path, e))


def load(path):
    return read(path)[0]


# ----------------------------------------------------------------------------- writing

def _to_np(x):
    if hasattr(x, "detach"):  # torch tensor, without importing torch here
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def encode(tensors, metadata=None, dtypes=None):
    """Serialise dict name -> array-like to safetensors bytes."""
    dtypes = dtypes or {}
    header = {}
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise SafetensorsError("metadata must map strings to strings")
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    for name in sorted(tensors):
        if name == "__metadata__":
            raise SafetensorsError("'__metadata__' is reserved and cannot name a tensor")
        arr = _to_np(tensors[name])
        st = dtypes.get(name)
        if st is None:
            key = (arr.dtype.kind, arr.dtype.itemsize)
            if key not in _NP_TO_ST:
                raise SafetensorsError("tensor %r: cannot store numpy dtype %s" % (name, arr.dtype))
            st = _NP_TO_ST[key]
        if st == "BF16":
            raw = _f32_to_bf16_bits(arr)
        elif st == "BOOL":
            raw = np.asarray(arr, dtype=np.bool_).astype(np.uint8)
        elif st in DTYPES:
            raw = np.asarray(arr).astype(DTYPES[st])
        else:
            raise SafetensorsError("tensor %r: unsupported dtype %r" % (name, st))
        b = np.asarray(raw).tobytes(order="C")
        header[name] = {"dtype": st, "shape": [int(s) for s in arr.shape],
                        "data_offsets": [offset, offset + len(b)]}
        chunks.append(b)
        offset += len(b)
    hjson = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    return struct.pack("<Q", len(hjson)) + hjson + b"".join(chunks)


def write(path, tensors, metadata=None, dtypes=None):
    data = encode(tensors, metadata, dtypes)
    with open(path, "wb") as f:
        f.write(data)
