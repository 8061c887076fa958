"""Parsers for the original distribution formats. They work on bytes that were already verified.

Each parser raises :class:`~suites.data.errors.CorruptDataError` naming the file (``name``) and
what is wrong, never a bare ``ValueError``/``EOFError`` from deep inside a library.
"""

from __future__ import annotations

import io
import pickle
import struct
from dataclasses import dataclass

import numpy as np

from .errors import CorruptDataError

# ------------------------------------------------------------------------------------ gzip/IDX
IDX_IMAGES_MAGIC = 0x00000803  # 2051: unsigned byte, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # 2049: unsigned byte, 1 dimension
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def gunzip(data: bytes | bytearray, *, name: str) -> bytes:
    """Decompress a gzip file held in memory; a truncated or damaged stream is a clear error."""
    import gzip
    import zlib

    try:
        return gzip.decompress(data)
    except EOFError as error:
        raise CorruptDataError(
            f"{name}: truncated gzip file: the compressed stream ends before its end-of-stream "
            f"marker ({len(data)} bytes read); the file is incomplete, fetch it again"
        ) from error
    except (gzip.BadGzipFile, zlib.error, OSError) as error:
        raise CorruptDataError(f"{name}: not a valid gzip file: {error}") from error


def parse_idx(data: bytes | bytearray, *, name: str, magic: int | None = None) -> np.ndarray:
    """Parse an (uncompressed) IDX file: 2 zero bytes, a type code, the number of dimensions,
    big-endian uint32 dimensions, then the big-endian payload. ``magic`` (e.g.
    :data:`IDX_IMAGES_MAGIC`) makes a different header an error. Returns a native-endian array."""
    if len(data) < 4:
        raise CorruptDataError(f"{name}: too short for an IDX header ({len(data)} bytes)")
    (found,) = struct.unpack(">I", bytes(data[:4]))
    if data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise CorruptDataError(f"{name}: bad IDX magic number 0x{found:08x}")
    if magic is not None and found != magic:
        raise CorruptDataError(
            f"{name}: bad IDX magic number 0x{found:08x} ({found}), expected 0x{magic:08x} ({magic})"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise CorruptDataError(f"{name}: IDX header truncated ({len(data)} bytes)")
    dims = struct.unpack(f">{ndim}I", bytes(data[4:header]))
    dtype = np.dtype(_IDX_TYPES[data[2]])
    count = int(np.prod(dims, dtype=np.int64)) if ndim else 1
    payload = len(data) - header
    if payload != count * dtype.itemsize:
        raise CorruptDataError(
            f"{name}: IDX payload is {payload} bytes but the header {dims} promises "
            f"{count * dtype.itemsize}"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx_gz(data: bytes | bytearray, *, name: str, magic: int | None = None) -> np.ndarray:
    """Decompress and parse a gzip-compressed IDX file."""
    return parse_idx(gunzip(data, name=name), name=name, magic=magic)


# ------------------------------------------------------------------------------ CIFAR pickles
def _reconstruct_fn():
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # NumPy < 2
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    return _reconstruct


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # Python 3 writes bytes as _codecs.encode(str, 'latin1') in protocol 2 pickles.
    if encoding.lower().replace("-", "") != "latin1":
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} not allowed")
    return text.encode("latin1")


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals a CIFAR batch needs (a NumPy uint8 array); anything else (os,
    builtins, subprocess...) is refused, so even a verified pickle cannot run code."""

    def find_class(self, module: str, name: str):
        if (module, name) in {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
        }:
            return _reconstruct_fn()
        if module == "numpy" and name == "ndarray":
            return np.ndarray
        if module == "numpy" and name == "dtype":
            return np.dtype
        if module == "_codecs" and name == "encode":
            return _latin1_encode
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR pickle")


def unpickle_restricted(data: bytes | bytearray, *, name: str) -> object:
    """Unpickle verified CIFAR bytes with :class:`_RestrictedUnpickler` (``encoding='bytes'``)."""
    try:
        return _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except CorruptDataError:
        raise
    except Exception as error:  # pickle raises many types on damaged input
        raise CorruptDataError(
            f"{name}: cannot unpickle: {type(error).__name__}: {error}"
        ) from error


def _str_keys(obj: object, name: str) -> dict[str, object]:
    if not isinstance(obj, dict):
        raise CorruptDataError(f"{name}: expected a pickled dict, found {type(obj).__name__}")
    out = {}
    for k, v in obj.items():
        out[k.decode("latin1") if isinstance(k, bytes) else str(k)] = v
    return out


def load_cifar_batch(
    data: bytes | bytearray, *, name: str, n_classes: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Parse a CIFAR python batch: returns ``(images uint8 [n, 3072], labels int64 [n])``.

    Accepts the original batches (with ``filenames``) and the reconstruction (without)."""
    d = _str_keys(unpickle_restricted(data, name=name), name)
    for key in ("data", "labels"):
        if key not in d:
            raise CorruptDataError(f"{name}: pickle has no {key!r} entry (keys: {sorted(d)})")
    images = d["data"]
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 2:
        raise CorruptDataError(f"{name}: 'data' is not a 2-D uint8 array")
    if images.shape[1] != 3072:
        raise CorruptDataError(f"{name}: 'data' has {images.shape[1]} columns, expected 3072")
    try:
        labels = np.asarray(d["labels"], dtype=np.int64)
    except (TypeError, ValueError) as error:
        raise CorruptDataError(f"{name}: 'labels' is not a list of integers") from error
    if labels.shape != (images.shape[0],):
        raise CorruptDataError(
            f"{name}: {labels.shape[0] if labels.ndim else 0} labels for {images.shape[0]} images"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise CorruptDataError(f"{name}: labels outside 0..{n_classes - 1}")
    return images, labels


def load_cifar_meta(data: bytes | bytearray, *, name: str) -> tuple[str, ...]:
    """Parse ``batches.meta``: returns the class names (``label_names``)."""
    d = _str_keys(unpickle_restricted(data, name=name), name)
    names = d.get("label_names")
    if not isinstance(names, list) or not all(isinstance(n, bytes | str) for n in names):
        raise CorruptDataError(f"{name}: no 'label_names' list")
    return tuple(n.decode("latin1") if isinstance(n, bytes) else n for n in names)


# ----------------------------------------------------------------------------------- UCI Adult
ADULT_COLUMNS = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
)
#: Continuous columns, in the order ActMix puts them (first, then the one-hot block).
ADULT_NUMERIC = ("age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week")
ADULT_CATEGORICAL = (
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native-country",
)
ADULT_CLASSES = ("<=50K", ">50K")


@dataclass(frozen=True)
class AdultRows:
    """Parsed rows of ``adult.data`` or ``adult.test`` (missing categorical values are ``""``,
    missing numeric values NaN; ``missing`` marks rows with any '?')."""

    numeric: np.ndarray  # float64 [n, 6], ADULT_NUMERIC order
    categorical: np.ndarray  # str [n, 8], ADULT_CATEGORICAL order
    y: np.ndarray  # int64 [n]: 0 "<=50K", 1 ">50K"
    missing: np.ndarray  # bool [n]


def _text_lines(data: bytes | bytearray, name: str) -> list[str]:
    try:
        text = bytes(data).decode("ascii")
    except UnicodeDecodeError as error:
        raise CorruptDataError(f"{name}: not ASCII text ({error})") from error
    return text.splitlines()


def parse_adult(data: bytes | bytearray, *, name: str) -> AdultRows:
    """Parse ``adult.data``/``adult.test``: ``, ``-separated, 15 fields, no header. A first line
    starting with ``|`` (the ``|1x3 Cross validator`` line of adult.test) is skipped; blank lines
    are skipped; the label's trailing ``.`` (adult.test) is stripped; ``?`` means missing."""
    lines = _text_lines(data, name)
    rows: list[list[str]] = []
    for number, line in enumerate(lines, start=1):
        if number == 1 and line.startswith("|"):
            continue
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 15:
            raise CorruptDataError(
                f"{name}: line {number}: expected 15 comma-separated fields, found {len(fields)}"
            )
        rows.append(fields)
    if not rows:
        raise CorruptDataError(f"{name}: no data rows")
    table = np.array(rows, dtype=str)
    labels = np.char.rstrip(table[:, 14], ".")
    bad = ~np.isin(labels, ADULT_CLASSES)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise CorruptDataError(
            f"{name}: data row {first + 1}: unknown label {str(labels[first])!r}"
        )
    y = (labels == ADULT_CLASSES[1]).astype(np.int64)
    features = table[:, :14]
    missing_cells = features == "?"
    num_idx = [ADULT_COLUMNS.index(c) for c in ADULT_NUMERIC]
    cat_idx = [ADULT_COLUMNS.index(c) for c in ADULT_CATEGORICAL]
    num_text = np.where(missing_cells[:, num_idx], "nan", features[:, num_idx])
    try:
        numeric = num_text.astype(np.float64)
    except ValueError as error:
        raise CorruptDataError(f"{name}: non-numeric value in a numeric column: {error}") from error
    categorical = np.where(missing_cells[:, cat_idx], "", features[:, cat_idx])
    return AdultRows(numeric, categorical, y, missing_cells.any(axis=1))


# ----------------------------------------------------------------------------------- UCI MAGIC
MAGIC_FEATURES = (
    "fLength",
    "fWidth",
    "fSize",
    "fConc",
    "fConc1",
    "fAsym",
    "fM3Long",
    "fM3Trans",
    "fAlpha",
    "fDist",
)
MAGIC_CLASSES = ("g", "h")


def parse_magic(data: bytes | bytearray, *, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse ``magic04.data``: 10 floats and a class ``g``/``h`` per line, no header.
    Returns ``(x float64 [n, 10], y int64 [n])`` with g -> 0, h -> 1."""
    rows = []
    for number, line in enumerate(_text_lines(data, name), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 11:
            raise CorruptDataError(
                f"{name}: line {number}: expected 11 comma-separated fields, found {len(fields)}"
            )
        rows.append(fields)
    if not rows:
        raise CorruptDataError(f"{name}: no data rows")
    table = np.array(rows, dtype=str)
    try:
        x = table[:, :10].astype(np.float64)
    except ValueError as error:
        raise CorruptDataError(f"{name}: non-numeric feature value: {error}") from error
    labels = table[:, 10]
    bad = ~np.isin(labels, MAGIC_CLASSES)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise CorruptDataError(
            f"{name}: data row {first + 1}: unknown class {str(labels[first])!r}"
        )
    return x, (labels == "h").astype(np.int64)


# ------------------------------------------------------------------------------------ UCI CCPP
CCPP_FEATURES = ("AT", "V", "AP", "RH")
CCPP_TARGET = "PE"


def parse_ccpp_xlsx(
    data: bytes | bytearray, *, name: str, sheet: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Read sheet ``sheet`` (1-based) of ``Folds5x2_pp.xlsx`` with openpyxl in read-only mode.
    The header must be ``AT, V, AP, RH, PE``. Returns ``(x float64 [n, 4], y float64 [n])``."""
    import zipfile

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as error:
        raise CorruptDataError(f"{name}: not a readable xlsx workbook: {error}") from error
    try:
        sheets = wb.worksheets
        if not 1 <= sheet <= len(sheets):
            raise CorruptDataError(f"{name}: no sheet {sheet} (the workbook has {len(sheets)})")
        rows = sheets[sheet - 1].iter_rows(values_only=True)
        header = next(rows, None)
        expected = (*CCPP_FEATURES, CCPP_TARGET)
        got = tuple(str(v).strip() if v is not None else "" for v in (header or ())[:5])
        if got != expected:
            raise CorruptDataError(f"{name}: sheet {sheet} header is {got}, expected {expected}")
        values = []
        for number, row in enumerate(rows, start=2):
            cells = row[:5]
            if all(v is None for v in cells):
                continue
            if len(cells) < 5 or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in cells
            ):
                raise CorruptDataError(f"{name}: sheet {sheet} row {number}: non-numeric {cells}")
            values.append(cells)
    finally:
        wb.close()
    if not values:
        raise CorruptDataError(f"{name}: sheet {sheet} has no data rows")
    table = np.asarray(values, dtype=np.float64)
    return table[:, :4].copy(), table[:, 4].copy()


__all__ = [
    "ADULT_CATEGORICAL",
    "ADULT_CLASSES",
    "ADULT_COLUMNS",
    "ADULT_NUMERIC",
    "CCPP_FEATURES",
    "CCPP_TARGET",
    "IDX_IMAGES_MAGIC",
    "IDX_LABELS_MAGIC",
    "MAGIC_CLASSES",
    "MAGIC_FEATURES",
    "AdultRows",
    "gunzip",
    "load_cifar_batch",
    "load_cifar_meta",
    "parse_adult",
    "parse_ccpp_xlsx",
    "parse_idx",
    "parse_magic",
    "read_idx_gz",
    "unpickle_restricted",
]
