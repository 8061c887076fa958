"""Pinned facts about every dataset file: where it lives, where it comes from, what it must hash to.

This module is the single source of truth for checksums. Nothing is read from the data folder's
own manifest at run time (a test cross-checks this module against it), so a tampered or stale
manifest cannot make a wrong file pass.

Checksum policy (see ``docs/data.md``):

* every file that exists as published bytes is pinned by size and **sha256**;
* the CIFAR-10 python batches are accepted in two versions: the verified reconstruction shipped in
  the project's shared data folder (size + sha256), and the original batches from the canonical
  tarball, for which only the **md5** is published (size + md5);
* the canonical CIFAR-10 tarball itself is pinned by its published size + md5;
* a file is parsed only after its size and digest matched one accepted version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class Checksum:
    """One accepted version of a file: its size and a digest (sha256 preferred, md5 if only that
    is published). ``origin`` says what the bytes are: ``"original"`` (the published file) or
    ``"reconstruction"`` (a verified rebuild, see the data manifest)."""

    size: int
    sha256: str | None = None
    md5: str | None = None
    origin: str = "original"

    def __post_init__(self) -> None:
        if self.sha256 is None and self.md5 is None:
            raise ValueError("a Checksum needs a sha256 or an md5")

    @property
    def algorithm(self) -> str:
        """The digest this version is verified with: ``"sha256"`` when pinned, else ``"md5"``."""
        return "sha256" if self.sha256 is not None else "md5"

    @property
    def digest(self) -> str:
        """The pinned digest used for verification (see :attr:`algorithm`)."""
        return self.sha256 if self.sha256 is not None else str(self.md5)

    def describe(self) -> str:
        """Human-readable form used in error messages."""
        return f"{self.algorithm} {self.digest} ({self.origin}, {self.size} bytes)"


@dataclass(frozen=True)
class Archive:
    """A canonical archive that holds one or more dataset files."""

    relpath: str
    url: str
    kind: Literal["tar.gz", "zip"]
    checksum: Checksum

    @property
    def name(self) -> str:
        return self.relpath.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class FileSpec:
    """One file of a dataset, relative to the data root (POSIX separators).

    ``url`` is the canonical URL of the file itself, or of ``archive`` when the file is published
    only inside an archive (then ``member`` is its name in the archive). ``mirrors`` are further
    URLs tried in order when the first download fails (the checksum guards them all). ``required``
    files are needed to load the dataset; the others (documentation such as ``*.names``) are only
    checked by ``neuronbench data verify`` when present.
    """

    dataset: str
    relpath: str
    url: str
    accepted: tuple[Checksum, ...]
    archive: Archive | None = None
    member: str | None = None
    mirrors: tuple[str, ...] = ()
    required: bool = True

    @property
    def name(self) -> str:
        return self.relpath.rsplit("/", 1)[-1]

    @property
    def sha256s(self) -> tuple[str, ...]:
        return tuple(c.sha256 for c in self.accepted if c.sha256 is not None)


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: its files and the facts ``neuronbench data verify`` checks after parsing.

    ``expected`` holds ``rows`` (split -> count), ``classes`` (number, or ``None`` for regression),
    ``class_counts`` (split -> per-class counts) and dataset-specific facts (e.g. target range).
    """

    name: str
    title: str
    directory: str
    task: Task
    files: tuple[FileSpec, ...]
    expected: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    aliases: tuple[str, ...] = ()

    @property
    def required_files(self) -> tuple[FileSpec, ...]:
        return tuple(f for f in self.files if f.required)

    @property
    def archives(self) -> tuple[Archive, ...]:
        seen: dict[str, Archive] = {}
        for f in self.files:
            if f.archive is not None:
                seen.setdefault(f.archive.relpath, f.archive)
        return tuple(seen.values())


def _frozen(d: dict[str, Any]) -> MappingProxyType:
    return MappingProxyType(d)


# --------------------------------------------------------------------------------------- MNIST
_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_MNIST_MIRROR = "https://storage.googleapis.com/cvdf-datasets/mnist/"


def _mnist_file(name: str, size: int, sha256: str) -> FileSpec:
    return FileSpec(
        dataset="mnist",
        relpath=f"mnist/{name}",
        url=_MNIST_URL + name,
        mirrors=(_MNIST_MIRROR + name,),
        accepted=(Checksum(size=size, sha256=sha256),),
    )


