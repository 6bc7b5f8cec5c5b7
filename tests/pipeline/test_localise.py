"""Localisation on fixture repositories: parsing, the blob cache, signals, fusion, errors."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from repomind.pipeline.localise.calibrate import Calibration
from repomind.pipeline.localise.gitread import LocaliseError
from repomind.pipeline.localise.index import build_index
from repomind.pipeline.localise.localiser import IndexLocaliser, builtin_calibration
from repomind.pipeline.localise.parsing import parse
from repomind.pipeline.localise.rank import DEFAULT_WEIGHTS, RankConfig, fuse, rank
from repomind.pipeline.localise.tokens import split_identifier, tokenize
from repomind.testing import HashingEmbedder, git, make_git_repo

FILES = {
    "shop/__init__.py": "",
    "shop/cart.py": (
        '"""The shopping cart."""\nfrom shop.pricing import apply_discount\n\n\n'
        "class ShoppingCart:\n    def total_price(self, items):\n"
        "        return apply_discount(sum(i.price for i in items))\n"
    ),
    "shop/pricing.py": (
        '"""Prices and discounts."""\n\n\ndef apply_discount(amount, rate=0.1):\n'
        '    """Take the discount rate off the amount."""\n    return amount * (1 - rate)\n'
    ),
    "shop/shipping.py": "def shipping_cost(weight_kg):\n    return 5 + weight_kg * 2\n",
    "shop/users.py": "class Customer:\n    def greeting(self):\n        return 'hello'\n",
    "tests/test_pricing.py": (
        "from shop.pricing import apply_discount\n\n\ndef test_discount():\n"
        "    assert apply_discount(100) == 90\n"
    ),
    "web/app.ts": "export class CartView { render(): string { return '' } }\n",
    "README.md": "A shop.\n",
}


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return make_git_repo(tmp_path / "shop", FILES)


def test_identifiers_split_on_case_and_underscores() -> None:
    assert split_identifier("parseHTTPResponse_v2") == ["parse", "http", "response", "v", "2"]
    tokens = tokenize("ShoppingCart.total_price discounts")
    assert "shoppingcart" in tokens and "shop" in tokens and "cart" in tokens
    assert "discount" in tokens  # stemmed


def test_python_is_parsed_fully_and_other_languages_get_skeletons() -> None:
    summary = parse("shop/cart.py", FILES["shop/cart.py"].encode())
    assert summary is not None
    assert [d.qualname for d in summary.definitions] == ["ShoppingCart", "ShoppingCart.total_price"]
    assert summary.definitions[1].kind == "method"
    assert summary.imports == ["shop.pricing"]
    assert "apply_discount" in summary.calls
    assert summary.doc == "The shopping cart."
    for path, source, name in [
        ("a.ts", b"export class CartView { render(): string { return '' } }", "CartView.render"),
        ("a.go", b"package m\nfunc (c Cart) Total() int { return 0 }", "Total"),
        ("A.java", b"class Cart { int total() { return 0; } }", "Cart.total"),
        ("a.rs", b"struct Cart; impl Cart { fn total(&self) -> i32 { 0 } }", "Cart.total"),
    ]:
        skeleton = parse(path, source)
        assert skeleton is not None and name in [d.qualname for d in skeleton.definitions], path
    assert parse("notes.txt", b"hello") is None


def test_moving_to_another_commit_reparses_only_changed_files(shop: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    embedder = HashingEmbedder()
    first = build_index(shop, None, cache_dir=cache, embedder=embedder)
    assert "shop/cart.py" in first.paths and "web/app.ts" in first.paths and "README.md" not in first.paths
    assert first.timings["new_files"] == len(first.paths)
    embedded_once = embedder.calls

    (shop / "shop/shipping.py").write_text("def shipping_cost(weight_kg):\n    return 7\n")
    (shop / "shop/blob.py").write_bytes(b"\xff\xfe\x00binary")
    git(shop, "add", "-A")
    git(shop, "commit", "-qm", "change shipping")
    second = build_index(shop, None, cache_dir=cache, embedder=embedder)
    assert second.commit != first.commit
    assert second.timings["new_files"] == 2  # the changed file and the binary one; nothing else re-parsed
    assert "shop/blob.py" in second.skipped and "shop/blob.py" not in second.paths
    # the changed file kept its definitions, so its vector is reused: only the warm-up query of every build
    assert embedder.calls == embedded_once + 1
    (shop / "shop/shipping.py").write_text(
        "def shipping_cost(weight_kg):\n    return 7\n\n\ndef rate():\n    pass\n"
    )
    git(shop, "commit", "-qam", "add a rate")
    build_index(shop, None, cache_dir=cache, embedder=embedder)
    assert embedder.calls == embedded_once + 3  # a new definition: the file is embedded again

    old = build_index(shop, first.commit, cache_dir=cache, embedder=embedder)
    assert old.timings["new_files"] == 0 and old.paths == first.paths


def test_traceback_and_identifiers_point_at_the_right_file(shop: Path, tmp_path: Path) -> None:
    index = build_index(shop, None, cache_dir=tmp_path / "c", embedder=HashingEmbedder())
    issue = (
        "Discount is wrong\n\nTraceback (most recent call last):\n"
        '  File "/site-packages/shop/cart.py", line 7, in total_price\n'
        '  File "/site-packages/shop/pricing.py", line 6, in apply_discount\nZeroDivisionError\n'
    )
    ranking = rank(index, issue, RankConfig(), HashingEmbedder())
    assert set(ranking.paths[:2]) == {"shop/pricing.py", "shop/cart.py"}
    assert {"frame", "bm25"} <= set(ranking.signals)
    # The test file mentions the same names but is not where a fix goes.
    assert ranking.paths.index("tests/test_pricing.py") > ranking.paths.index("shop/pricing.py")


def test_turning_a_signal_off_removes_it(shop: Path, tmp_path: Path) -> None:
    index = build_index(shop, None, cache_dir=tmp_path / "c", embedder=None)
    ranking = rank(index, "`Customer.greeting` says hello", RankConfig().without("bm25"), None)
    assert "bm25" not in ranking.signals and "dense" not in ranking.signals
    assert ranking.paths[0] == "shop/users.py"


def test_bad_input_gets_a_clear_error(shop: Path, tmp_path: Path) -> None:
    localiser = IndexLocaliser(tmp_path / "c", embedder=None)
    with pytest.raises(LocaliseError, match="revision 'nope' does not exist"):
        localiser.localise(shop, "anything", "nope")
    with pytest.raises(LocaliseError, match="not a git repository"):
        localiser.localise(tmp_path, "anything")
    with pytest.raises(LocaliseError, match="issue is empty"):
        localiser.localise(shop, "  \n")


def test_localisation_without_calibration_says_so(shop: Path, tmp_path: Path) -> None:
    result = IndexLocaliser(tmp_path / "c", embedder=None).localise(shop, "shipping cost for heavy parcels")
    assert result.files[0].path == "shop/shipping.py"
    assert result.set is None and "no calibration" in result.note and "dense similarity is off" in result.note


def test_personalized_pagerank_matches_networkx(shop: Path, tmp_path: Path) -> None:
    import networkx as nx

    from repomind.pipeline.localise.graph import personalized_pagerank

    index = build_index(shop, None, cache_dir=tmp_path / "c", embedder=None)
    graph = index.graph
    cart, pricing = index.position["shop/cart.py"], index.position["shop/pricing.py"]
    assert graph.graph.has_edge(cart, pricing)  # cart imports pricing and calls apply_discount
    seeds = {cart: 2.0, index.position["shop/users.py"]: 1.0}
    ours = personalized_pagerank(graph, seeds)
    expected = nx.pagerank(graph.graph, personalization=seeds, weight="weight", tol=1e-9, max_iter=1000)
    for node, value in expected.items():
        assert abs(ours.get(node, 0.0) - value) < 1e-4
    assert personalized_pagerank(graph, {}) == {}


def test_a_calibration_scored_with_another_embedder_is_refused(shop: Path, tmp_path: Path) -> None:
    def made_with(embedder: str | None) -> Calibration:
        meta = {"reranker": "none"} | ({"embedder": embedder} if embedder else {})
        return Calibration([0.0] * 10 + [0.5] * 10, ["x"] * 20, meta=meta)

    with pytest.raises(LocaliseError, match=r"embedding model 'all-MiniLM-L6-v2-128' .* uses 'none'"):
        IndexLocaliser(tmp_path / "c", embedder=None, calibration=made_with("all-MiniLM-L6-v2-128"))
    hashing = HashingEmbedder()
    with pytest.raises(LocaliseError, match="calibrate again with the same REPOMIND_EMBEDDING_MODEL"):
        IndexLocaliser(tmp_path / "c", embedder=hashing, calibration=made_with("none"))
    # The same embedder, or a file from before calibrations recorded it, is accepted and says its data.
    result = IndexLocaliser(tmp_path / "c", embedder=None, calibration=made_with("none")).localise(
        shop, "shipping cost for heavy parcels"
    )
    assert result.set and "Calibration data: 20 issues." in result.note
    assert IndexLocaliser(tmp_path / "c", embedder=hashing, calibration=made_with(None)).calibration


def test_the_packaged_calibration_is_offered_only_where_its_scores_compare(tmp_path: Path) -> None:
    assert builtin_calibration(None, None) is None  # fitted with dense similarity on
    hashing = HashingEmbedder()
    hashing.name = "all-MiniLM-L6-v2-128"  # what the packaged model is called
    chosen = builtin_calibration(hashing, None)
    assert chosen is not None and chosen.alphas == Calibration.builtin().alphas
    # Other fusion weights score otherwise, so the packaged calibration is not theirs.
    assert builtin_calibration(hashing, None, {**DEFAULT_WEIGHTS, "path": 1.0}) is None
    assert builtin_calibration(hashing, None, {**DEFAULT_WEIGHTS, "rerank": 1.0}) is not None


def test_fusion_keeps_how_far_ahead_the_best_file_is() -> None:
    index: Any = SimpleNamespace(paths=["a.py", "b.py", "c.py", "tests/test_a.py"])
    config = RankConfig(weights={"bm25": 1.0, "dense": 1.0})
    # The same order in both signals; only the margin of the best file differs.
    close = {"bm25": {0: 10.0, 1: 9.5, 2: 9.0}, "dense": {0: 1.9, 1: 1.85, 2: 1.8}}
    far = {"bm25": {0: 10.0, 1: 2.0, 2: 1.0}, "dense": {0: 1.9, 1: 1.2, 2: 1.1}}
    order_close, scores_close, used = fuse(index, close, config)
    order_far, scores_far, _ = fuse(index, far, config)
    assert order_close == order_far == [0, 1, 2] and used == ["bm25", "dense"]
    assert scores_far[1] / scores_far[0] < 0.6 < 0.9 < scores_close[1] / scores_close[0]
    # Ranks alone (no score share) cannot tell the two apart.
    ranks_only = RankConfig(weights={"bm25": 1.0, "dense": 1.0}, score_power=0.0)
    assert fuse(index, close, ranks_only)[1] == fuse(index, far, ranks_only)[1]
    # A test file is ranked down after fusion.
    with_test = {"bm25": {3: 10.0, 0: 9.9}}
    assert fuse(index, with_test, config)[0] == [0, 3]
