"""The optional re-rankers: the LLM through the language-model seam, and a local cross-encoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repomind.pipeline.llm import Budget
from repomind.pipeline.localise.calibrate import Calibration
from repomind.pipeline.localise.gitread import LocaliseError
from repomind.pipeline.localise.index import build_index, embedding_text
from repomind.pipeline.localise.localiser import IndexLocaliser
from repomind.pipeline.localise.rank import DEFAULT_WEIGHTS, RankConfig, rank
from repomind.pipeline.localise.rerank import (
    Candidate,
    CrossEncoderReranker,
    LLMReranker,
    parse_choice,
    parse_spec,
)
from repomind.testing import HashingEmbedder, ScriptedModel, StandInLLMServer, make_git_repo
from tests.pipeline.test_localise import FILES
from tests.requirements import require
from tests.test_cli import run

ISSUE = "Customers are charged too much: the discount rate is wrong."


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return make_git_repo(tmp_path / "shop", FILES)


def _index(shop: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    return build_index(shop, None, cache_dir=tmp_path / "cache", embedder=HashingEmbedder())


def test_the_llm_reranker_moves_the_file_it_names_to_the_top(shop: Path, tmp_path: Path) -> None:
    index = _index(shop, tmp_path)
    config = RankConfig()
    plain = rank(index, ISSUE, config, HashingEmbedder())
    assert plain.paths[0] != "shop/shipping.py" and "shop/shipping.py" in plain.paths
    model = ScriptedModel(['```json\n["shop/shipping.py", "shop/not_offered.py"]\n```'], cost_per_token=1e-6)
    reranker = LLMReranker(model, Budget())
    reranked = rank(index, ISSUE, config, HashingEmbedder(), reranker)

    assert reranked.paths[0] == "shop/shipping.py"
    assert "rerank" in reranked.signals and reranked.note == ""
    assert sorted(reranked.paths) == sorted(plain.paths)  # a reply cannot add or drop files
    prompt = model.prompts()[0]
    assert ISSUE in prompt and "shop/pricing.py" in prompt and "apply_discount" in prompt
    assert reranker.budget.tokens > 0 and reranker.budget.cost_usd is not None


def test_an_unusable_reply_or_a_failing_model_leaves_the_ranking_and_says_why(
    shop: Path, tmp_path: Path
) -> None:
    index = _index(shop, tmp_path)
    plain = rank(index, ISSUE, RankConfig(), HashingEmbedder())
    for model, reason in [
        (ScriptedModel(["I am not sure which file it is."]), "named none of the candidate files"),
        (ScriptedModel([]), "no reply left"),
    ]:
        result = rank(index, ISSUE, RankConfig(), HashingEmbedder(), LLMReranker(model))
        assert result.paths == plain.paths and result.scores == plain.scores
        assert "rerank" not in result.signals
        assert "was not used" in result.note and reason in result.note


def test_replies_are_parsed_as_json_or_text_and_only_offered_files_count() -> None:
    paths = ["pkg/core.py", "pkg/util.py", "other/util.py", "pkg/io.py"]
    assert parse_choice('{"files": ["pkg/io.py", "core.py"]}', paths) == ["pkg/io.py", "pkg/core.py"]
    # A unique suffix matches; an ambiguous one (util.py) and an unknown file do not; duplicates count once.
    text = "Most likely `pkg/core.py`, then util.py, then evil/x.py and ./pkg/core.py again; io.py"
    assert parse_choice(text, paths) == ["pkg/core.py", "pkg/io.py"]
    assert parse_choice("[1, 2]", paths) == []
    assert parse_spec("llm") == ("llm", "") and parse_spec("llm:openai/x") == ("llm", "openai/x")
    assert parse_spec("cross-encoder:/m") == ("cross-encoder", "/m")
    for bad in ("bert", "cross-encoder", "cross-encoder:"):
        with pytest.raises(LocaliseError, match="expected cross-encoder:PATH"):
            parse_spec(bad)


def _tiny_cross_encoder(folder: Path) -> Path:
    """A randomly initialised BERT classifier with a word-level tokenizer, saved as a model folder."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    words = sorted({w.lower() for text in FILES.values() for w in text.replace(".", " ").split()})
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *words])}
    core = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=1,
    )
    import torch

    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_the_cross_encoder_scores_issue_file_pairs_and_orders_the_head(shop: Path, tmp_path: Path) -> None:
    require("transformers")
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = _tiny_cross_encoder(tmp_path / "ce")
    index = _index(shop, tmp_path)
    reranker = CrossEncoderReranker(folder, batch_size=2)
    candidates = [Candidate(p, embedding_text(p, index.summaries[i])) for i, p in enumerate(index.paths)]
    scores = reranker.scores(ISSUE, candidates)

    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    for candidate, score in zip(candidates, scores, strict=True):
        with torch.inference_mode():
            logit = model(**tokenizer(ISSUE, candidate.text, return_tensors="pt")).logits[0, 0]
        assert score == pytest.approx(float(logit), abs=1e-5)

    # With the re-ranker's weight far above the rest, the head follows its scores exactly.
    config = RankConfig(weights={**DEFAULT_WEIGHTS, "rerank": 1000.0})
    result = rank(index, ISSUE, config, HashingEmbedder(), reranker)
    by_score = {c.path: s for c, s in zip(candidates, scores, strict=True)}
    head = result.paths[: config.rerank_depth]
    assert head == sorted(head, key=lambda p: -by_score[p]) and "rerank" in result.signals
    with pytest.raises(LocaliseError, match="not a model folder"):
        CrossEncoderReranker(tmp_path / "nothing")


def test_a_calibration_made_with_another_reranker_is_refused(tmp_path: Path) -> None:
    alphas = [0.1 * (i % 10) for i in range(20)]
    plain = Calibration(alphas, [f"i{i}" for i in range(20)], meta={"reranker": "none"})
    with pytest.raises(LocaliseError, match="calibrate again with the same --rerank"):
        IndexLocaliser(tmp_path, embedder=None, calibration=plain, reranker=LLMReranker(ScriptedModel([])))
    old = Calibration(alphas, [f"i{i}" for i in range(20)], meta={})  # files from before re-rankers
    assert IndexLocaliser(tmp_path, embedder=None, calibration=old).calibration is old


def test_localise_cli_reranks_with_the_llm_stand_in(shop: Path, tmp_path: Path) -> None:
    with StandInLLMServer(['["shop/users.py"]']) as server:
        res = run(
            "localise",
            "--repo",
            str(shop),
            "--issue-text",
            ISSUE,
            "--rerank",
            "llm:openai/stand-in",
            "--json",
            env={
                "REPOMIND_DATA_DIR": str(tmp_path / "data"),
                "REPOMIND_EMBEDDING_MODEL": "none",
                "REPOMIND_LLM_API_BASE": server.url,
            },
        )
        assert res.returncode == 0, res.stderr
        data = json.loads(res.stdout)
        assert data["files"][0]["path"] == "shop/users.py" and "rerank" in data["signals"]
        assert len(server.requests) == 1 and ISSUE in server.prompts()[0]
