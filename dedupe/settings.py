from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMES = ("affine32", "affine64", "legacy")


@dataclass(frozen=True)
class DedupeSettings:
    """Every dedupe parameter in one place, with its documented default.

    - ``num_perm``: MinHash permutations. 128 keeps the Jaccard estimate's
      standard error near 0.04 at the thresholds we use.
    - ``seed`` and ``scheme``: stored with every signature; signatures with
      different values are not comparable.
    - ``shingle_size``: words per shingle. 5-word shingles make unrelated
      articles on one topic score near 0 while wire copies score near 1.
    - ``near_duplicate_threshold``: the LSH threshold and the verified
      Jaccard estimate a candidate must reach to join a near-duplicate group.
    - ``min_tokens``: texts shorter than this are only grouped by exact hash;
      a few words give meaningless shingle sets.
    - ``storage``: datasketch storage config for the LSH index,
      ``{"type": "dict"}`` (in memory) or ``{"type": "redis", ...}``.
    """

    num_perm: int = 128
    seed: int = 1
    scheme: str = "affine32"
    shingle_size: int = 5
    near_duplicate_threshold: float = 0.8
    min_tokens: int = 20
    storage: dict[str, Any] = field(default_factory=lambda: {"type": "dict"})

    def __post_init__(self) -> None:
        if not 16 <= self.num_perm <= 1024:
            raise ValueError(f"num_perm must be between 16 and 1024, got {self.num_perm}")
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {self.scheme!r}")
        if not 1 <= self.shingle_size <= 10:
            raise ValueError(f"shingle_size must be between 1 and 10 words, got {self.shingle_size}")
        if not 0.0 < self.near_duplicate_threshold < 1.0:
            raise ValueError(
                f"near_duplicate_threshold must be strictly between 0 and 1, got {self.near_duplicate_threshold}"
            )
        if self.min_tokens < 0:
            raise ValueError(f"min_tokens must be >= 0, got {self.min_tokens}")
        storage_type = self.storage.get("type")
        if storage_type not in ("dict", "redis"):
            raise ValueError(f"storage type must be 'dict' or 'redis', got {storage_type!r}")