MNIST = DatasetSpec(
    name="mnist",
    title="MNIST handwritten digits",
    directory="mnist",
    task="classification",
    files=(
        _mnist_file(
            "train-images-idx3-ubyte.gz",
            9912422,
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        ),
        _mnist_file(
            "train-labels-idx1-ubyte.gz",
            28881,
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        ),
        _mnist_file(
            "t10k-images-idx3-ubyte.gz",
            1648877,
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        ),
        _mnist_file(
            "t10k-labels-idx1-ubyte.gz",
            4542,
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ),
    ),
    expected=_frozen(
        {
            "rows": {"train": 60000, "test": 10000},
            "classes": 10,
            "class_counts": {
                "train": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
                "test": (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
            },
        }
    ),
)

# ------------------------------------------------------------------------------------ CIFAR-10
CIFAR10_ARCHIVE = Archive(
    relpath="cifar-10/cifar-10-python.tar.gz",
    url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    kind="tar.gz",
    checksum=Checksum(size=170498071, md5="c58f30108f718f92721af3b95e74349a"),
)


def _cifar_file(
    member_name: str,
    reconstruction: tuple[int, str] | None,
    original: tuple[int, str],
) -> FileSpec:
    accepted: list[Checksum] = []
    if reconstruction is not None:
        accepted.append(
            Checksum(size=reconstruction[0], sha256=reconstruction[1], origin="reconstruction")
        )
    accepted.append(Checksum(size=original[0], md5=original[1], origin="original"))
    member = f"cifar-10-batches-py/{member_name}"
    return FileSpec(
        dataset="cifar10",
        relpath=f"cifar-10/{member}",
        url=CIFAR10_ARCHIVE.url,
        archive=CIFAR10_ARCHIVE,
        member=member,
        accepted=tuple(accepted),
    )


_BATCH_RECON = 30740224
CIFAR10 = DatasetSpec(
    name="cifar10",
    title="CIFAR-10 (python version)",
    directory="cifar-10",
    task="classification",
    aliases=("cifar-10", "cifar_10"),
    files=(
        _cifar_file(
            "data_batch_1",
            (_BATCH_RECON, "940577f4e1e14c43b3d4fce0c5f337a3c7a476ee715bf0b9e5b4e438621bb5e4"),
            (31035704, "c99cafc152244af753f735de768cd75f"),
        ),
        _cifar_file(
            "data_batch_2",
            (_BATCH_RECON, "db9753572caf268e0c8f311b38f4a3e9176d3f6809443597cf80a8a821e555f6"),
            (31035320, "d4bba439e000b95fd0a9bffe97cbabec"),
        ),
        _cifar_file(
            "data_batch_3",
            (_BATCH_RECON, "0a569e556a61665286014ba65721ccf3606d1b3b919a03bbb35635c8f4daedba"),
            (31035999, "54ebc095f3ab1f0389bbae665268c751"),
        ),
        _cifar_file(
            "data_batch_4",
            (_BATCH_RECON, "9c0cfc87d7dd3c13339ac622b62aad3dfcd2f541cf516a8bd225e851a07ad382"),
            (31035696, "634d18415352ddfa80567beed471001a"),
        ),
        _cifar_file(
            "data_batch_5",
            (_BATCH_RECON, "e0da3c8ca5bfa919ab522cbc594734020d8528157c2873b89fc1a11eea9c1a87"),
            (31035623, "482c414d41f54cd18b22e5b47cb7c3cb"),
        ),
        _cifar_file(
            "test_batch",
            (_BATCH_RECON - 1, "286651b25421ee6775c315f5477e18f409769b06b1be68bb58b6ab784de87f51"),
            (31035526, "40351d587109b95175f43aff81a1287e"),
        ),
        # batches.meta in the shared folder is the original file: one version, pinned by sha256
        # (computed on it) and by the published md5 of the original member.
        FileSpec(
            dataset="cifar10",
            relpath="cifar-10/cifar-10-batches-py/batches.meta",
            url=CIFAR10_ARCHIVE.url,
            archive=CIFAR10_ARCHIVE,
            member="cifar-10-batches-py/batches.meta",
            accepted=(
                Checksum(
                    size=158,
                    sha256="f962466ef690d46b226450fb9aadc74ba4bc64a76aa526b5827fe4bc5c7125cb",
                    md5="5ff9c542aee3614f3951f8cda6e48888",
                ),
            ),
        ),
    ),
    expected=_frozen(
        {
            "rows": {"train": 50000, "test": 10000},
            "classes": 10,
            "class_counts": {"train": (5000,) * 10, "test": (1000,) * 10},
            "class_names": (
                "airplane",
                "automobile",
                "bird",
                "cat",
                "deer",
                "dog",
                "frog",
                "horse",
                "ship",
                "truck",
            ),
        }
    ),
)

# --------------------------------------------------------------------------------------- Adult
_UCI = "https://archive.ics.uci.edu/ml/machine-learning-databases/"

ADULT = DatasetSpec(
    name="adult",
    title="Adult (Census Income), UCI",
    directory="adult",
    task="classification",
    files=(
        FileSpec(
            dataset="adult",
            relpath="adult/adult.data",
            url=_UCI + "adult/adult.data",
            accepted=(
                Checksum(
                    size=3974305,
                    sha256="5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
                ),
            ),
        ),
        FileSpec(
            dataset="adult",
            relpath="adult/adult.test",
            url=_UCI + "adult/adult.test",
            accepted=(
                Checksum(
                    size=2003153,
                    sha256="a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
                ),
            ),
        ),
        FileSpec(
            dataset="adult",
            relpath="adult/adult.names",
            url=_UCI + "adult/adult.names",
            required=False,
            accepted=(
                Checksum(
                    size=5229,
                    sha256="c248284c0b5de30c9e1958d6cdd168a34a654758b620e68f46aefa83fc0a576a",
                ),
            ),
        ),
    ),
    expected=_frozen(
        {
            "rows": {"adult.data": 32561, "adult.test": 16281},
            "classes": 2,
            "class_counts": {"adult.data": (24720, 7841), "adult.test": (12435, 3846)},
            "rows_with_missing": {"adult.data": 2399, "adult.test": 1221},
            "onehot_width": 104,
        }
    ),
)

# --------------------------------------------------------------------------------------- MAGIC
MAGIC = DatasetSpec(
    name="magic",
    title="MAGIC Gamma Telescope, UCI",
    directory="magic",
    task="classification",
    files=(
        FileSpec(
            dataset="magic",
            relpath="magic/magic04.data",
            url=_UCI + "magic/magic04.data",
            accepted=(
                Checksum(
                    size=1477391,
                    sha256="e9314b7ebd4b4b59a3b3d65f7316663963777b16a46786877651dbbaa640b36a",
                ),
            ),
        ),
        FileSpec(
            dataset="magic",
            relpath="magic/magic04.names",
            url=_UCI + "magic/magic04.names",
            required=False,
            accepted=(
                Checksum(
                    size=5400,
                    sha256="6b74a329008ea6d062d0c0acf34f0a4aa0e7ce7d1aaeebce4ae5995c06a7abc2",
                ),
            ),
        ),
    ),
    expected=_frozen(
        {"rows": {"all": 19020}, "classes": 2, "class_counts": {"all": (12332, 6688)}}
    ),
)

# ---------------------------------------------------------------------------------------- CCPP
CCPP_ARCHIVE = Archive(
    relpath="ccpp/CCPP.zip",
    url=_UCI + "00294/CCPP.zip",
    kind="zip",
    checksum=Checksum(
        size=3674852, sha256="cc7b2a4977c0a44e8221c91d9a7e5746b3c68186cff7e5c61c70af6432b98c7a"
    ),
)

CCPP = DatasetSpec(
    name="ccpp",
    title="Combined Cycle Power Plant, UCI",
    directory="ccpp",
    task="regression",
    files=(
        FileSpec(
            dataset="ccpp",
            relpath="ccpp/Folds5x2_pp.xlsx",
            url=CCPP_ARCHIVE.url,
            archive=CCPP_ARCHIVE,
            member="CCPP/Folds5x2_pp.xlsx",
            accepted=(
                Checksum(
                    size=2029440,
                    sha256="ccd490981db2a2f079963b3d9f0aea30d9d338900a0285428dfc6385396f4651",
                ),
            ),
        ),
    ),
    expected=_frozen({"rows": {"all": 9568}, "classes": None, "target_range": (420.26, 495.76)}),
)

#: Every dataset, by canonical name, in the order commands list them.
DATASETS: MappingProxyType = MappingProxyType(
    {d.name: d for d in (MNIST, CIFAR10, ADULT, MAGIC, CCPP)}
)
DATASET_NAMES: tuple[str, ...] = tuple(DATASETS)


def canonical_name(name: str) -> str:
    """Map a dataset name or alias (case-insensitive) to its canonical name.

    Raises ``ValueError`` naming the known datasets for an unknown name.
    """
    key = name.strip().lower()
    for spec in DATASETS.values():
        if key == spec.name or key in spec.aliases:
            return spec.name
    raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASET_NAMES)}")


def get_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of a dataset name or alias (``ValueError`` if unknown)."""
    return DATASETS[canonical_name(name)]


__all__ = [
    "ADULT",
    "CCPP",
    "CCPP_ARCHIVE",
    "CIFAR10",
    "CIFAR10_ARCHIVE",
    "DATASETS",
    "DATASET_NAMES",
    "MAGIC",
    "MNIST",
    "Archive",
    "Checksum",
    "DatasetSpec",
    "FileSpec",
    "Task",
    "canonical_name",
    "get_spec",
]
