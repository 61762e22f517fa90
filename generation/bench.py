"""Masking throughput beside plain Presidio, on the same texts and the same spaCy pipeline (`make bench`).

* plain Presidio: `AnalyzerEngine` with its default recognizers (its programmatic defaults) on the
  same loaded spaCy pipeline. Its e-mail recognizer would download the public suffix list; here it
  gets tldextract's offline snapshot instead, so the run measures analysis, not the network.
* ours, per text: `Masker.mask(text)` one call per text (analysis and placeholder replacement).
* ours, batched: `Masker.mask_each(texts)`, which parses through `nlp.pipe` (what `mask_pii` does).

Each is warmed up once, then timed over all dev texts (pii.jsonl and manipulation.jsonl), best of
`--repeat` runs.

    python -m generation.bench [--data ../shared/eval/dev] [--repeat 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from generation.evaluate import DEFAULT_DATA, read_jsonl
from generation.masking import get_masker


def plain_presidio(nlp):
    import tldextract
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers.generic import email_recognizer

    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    email_recognizer.tldextract = type("OfflineTldextract", (), {"extract": staticmethod(offline)})

    class SharedDefaultEngine(SpacyNlpEngine):
        def __init__(self):
            super().__init__(
                models=[{"lang_code": "en", "model_name": "shared"}],
                ner_model_configuration=NerModelConfiguration(),  # Presidio's default mapping
            )
            self.nlp = {"en": nlp}

        def load(self):
            pass

    return AnalyzerEngine(nlp_engine=SharedDefaultEngine(), supported_languages=["en"])


def timed(label: str, run, texts: list[str], repeat: int) -> float:
    run(texts[:20])  # warm-up: lazy loading, caches
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run(texts)
        best = min(best, time.perf_counter() - started)
    rate = len(texts) / best
    print(f"{label:<44}{best:>9.2f} s{rate:>12.1f} texts/s")
    return rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    if not (args.data / "pii.jsonl").exists():
        print(f"No dev data at {args.data}: nothing to benchmark.", file=sys.stderr)
        return 2
    texts = [
        row["text"] for name in ("pii.jsonl", "manipulation.jsonl") for row in read_jsonl(args.data / name)
    ]
    masker = get_masker()
    presidio = plain_presidio(masker.nlp)
    print(f"Masking throughput on {len(texts)} dev texts, spaCy pipeline {masker.nlp.meta.get('name')!r}")
    print(f"{'':<44}{'time':>11}{'rate':>18}")
    plain = timed(
        "plain Presidio (defaults), per text",
        lambda ts: [presidio.analyze(t, language="en") for t in ts],
        texts,
        args.repeat,
    )
    ours = timed("ours: mask(text), per text", lambda ts: [masker.mask(t) for t in ts], texts, args.repeat)
    batched = timed("ours: mask_each(texts), nlp.pipe batches", masker.mask_each, texts, args.repeat)
    print(f"\nours per text / plain Presidio: {ours / plain:.2f}x; batched: {batched / plain:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
