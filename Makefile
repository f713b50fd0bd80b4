# weft's two entry points (README): `make bench` and `make test`.
# Each installs missing Debian packages first (scripts/deps.sh).
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all test test-epoll test-asan test-tsan test-ucontext test-shuffle test-all stress bench bench-quick build deps deps-bench clean install

all: build

deps:
	@scripts/deps.sh test

deps-bench:
	@scripts/deps.sh bench

build: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null
	cmake --build build -j$(JOBS)

# The test suite, optimized with debug info, assertions and the misuse
# checks (runtime/misuse.h) on.
test: deps
	cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g" -DWEFT_DEBUG_CHECKS=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build build-test -j$(JOBS)
	cd build-test && ctest --output-on-failure -j$(JOBS)

# The whole suite again with every loop on the epoll backend (the io tests
# already run on both; this covers the runtime parking through epoll too),
# and without membarrier(2) (the registry's and the futures' lock's
# fallbacks): an old or sandboxed kernel.
test-epoll: test
	cd build-test && WEFT_IO_BACKEND=epoll WEFT_MEMBARRIER=0 ctest --output-on-failure -j$(JOBS)

# The same suite under ASan+UBSan and under TSan (stress sizes / 10).
test-asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_SANITIZE=address -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" $(CMAKE_FLAGS) >/dev/null
	cmake --build build-asan -j$(JOBS)
	cd build-asan && WEFT_TEST_SCALE=10 ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j$(JOBS)

test-tsan: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_SANITIZE=thread -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" $(CMAKE_FLAGS) >/dev/null
	cmake --build build-tsan -j$(JOBS)
	cd build-tsan && WEFT_TEST_SCALE=10 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest --output-on-failure -j$(JOBS)

# The semantics races at full size under TSan (the suite runs them smaller).
stress: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_SANITIZE=thread -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" $(CMAKE_FLAGS) >/dev/null
	cmake --build build-tsan -j$(JOBS)
	cd build-tsan && WEFT_STRESS_ITERS=10000 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest --output-on-failure -L stress

# The portable ucontext fiber backend, same suite.
test-ucontext: deps
	cmake -S . -B build-ucontext -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_FIBER_BACKEND=ucontext -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g" $(CMAKE_FLAGS) >/dev/null
	cmake --build build-ucontext -j$(JOBS)
	cd build-ucontext && WEFT_TEST_SCALE=10 ctest --output-on-failure -j$(JOBS)

# The suite with the order the scheduler does not promise shuffled (random
# steal victims, LIFO slot skipped at random: runtime/worker.c) and 4-slot
# run queues, so that spills and steals happen everywhere. The seed is
# printed; WEFT_SHUFFLE_SEED=n replays one.
test-shuffle: deps
	cmake -S . -B build-shuffle -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_SHUFFLE=ON -DWEFT_RUNQ_CAP=4 -DWEFT_DEBUG_CHECKS=ON -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g" $(CMAKE_FLAGS) >/dev/null
	cmake --build build-shuffle -j$(JOBS)
	seed=$${WEFT_SHUFFLE_SEED:-$$(date +%s)}; echo "shuffle seed: $$seed"; \
	  cd build-shuffle && WEFT_SHUFFLE_SEED=$$seed WEFT_TEST_SCALE=10 ctest --output-on-failure -j$(JOBS)

test-all: test test-asan test-tsan test-ucontext test-shuffle

# The benchmark report (benchmarks/README.md): every workload against the
# peers, with progress, a summary table and benchmarks/report/ (charts);
# on a machine of 8 CPUs or more, scaling over 1, 2, 4, ... workers too
# (benchmarks/scale.sh, into benchmarks/report/scale/: ~6 min on 16).
bench: deps-bench build
	benchmarks/report.py
	@if [ $$(nproc) -ge 8 ]; then benchmarks/scale.sh --out benchmarks/report/scale; \
	  else echo "make bench: $$(nproc) CPUs: scaling over workers (benchmarks/scale.sh) needs 8 or more; skipped"; fi

# The same in about a minute: everything builds and runs.
bench-quick: deps-bench build
	benchmarks/report.py --quick

# make install [PREFIX=/opt/weft]: headers, libweft.so/.a, weft.pc, the CMake package.
install: build
	cmake --install build $(if $(PREFIX),--prefix $(PREFIX))

clean:
	rm -rf build build-test build-asan build-tsan build-ucontext
