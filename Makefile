# The commands a newcomer needs. `make demo` runs the main job offline; `make test` runs every
# check CI runs (`.ci/run` installs the Debian peers first, then calls `make test`).

CARGO ?= cargo
# nextest when installed (parallel, per-test timing), else cargo's own runner.
TEST_RUNNER := $(if $(shell command -v cargo-nextest),nextest run,test)

.PHONY: demo test lint man bench bench-repo bench-verify bench-build bench-scan bench-vm bench-upstream fuzz

demo:
	bash scripts/demo.sh

test: lint
	$(CARGO) build --workspace --bins --quiet
	$(CARGO) $(TEST_RUNNER) --workspace --no-fail-fast

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --quiet -- -D warnings

man:
	$(CARGO) xtask man

# Every fuzz target (fuzz/fuzz_targets) for FUZZ_SECONDS each (default 60), on nightly with
# cargo-fuzz; seeds are made from ../shared/realdata. A crash leaves its input in fuzz/artifacts/.
FUZZ_SECONDS ?= 60
fuzz:
	bash fuzz/run.sh $(FUZZ_SECONDS)

# mc-index against curl|bsdtar, a zstd+tar floor and pacman -F, on a generated mirror (~1 min),
# then the __pycache__ query against pacman -Fx at the size of Arch's extra (a few minutes more;
# EXTRA_PACKAGES=14000 EXTRA_PATHS=4600000 are the defaults, EXTRA_PACKAGES=0 skips it).
bench:
	bash benches/index.sh

# mc-repo add against repo-add: a new 2000-package repository, then one package more (~2 min).
bench-repo:
	bash benches/repo.sh

# mc-verify hashing and downloading one 1 GiB source, against sha256sum and curl (~2 min).
bench-verify:
	bash benches/verify.sh

# mc-build --jobs 1 and 2 against a plain sequential makepkg loop, 20 small packages (~1 min).
bench-build:
	bash benches/build.sh

# mc-scan against bsdtar -x + yara -r + clamscan -r on 2000 generated packages, and its MB/s (~2 min).
bench-scan:
	bash benches/scan.sh

# mc-vm up to a guest agent under TCG, against a bare qemu-system-x86_64 start of the same
# guest; a live snapshot and a try for scale (~3 min).
bench-vm:
	bash benches/vm.sh

# mc-fetch upstream against nvchecker, 600 and 5000 entries on a loopback upstream with 50 ms
# per request: wall time, peak RSS, and requests on a cached second run (~10 min).
bench-upstream:
	bash benches/upstream.sh
