# chainline — the two commands a fresh machine needs: `make demo` and `make test`.
# Builds go to $CARGO_TARGET_DIR when set (CI keeps it under ~/.cache between runs),
# else to ./target.

CARGO ?= cargo
CASE ?= triangulation
OUT ?= out/$(CASE)

.PHONY: demo test build release bench samples fmt lint clean-out fuzz

build:
	$(CARGO) build

## Build, analyze a bundled sample case, print where the report is.
demo: build
	$(CARGO) run --quiet -- analyze sample_cases/$(CASE) -o $(OUT)
	@echo
	@echo "Report: $(abspath $(OUT))/report.html"
	@echo "Also:   $(abspath $(OUT))/timeline.parquet findings.json run.json"

## All tests: unit, integration, conformance (skips without ../shared), browser (skips without chromium unless CI is set).
test:
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

release:
	$(CARGO) build --release

## Fuzz every parser of evidence bytes for FUZZ_SECONDS each (see docs/FUZZING.md).
## Needs the nightly toolchain and `cargo install cargo-fuzz`; not part of `make test`.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= shutdown_log crash_report typedstream mbfile plist_sources stix2 mvt_timeline_csv sysdiagnose_logs app_privacy_report unifiedlog_ndjson inspect
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "== $$t ($(FUZZ_SECONDS) s)"; \
		env -u CARGO_TARGET_DIR cargo +nightly fuzz run $$t --sanitizer none -- \
			-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -timeout=10 || exit 1; \
	done

## Regenerate the committed sample cases from the seeded generator.
samples:
	$(CARGO) run --quiet -p chainline-sample -- all --force -o sample_cases

## Speed and memory (see docs/BENCHMARKS.md).
bench: release
	$(CARGO) build --release -p chainline-sample
	bash scripts/bench.sh

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean-out:
	rm -rf out
