"""The project's own tokenizer: a SentencePiece Unigram model trained on the corpus.

The vocabulary is learned by the ``sentencepiece`` library (Kudo's Unigram algorithm; single
threaded, seeded, so the same corpus gives the same vocabulary in every process) and loaded
into a Hugging Face ``tokenizers`` Unigram model, so that it is a fast tokenizer with character
offsets, which the attribute tagger needs to map spans to tokens. Text is normalised (NFKC,
lower case) and split before the Unigram model: Chinese characters one per token, as in
Chinese BERT and RoBERTa (an attribute span never starts inside a token), digits one per
token, punctuation apart; English words are split into Unigram pieces.
"""

from __future__ import annotations

import io
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import sentencepiece as spm
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _pipeline(tokenizer: Tokenizer) -> Tokenizer:
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.NFKC(),
            normalizers.BertNormalizer(
                clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=True
            ),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Punctuation(),
            pre_tokenizers.Digits(individual_digits=True),
        ]
    )
    return tokenizer


def _learn_pieces(words: Counter[str], vocab_size: int, seed: int) -> list[tuple[str, float]]:
    """Unigram pieces and log-probabilities learned by sentencepiece from word counts."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "words.tsv"
        # Sorted, so that the input (and the vocabulary) does not depend on hash order.
        # Words never hold a tab: the normaliser turns control characters into spaces.
        path.write_text("".join(f"{w}\t{n}\n" for w, n in sorted(words.items())), "utf-8")
        spm.set_random_generator_seed(seed)
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            input=str(path),
            input_format="tsv",
            model_writer=model,
            model_type="unigram",
            vocab_size=vocab_size,
            hard_vocab_limit=False,
            character_coverage=1.0,
            add_dummy_prefix=False,
            split_digits=True,
            num_threads=1,
            unk_id=0,
            bos_id=-1,
            eos_id=-1,
            minloglevel=2,
        )
    processor = spm.SentencePieceProcessor(model_proto=model.getvalue())
    return [
        (processor.id_to_piece(i), processor.get_score(i))
        for i in range(processor.get_piece_size())
        if not processor.is_unknown(i)
    ]


def train_tokenizer(texts: Iterable[str], vocab_size: int = 8000, seed: int = 0) -> PreTrainedTokenizerFast:
    """Train a Unigram tokenizer on ``texts`` and wrap it for transformers."""
    splitter = _pipeline(Tokenizer(models.Unigram()))
    assert splitter.normalizer is not None and splitter.pre_tokenizer is not None
    words: Counter[str] = Counter()
    for text in texts:
        words.update(
            w for w, _ in splitter.pre_tokenizer.pre_tokenize_str(splitter.normalizer.normalize_str(text))
        )
    # Every character seen is kept (character_coverage 1.0), so the vocabulary holds at least them.
    characters = {c for w in words for c in w}
    pieces = _learn_pieces(words, max(len(characters) + 2, vocab_size - len(SPECIAL_TOKENS)), seed)
    lowest = min((score for _, score in pieces), default=0.0)
    # A character never seen in training becomes [UNK] (its score: below every learned piece).
    vocab = [(token, lowest - 10.0) for token in SPECIAL_TOKENS] + pieces
    tokenizer = _pipeline(
        Tokenizer(models.Unigram(vocab, unk_id=SPECIAL_TOKENS.index("[UNK]"), byte_fallback=False))
    )
    tokenizer.add_special_tokens(SPECIAL_TOKENS)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )
