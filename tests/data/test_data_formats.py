"""Parsers on tiny synthetic files written in the original formats."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import zipfile

import numpy as np
import pytest

from suites.data.archives import read_zip_member
from suites.data.errors import CorruptDataError
from suites.data.formats import (
    IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC,
    gunzip,
    load_cifar_batch,
    load_cifar_meta,
    parse_adult,
    parse_ccpp_xlsx,
    parse_idx,
    parse_magic,
    read_idx_gz,
)

# ------------------------------------------------------------------------------------- IDX


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    dtype = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}[type_code]
    return header + array.astype(dtype).tobytes()


def test_idx_images_and_labels_roundtrip():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    got = read_idx_gz(gzip.compress(idx_bytes(images)), name="imgs.gz", magic=IDX_IMAGES_MAGIC)
    np.testing.assert_array_equal(got, images)
    got = read_idx_gz(gzip.compress(idx_bytes(labels)), name="labels.gz", magic=IDX_LABELS_MAGIC)
    np.testing.assert_array_equal(got, labels)


def test_idx_other_types_are_native_endian():
    a = np.arange(6, dtype=np.int32).reshape(2, 3) - 2
    got = parse_idx(idx_bytes(a, 0x0C), name="i4")
    assert got.dtype == np.dtype("int32") and got.dtype.isnative
    np.testing.assert_array_equal(got, a)
    f = np.array([1.5, -2.25], dtype=np.float32)
    np.testing.assert_array_equal(parse_idx(idx_bytes(f, 0x0D), name="f4"), f)


def test_truncated_gzip_is_a_clear_error():
    blob = gzip.compress(idx_bytes(np.zeros((10, 28, 28), np.uint8) + 7))
    with pytest.raises(CorruptDataError, match=r"train-images-idx3-ubyte\.gz: truncated gzip file"):
        read_idx_gz(blob[: len(blob) // 2], name="train-images-idx3-ubyte.gz")


def test_not_gzip():
    with pytest.raises(CorruptDataError, match="not a valid gzip file"):
        gunzip(b"this is not gzip at all", name="x.gz")


def test_bad_idx_magic():
    data = idx_bytes(np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(CorruptDataError, match="bad IDX magic number 0x00000803"):
        parse_idx(data, name="labels", magic=IDX_LABELS_MAGIC)
    with pytest.raises(CorruptDataError, match="bad IDX magic"):
        parse_idx(b"\x01\x02\x08\x01" + data[4:], name="x")
    with pytest.raises(CorruptDataError, match="too short"):
        parse_idx(b"\x00", name="x")


def test_idx_payload_length_checked():
    data = idx_bytes(np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(CorruptDataError, match="promises"):
        parse_idx(data[:-1], name="x")
    with pytest.raises(CorruptDataError, match="promises"):
        parse_idx(data + b"\x00", name="x")


# ----------------------------------------------------------------------------- CIFAR pickle


def cifar_batch(
    n: int = 4, *, filenames: bool = True, protocol: int = 2
) -> tuple[bytes, np.ndarray, list[int]]:
    rng = np.random.default_rng(n)
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, size=n)]
    d = {b"batch_label": b"training batch 1 of 5", b"labels": labels, b"data": data}
    if filenames:
        d[b"filenames"] = [f"img_{i}.png".encode() for i in range(n)]
    return pickle.dumps(d, protocol=protocol), data, labels


@pytest.mark.parametrize("filenames", [True, False])
@pytest.mark.parametrize("protocol", [2, 4])
def test_cifar_batch(filenames, protocol):
    blob, data, labels = cifar_batch(filenames=filenames, protocol=protocol)
    x, y = load_cifar_batch(blob, name="data_batch_1")
    np.testing.assert_array_equal(x, data)
    assert y.tolist() == labels and y.dtype == np.int64


def test_cifar_meta():
    blob = pickle.dumps(
        {
            b"num_cases_per_batch": 10000,
            b"label_names": [b"airplane", b"automobile"],
            b"num_vis": 3072,
        },
        protocol=2,
    )
    assert load_cifar_meta(blob, name="batches.meta") == ("airplane", "automobile")


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > /dev/null",))


def test_cifar_pickle_cannot_run_code():
    blob = pickle.dumps({b"data": _Evil(), b"labels": []}, protocol=2)
    with pytest.raises(CorruptDataError, match=r"global (posix|os|nt)\.system is not allowed"):
        load_cifar_batch(blob, name="data_batch_1")


def test_cifar_pickle_structure_checked():
    with pytest.raises(CorruptDataError, match="no 'data' entry"):
        load_cifar_batch(pickle.dumps({b"labels": [1]}, protocol=2), name="b")
    with pytest.raises(CorruptDataError, match="expected a pickled dict"):
        load_cifar_batch(pickle.dumps([1, 2], protocol=2), name="b")
    bad = {b"labels": [1, 2], b"data": np.zeros((2, 100), np.uint8)}
    with pytest.raises(CorruptDataError, match="100 columns"):
        load_cifar_batch(pickle.dumps(bad, protocol=2), name="b")
    bad = {b"labels": [1], b"data": np.zeros((2, 3072), np.uint8)}
    with pytest.raises(CorruptDataError, match="1 labels for 2 images"):
        load_cifar_batch(pickle.dumps(bad, protocol=2), name="b")
    bad = {b"labels": [1, 12], b"data": np.zeros((2, 3072), np.uint8)}
    with pytest.raises(CorruptDataError, match="labels outside"):
        load_cifar_batch(pickle.dumps(bad, protocol=2), name="b")
    with pytest.raises(CorruptDataError, match="cannot unpickle"):
        load_cifar_batch(b"\x80\x02}q\x01(U", name="b")


# ------------------------------------------------------------------------------------ Adult

ADULT_DATA = (
    "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, United-States, <=50K\n"
    "52, Self-emp-inc, 287927, HS-grad, 9, Married-civ-spouse, Exec-managerial, Wife, White, Female, 15024, 0, 40, United-States, >50K\n"
    "54, ?, 180211, Some-college, 10, Married-civ-spouse, ?, Husband, Asian-Pac-Islander, Male, 0, 0, 60, South, >50K\n"
    "\n"
)
ADULT_TEST = (
    "|1x3 Cross validator\n"
    "25, Private, 226802, 11th, 7, Never-married, Machine-op-inspct, Own-child, Black, Male, 0, 0, 40, United-States, <=50K.\n"
    "44, Private, 160323, Some-college, 10, Married-civ-spouse, Machine-op-inspct, Husband, Black, Male, 7688, 0, 40, ?, >50K.\n"
    "\n"
)


def test_adult_train_file():
    rows = parse_adult(ADULT_DATA.encode(), name="adult.data")
    assert rows.numeric.shape == (3, 6) and rows.categorical.shape == (3, 8)
    assert rows.y.tolist() == [0, 1, 1]
    assert rows.missing.tolist() == [False, False, True]
    assert rows.numeric[0].tolist() == [39, 77516, 13, 2174, 0, 40]
    assert rows.categorical[2, 0] == "" and rows.categorical[2, 7] == "South"
    assert rows.categorical[0].tolist()[:2] == ["State-gov", "Bachelors"]


def test_adult_test_file_skips_first_line_and_strips_dot():
    rows = parse_adult(ADULT_TEST.encode(), name="adult.test")
    assert rows.y.tolist() == [0, 1]
    assert rows.missing.tolist() == [False, True]
    assert rows.numeric[:, 0].tolist() == [25, 44]


def test_adult_errors():
    with pytest.raises(CorruptDataError, match="line 1: expected 15"):
        parse_adult(b"1, 2, 3\n", name="adult.data")
    with pytest.raises(CorruptDataError, match="unknown label 'maybe'"):
        parse_adult(ADULT_DATA.replace(">50K\n", "maybe\n", 1).encode(), name="adult.data")
    with pytest.raises(CorruptDataError, match="no data rows"):
        parse_adult(b"|1x3 Cross validator\n\n", name="adult.test")
    with pytest.raises(CorruptDataError, match="non-numeric"):
        parse_adult(ADULT_DATA.replace("39,", "old,").encode(), name="adult.data")


# ------------------------------------------------------------------------------------ MAGIC

MAGIC = (
    "28.7967,16.0021,2.6449,0.3918,0.1982,27.7004,22.011,-8.2027,40.092,81.8828,g\n"
    "31.6036,11.7235,2.5185,0.5303,0.3773,26.2722,23.8238,-9.9574,6.3609,205.261,h\n"
)


def test_magic_file():
    x, y = parse_magic(MAGIC.encode(), name="magic04.data")
    assert x.shape == (2, 10) and x[0, 0] == 28.7967 and x[1, 7] == -9.9574
    assert y.tolist() == [0, 1]


def test_magic_errors():
    with pytest.raises(CorruptDataError, match="unknown class 'x'"):
        parse_magic(MAGIC.replace(",h", ",x").encode(), name="magic04.data")
    with pytest.raises(CorruptDataError, match="expected 11"):
        parse_magic(b"1,2,g\n", name="magic04.data")
    with pytest.raises(CorruptDataError, match="not ASCII"):
        parse_magic("1,\u00e9\n".encode(), name="magic04.data")


# ------------------------------------------------------------------------------------- CCPP


def ccpp_xlsx(rows_per_sheet: list[list[tuple]], header=("AT", "V", "AP", "RH", "PE")) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for i, rows in enumerate(rows_per_sheet, start=1):
        ws = wb.create_sheet(f"Sheet{i}")
        ws.append(list(header))
        for r in rows:
            ws.append(list(r))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


ROWS = [(14.96, 41.76, 1024.07, 73.17, 463.26), (25.18, 62.96, 1020.04, 59.08, 444.37)]


def test_ccpp_xlsx_sheets():
    blob = ccpp_xlsx([ROWS, ROWS[::-1]])
    x, y = parse_ccpp_xlsx(blob, name="Folds5x2_pp.xlsx")
    assert x.shape == (2, 4) and y.tolist() == [463.26, 444.37]
    _, y2 = parse_ccpp_xlsx(blob, name="Folds5x2_pp.xlsx", sheet=2)
    assert y2.tolist() == [444.37, 463.26]
    with pytest.raises(CorruptDataError, match="no sheet 3"):
        parse_ccpp_xlsx(blob, name="Folds5x2_pp.xlsx", sheet=3)


def test_ccpp_xlsx_errors():
    with pytest.raises(CorruptDataError, match="header"):
        parse_ccpp_xlsx(ccpp_xlsx([ROWS], header=("a", "b", "c", "d", "e")), name="f.xlsx")
    with pytest.raises(CorruptDataError, match="non-numeric"):
        parse_ccpp_xlsx(ccpp_xlsx([[(1, 2, 3, "x", 5)]]), name="f.xlsx")
    with pytest.raises(CorruptDataError, match="not a readable xlsx"):
        parse_ccpp_xlsx(b"PK but not really", name="f.xlsx")


def test_ccpp_xlsx_inside_a_zip(tmp_path):
    blob = ccpp_xlsx([ROWS])
    archive = tmp_path / "CCPP.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("CCPP/Readme.txt", "readme")
        z.writestr("CCPP/Folds5x2_pp.xlsx", blob)
    member = read_zip_member(archive, "CCPP/Folds5x2_pp.xlsx", max_size=len(blob))
    assert member == blob
    with pytest.raises(CorruptDataError, match="more than the expected"):
        read_zip_member(archive, "CCPP/Folds5x2_pp.xlsx", max_size=len(blob) - 1)
    with pytest.raises(CorruptDataError, match="not found"):
        read_zip_member(archive, "CCPP/other.xlsx", max_size=10)
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(CorruptDataError, match="damaged zip"):
        read_zip_member(tmp_path / "bad.zip", "x", max_size=10)
