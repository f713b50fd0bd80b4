// test_cxx_header.cpp - the public headers compile as C++ and link (extern "C").
#include <weft.h>

#include <cstdio>

static int body(void *arg, void **result) {
  *result = arg;
  return 0;
}

int main() {
  void *r = nullptr;
  struct weft_loop_config cfg;
  weft_loop_config_init(&cfg);
  cfg.workers = 1;
  int rc = weft_run_config(&cfg, body, reinterpret_cast<void *>(42), &r);
  std::printf("cxx rc=%d result=%ld\n", rc, reinterpret_cast<long>(r));
  return rc == 0 && reinterpret_cast<long>(r) == 42 ? 0 : 1;
}
